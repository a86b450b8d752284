package compiler

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"cellc/internal/strictyaml"
)

// Config is every field of TF-slim's NASNet hparams (nasnet.py) that shapes
// the network, plus what cellc adds (which network in the file, the image
// size, the mode). A YAML file (`--config`) and flags set it; presets fill
// all of it at once. TF-slim's total_training_steps and weight_decay are
// training settings (the recipe's epochs and weight_decay) and its
// data_format a memory layout cellc chooses itself, so a config file that
// sets them is refused (see retiredKey) rather than read and ignored.
type Config struct {
	Network string `yaml:"network,omitempty"` // which network in the file; "" = the only one

	N int `yaml:"n"` // cells per stage (TF-slim num_cells = 3N)
	// Layers is the body's cell count for skeletons that count layers
	// (DARTS' `layers`) rather than cells per stage; 0 = the skeleton's
	// default.
	Layers      int `yaml:"layers,omitempty"`
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
	// UseBoundedActivation (TF-slim: ReLU6 and clipped adds) is not
	// implemented; only false, plain ReLU, is accepted.
	UseBoundedActivation bool    `yaml:"use_bounded_activation"`
	BatchNormDecay       float64 `yaml:"batch_norm_decay"`
	BatchNormEpsilon     float64 `yaml:"batch_norm_epsilon"`

	// Training builds the training graph: aux head, drop path, dropout.
	// The inference graph leaves them out.
	Training bool `yaml:"training"`

	// Given lists the keys the user set (YAML keys and flags, by their
	// YAML names), for the build to refuse one that names a skeleton
	// parameter the skeleton does not declare (--n for a skeleton that
	// counts layers) rather than ignore it. ResolveConfig fills it.
	Given []Given `yaml:"-"`
	// SkeletonDefaults: the skeleton's parameters that no key in Given
	// sets take the skeleton's defaults, not this config's values, which
	// are then the dataset's defaults rather than a preset the user named
	// (cellc build specs/darts_v2.cell builds DARTS' own C = 36). The
	// image size, channels and classes stay the dataset's.
	SkeletonDefaults bool `yaml:"-"`
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
			BatchNormDecay: 0.9, BatchNormEpsilon: 1e-5, Training: true,
		}, nil
	case "mobile":
		return Config{
			N: 4, BaseFilters: 44, Dataset: "imagenet", ImageSize: 224, Channels: 3, Classes: 1000,
			StemMultiplier: 1, FilterScalingRate: 2, NumReductionLayers: 2,
			AuxHead: true, DropPathKeepProb: 1.0, DenseDropoutKeepProb: 0.5,
			BatchNormDecay: 0.9997, BatchNormEpsilon: 1e-3, Training: true,
		}, nil
	case "large":
		return Config{
			N: 6, BaseFilters: 168, Dataset: "imagenet", ImageSize: 331, Channels: 3, Classes: 1000,
			StemMultiplier: 3, FilterScalingRate: 2, NumReductionLayers: 2, SkipReductionLayerInput: true,
			AuxHead: true, DropPathKeepProb: 0.7, DenseDropoutKeepProb: 0.5,
			BatchNormDecay: 0.9997, BatchNormEpsilon: 1e-3, Training: true,
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

// LoadConfig reads a YAML config over base. Unknown keys are errors
// (file:line, with the nearest key), so a misspelt field is not silently
// ignored; so are TF-slim's hparams that do not shape the network and an
// activation cellc does not build (retiredKey), at file:line:col.
func LoadConfig(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, err
	}
	if err := checkRetired(path, data); err != nil {
		return base, err
	}
	cfg := base
	if err := strictyaml.Decode(path, data, &cfg); err != nil {
		return base, err
	}
	return cfg, nil
}

// checkRetired reports every top-level key retiredKey refuses, and
// use_bounded_activation: true, each at its position.
func checkRetired(path string, data []byte) error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil // the decoder reports what is wrong with the file
	}
	var errs []string
	m := doc.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		k, v := m[i], m[i+1]
		if why, ok := retiredKey(k.Value); ok {
			errs = append(errs, fmt.Sprintf("%s:%d:%d: %s is not a network setting: %s", path, k.Line, k.Column, k.Value, why))
		}
		var on bool
		if k.Value == "use_bounded_activation" && v.Decode(&on) == nil && on {
			errs = append(errs, fmt.Sprintf("%s:%d:%d: use_bounded_activation: true is not implemented: cellc builds plain ReLU, not TF-slim's ReLU6 with clipped adds; remove it or set it to false", path, v.Line, v.Column))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// retiredKey says why a TF-slim hparam that does not shape the network is
// refused in a network config, and where its job is done instead.
func retiredKey(key string) (why string, ok bool) {
	switch key {
	case "total_training_steps":
		return "ScheduledDropPath follows training progress over the recipe's epochs (--epochs), not a step count; remove it", true
	case "weight_decay":
		return "it is a recipe field (--weight-decay, or weight_decay in --recipe-config); remove it here", true
	case "data_format":
		return "cellc chooses the memory layout (NCHW) and the network does not depend on it; remove it", true
	}
	return "", false
}

// Validate checks the fields the builder relies on.
func (c Config) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("--n must be at least 1, got %d", c.N)
	case c.N > 64:
		return fmt.Errorf("--n %d is out of range (at most 64 cells per stage)", c.N)
	case c.Layers < 0 || c.Layers > 1000:
		return fmt.Errorf("--layers %d is out of range (1 to 1000)", c.Layers)
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
	case c.UseBoundedActivation:
		return fmt.Errorf("use_bounded_activation is not implemented (cellc builds plain ReLU)")
	}
	return nil
}
