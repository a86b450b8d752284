package compiler

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Config is every field of TF-slim's NASNet hparams (nasnet.py) plus what
// cellc adds (which network in the file, the image size, the mode). A YAML
// file (`--config`) and flags set it; presets fill all of it at once.
type Config struct {
	Network string `yaml:"network,omitempty"` // which network in the file; "" = the only one

	N           int `yaml:"n"`            // cells per stage (TF-slim num_cells = 3N)
	Filters     int `yaml:"filters"`      // penultimate width, the paper's "N @ F"; 0 = from BaseFilters
	BaseFilters int `yaml:"base_filters"` // TF-slim num_conv_filters; 0 = derived from Filters

	Dataset   string `yaml:"dataset"` // cifar10 (CIFAR skeleton) or imagenet
	ImageSize int    `yaml:"image_size"`
	Channels  int    `yaml:"channels"` // input image channels
	Classes   int    `yaml:"classes"`

	StemMultiplier          float64 `yaml:"stem_multiplier"`
	FilterScalingRate       float64 `yaml:"filter_scaling_rate"`
	NumReductionLayers      int     `yaml:"num_reduction_layers"`
	SkipReductionLayerInput bool    `yaml:"skip_reduction_layer_input"`
	AuxHead                 bool    `yaml:"use_aux_head"`
	DropPathKeepProb        float64 `yaml:"drop_path_keep_prob"`
	DenseDropoutKeepProb    float64 `yaml:"dense_dropout_keep_prob"`
	TotalTrainingSteps      int     `yaml:"total_training_steps"`
	DataFormat              string  `yaml:"data_format"`
	UseBoundedActivation    bool    `yaml:"use_bounded_activation"`
	WeightDecay             float64 `yaml:"weight_decay"`
	BatchNormDecay          float64 `yaml:"batch_norm_decay"`
	BatchNormEpsilon        float64 `yaml:"batch_norm_epsilon"`

	// Training builds the training graph: aux head, drop path, dropout.
	// The inference graph leaves them out.
	Training bool `yaml:"training"`
}

// Preset returns one of TF-slim's three configs: "cifar"
// (cifar_config), "mobile" (mobile_imagenet_config) or "large"
// (large_imagenet_config).
func Preset(name string) (Config, error) {
	switch name {
	case "cifar":
		return Config{
			N: 6, BaseFilters: 32, Dataset: "cifar10", ImageSize: 32, Channels: 3, Classes: 10,
			StemMultiplier: 3, FilterScalingRate: 2, NumReductionLayers: 2,
			AuxHead: true, DropPathKeepProb: 0.6, DenseDropoutKeepProb: 1.0,
			TotalTrainingSteps: 937500, DataFormat: "NHWC",
			WeightDecay: 5e-4, BatchNormDecay: 0.9, BatchNormEpsilon: 1e-5, Training: true,
		}, nil
	case "mobile":
		return Config{
			N: 4, BaseFilters: 44, Dataset: "imagenet", ImageSize: 224, Channels: 3, Classes: 1000,
			StemMultiplier: 1, FilterScalingRate: 2, NumReductionLayers: 2,
			AuxHead: true, DropPathKeepProb: 1.0, DenseDropoutKeepProb: 0.5,
			TotalTrainingSteps: 250000, DataFormat: "NHWC",
			WeightDecay: 4e-5, BatchNormDecay: 0.9997, BatchNormEpsilon: 1e-3, Training: true,
		}, nil
	case "large":
		return Config{
			N: 6, BaseFilters: 168, Dataset: "imagenet", ImageSize: 331, Channels: 3, Classes: 1000,
			StemMultiplier: 3, FilterScalingRate: 2, NumReductionLayers: 2, SkipReductionLayerInput: true,
			AuxHead: true, DropPathKeepProb: 0.7, DenseDropoutKeepProb: 0.5,
			TotalTrainingSteps: 250000, DataFormat: "NHWC",
			WeightDecay: 5e-5, BatchNormDecay: 0.9997, BatchNormEpsilon: 1e-3, Training: true,
		}, nil
	}
	return Config{}, fmt.Errorf("unknown preset %q (want cifar, mobile or large)", name)
}

// DatasetDefaults is the preset a dataset implies when no preset is named:
// cifar10 → cifar, imagenet → mobile.
func DatasetDefaults(dataset string) (Config, error) {
	switch dataset {
	case "", "cifar10", "cifar":
		return Preset("cifar")
	case "imagenet":
		return Preset("mobile")
	}
	return Config{}, fmt.Errorf("unknown dataset %q (want cifar10 or imagenet)", dataset)
}

// LoadConfig reads a YAML config over base. Unknown keys are errors, so a
// misspelt field is not silently ignored.
func LoadConfig(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := base
	if err := dec.Decode(&cfg); err != nil && err.Error() != "EOF" {
		return base, fmt.Errorf("%s: %v", path, err)
	}
	return cfg, nil
}

// Validate checks the fields the builder relies on.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("--n must be at least 1, got %d", c.N)
	case c.N > 64:
		return fmt.Errorf("--n %d is out of range (at most 64 cells per stage)", c.N)
	case c.Filters < 0 || c.BaseFilters < 0:
		return fmt.Errorf("filter counts must be positive")
	case c.Filters == 0 && c.BaseFilters == 0:
		return fmt.Errorf("set --filters (the penultimate width) or base_filters")
	case c.Dataset != "cifar10" && c.Dataset != "imagenet":
		return fmt.Errorf("unknown dataset %q (want cifar10 or imagenet)", c.Dataset)
	case c.ImageSize < 8 || c.ImageSize > 4096:
		return fmt.Errorf("--image-size %d is out of range (8 to 4096)", c.ImageSize)
	case c.Channels < 1 || c.Channels > 64:
		return fmt.Errorf("channels %d is out of range (1 to 64)", c.Channels)
	case c.Classes < 1 || c.Classes > 1<<20:
		return fmt.Errorf("--classes %d is out of range", c.Classes)
	case c.StemMultiplier <= 0 || c.StemMultiplier > 64:
		return fmt.Errorf("--stem-multiplier %g is out of range (0, 64]", c.StemMultiplier)
	case c.FilterScalingRate != 2:
		return fmt.Errorf("filter_scaling_rate %g: only 2 is supported (filters double at each reduction)", c.FilterScalingRate)
	case c.NumReductionLayers != 2:
		return fmt.Errorf("num_reduction_layers %d: only 2 is supported", c.NumReductionLayers)
	case c.DropPathKeepProb <= 0 || c.DropPathKeepProb > 1:
		return fmt.Errorf("drop_path_keep_prob %g must be in (0, 1]", c.DropPathKeepProb)
	case c.DenseDropoutKeepProb <= 0 || c.DenseDropoutKeepProb > 1:
		return fmt.Errorf("dense_dropout_keep_prob %g must be in (0, 1]", c.DenseDropoutKeepProb)
	}
	return nil
}
