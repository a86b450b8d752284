package compiler

import (
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Resolving a build's configuration from what its user asked for: a
// preset (or the dataset's defaults), then a YAML file, then flags. It
// lives next to the skeletons because most of what it sets are their
// parameters, and because which of those the user set decides two
// things at build time (params.go): a parameter the user did not set
// takes the skeleton's own default when no preset was named, and one the
// user set that the skeleton does not declare is refused, not ignored.

// Request is what a build's user asked for, applied in this order.
type Request struct {
	Preset     string // cifar, mobile or large; "" = the dataset's defaults
	ConfigFile string // YAML of Config fields; "" = none
	Flags      Flags  // the flags given on the command line
}

// Flags are the network flags a command line gave; nil is not given.
type Flags struct {
	Network                          *string
	N, Layers, Filters, BaseFilters  *int
	Dataset                          *string
	ImageSize, Channels, Classes     *int
	StemMultiplier                   *float64
	AuxHead, SkipReductionLayerInput *bool
	DropPathKeepProb                 *float64
	DenseDropoutKeepProb             *float64
	Mode                             *string // train or infer
}

// Given is one configuration key the user set, and where: "--n" or
// "cfg.yaml:3:1".
type Given struct {
	Key, At string
}

// FlagError is a mistake in a flag's value (the CLI's usage error), as
// opposed to one in a file.
type FlagError struct{ Msg string }

func (e *FlagError) Error() string { return e.Msg }

func flagErrorf(format string, args ...any) error {
	return &FlagError{Msg: fmt.Sprintf(format, args...)}
}

// ResolveConfig applies the preset (or the dataset's defaults), the YAML
// and the flags, in that order, and validates the result. The keys the
// YAML and flags set are recorded in Config.Given; without a preset,
// Config.SkeletonDefaults lets the skeleton's defaults stand for the
// parameters none of them set.
func ResolveConfig(req Request) (Config, error) {
	fl := req.Flags
	var cfg Config
	var doc *yaml.Node
	yamlKeys := map[string]*yaml.Node{}
	if req.ConfigFile != "" {
		data, err := os.ReadFile(req.ConfigFile)
		if err != nil {
			return cfg, err
		}
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			return cfg, fmt.Errorf("%s: %v", req.ConfigFile, err)
		}
		if len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode {
			doc = n.Content[0]
			for i := 0; i+1 < len(doc.Content); i += 2 {
				yamlKeys[doc.Content[i].Value] = doc.Content[i]
			}
		}
	}
	if fl.Dataset != nil {
		d, err := normDataset(*fl.Dataset)
		if err != nil {
			return cfg, err
		}
		fl.Dataset = &d
	}
	if req.Preset != "" {
		p, err := Preset(req.Preset)
		if err != nil {
			return cfg, flagErrorf("--preset: %v", err)
		}
		cfg = p
	} else {
		// The dataset picks the defaults: the flag's, else the YAML's.
		dataset := ""
		if k := yamlKeys["dataset"]; k != nil {
			dataset = valueOf(doc, k)
		}
		if fl.Dataset != nil {
			dataset = *fl.Dataset
		}
		d, err := DatasetDefaults(dataset)
		if err != nil {
			if fl.Dataset != nil {
				return cfg, flagErrorf("--dataset: %v", err)
			}
			return cfg, fmt.Errorf("%s: %v", req.ConfigFile, err)
		}
		cfg = d
		cfg.SkeletonDefaults = true
	}
	var given []Given
	if req.ConfigFile != "" {
		c, err := LoadConfig(req.ConfigFile, cfg)
		if err != nil {
			return cfg, err
		}
		_, hasF := yamlKeys["filters"]
		_, hasB := yamlKeys["base_filters"]
		switch {
		case hasF && !hasB:
			c.BaseFilters = 0
		case hasB && !hasF:
			c.Filters = 0
		}
		if c.Dataset == "cifar" {
			c.Dataset = "cifar10"
		}
		cfg = c
		if doc != nil {
			for i := 0; i+1 < len(doc.Content); i += 2 {
				k := doc.Content[i]
				given = append(given, Given{Key: k.Value, At: fmt.Sprintf("%s:%d:%d", req.ConfigFile, k.Line, k.Column)})
			}
		}
	}
	// A flag sets its field; one named after a skeleton parameter (key) is
	// also recorded, so that a skeleton that does not take it refuses it.
	flag := func(name, key string) { given = append(given, Given{Key: key, At: "--" + name}) }
	if set(&cfg.N, fl.N) {
		flag("n", "n")
	}
	if set(&cfg.Layers, fl.Layers) {
		flag("layers", "layers")
	}
	if set(&cfg.Filters, fl.Filters) {
		cfg.BaseFilters = 0
		flag("filters", "filters")
	}
	if set(&cfg.BaseFilters, fl.BaseFilters) {
		cfg.Filters = 0
		flag("base-filters", "base_filters")
	}
	if set(&cfg.ImageSize, fl.ImageSize) {
		flag("image-size", "image_size")
	}
	if set(&cfg.Classes, fl.Classes) {
		flag("classes", "classes")
	}
	if set(&cfg.Channels, fl.Channels) {
		flag("channels", "channels")
	}
	if set(&cfg.StemMultiplier, fl.StemMultiplier) {
		flag("stem-multiplier", "stem_multiplier")
	}
	if set(&cfg.SkipReductionLayerInput, fl.SkipReductionLayerInput) {
		flag("skip-reduction-layer-input", "skip_reduction_layer_input")
	}
	if set(&cfg.DenseDropoutKeepProb, fl.DenseDropoutKeepProb) {
		flag("dense-dropout-keep-prob", "dense_dropout_keep_prob")
	}
	set(&cfg.Network, fl.Network)
	set(&cfg.Dataset, fl.Dataset)
	set(&cfg.AuxHead, fl.AuxHead)
	set(&cfg.DropPathKeepProb, fl.DropPathKeepProb)
	if fl.Mode != nil {
		switch *fl.Mode {
		case "train", "training":
			cfg.Training = true
		case "infer", "inference":
			cfg.Training = false
		default:
			return cfg, flagErrorf("--mode %q: want train or infer", *fl.Mode)
		}
	}
	cfg.Given = given
	if err := cfg.Validate(); err != nil {
		if req.ConfigFile != "" {
			return cfg, fmt.Errorf("%s: %v", req.ConfigFile, err)
		}
		return cfg, flagErrorf("%v", err)
	}
	return cfg, nil
}

// set copies a given flag's value (v not nil) into dst and reports
// whether it did.
func set[T any](dst, v *T) bool {
	if v == nil {
		return false
	}
	*dst = *v
	return true
}

// valueOf is the scalar value after key k in mapping m.
func valueOf(m, k *yaml.Node) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == k {
			return m.Content[i+1].Value
		}
	}
	return ""
}

func normDataset(d string) (string, error) {
	switch d {
	case "cifar10", "cifar":
		return "cifar10", nil
	case "imagenet":
		return "imagenet", nil
	}
	return "", flagErrorf("--dataset %q: want cifar10 or imagenet", d)
}

// IsFlagError reports whether err is a mistake in a flag's value.
func IsFlagError(err error) bool {
	var fe *FlagError
	return errors.As(err, &fe)
}
