package compiler

import (
	"fmt"
	"slices"
	"strings"

	"cellc/lang"
)

// Binding a skeleton's parameters for one build: the skeleton's defaults,
// the values the build's Config sets, the keys the user gave that the
// skeleton does not take (refused), and the config that results.

// bindParams evaluates a skeleton's parameters for one build: the
// defaults, then the values cfg sets (configParams), with base_filters
// derived from cfg.Filters through the layout when that is given. With
// cfg.SkeletonDefaults, parameters the user did not give (cfg.Given) keep
// the skeleton's defaults.
func bindParams(sk *Skeleton, net *Network, cfg Config) (map[string]float64, *layout, error) {
	env := map[string]float64{}
	for name, p := range sk.Params {
		v, err := evalExpr(p.Default, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("skeleton %s: %s", sk.Name, err.msg)
		}
		env[name] = v
	}
	given := map[string]bool{}
	for _, g := range cfg.Given {
		given[paramKeys[g.Key]] = true
	}
	b2f := map[bool]float64{false: 0, true: 1}
	set := map[string]float64{
		"n": float64(cfg.N), "layers": float64(cfg.Layers), "base_filters": float64(cfg.BaseFilters), "stem_multiplier": cfg.StemMultiplier,
		"image_size": float64(cfg.ImageSize), "channels": float64(cfg.Channels), "classes": float64(cfg.Classes),
		"dense_dropout_keep_prob": cfg.DenseDropoutKeepProb, "skip_reduction_layer_input": b2f[cfg.SkipReductionLayerInput],
	}
	for _, name := range configParams {
		_, declared := env[name]
		switch {
		case !declared:
		case name == "layers" && cfg.Layers == 0: // the skeleton's own count
		case cfg.SkeletonDefaults && !given[name] && !datasetParams[name]:
		default:
			env[name] = set[name]
		}
	}
	lay, lerr := evalLayout(sk, env)
	if lerr != nil {
		return nil, nil, fmt.Errorf("skeleton %s under this config: %s", sk.Name, lerr.msg)
	}
	if cfg.Filters != 0 {
		base, ferr := baseFilters(net, cfg, lay)
		if ferr != nil {
			return nil, nil, ferr
		}
		env["base_filters"] = float64(base)
	}
	return env, lay, nil
}

// paramKeys maps the config keys that set a skeleton parameter to it.
var paramKeys = map[string]string{
	"n": "n", "layers": "layers", "filters": "base_filters", "base_filters": "base_filters", "stem_multiplier": "stem_multiplier",
	"image_size": "image_size", "channels": "channels", "classes": "classes",
	"dense_dropout_keep_prob": "dense_dropout_keep_prob", "skip_reduction_layer_input": "skip_reduction_layer_input",
}

// datasetParams describe the data rather than the network: they come
// from the dataset's defaults even where the skeleton's defaults stand.
var datasetParams = map[string]bool{"image_size": true, "channels": true, "classes": true}

// undeclared reports each key the user gave (cfg.Given) whose parameter
// the skeleton does not declare: the build would otherwise ignore it.
func undeclared(sk *Skeleton, cfg Config) []*filterError {
	var errs []*filterError
	for _, g := range cfg.Given {
		name, ok := paramKeys[g.Key]
		if !ok || sk.Params[name] != nil {
			continue
		}
		what := g.At // a flag names itself; a YAML key is at its position
		spell := func(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }
		if !strings.HasPrefix(g.At, "--") {
			what = g.At + ": " + g.Key
			spell = func(key string) string { return key + ":" }
		}
		def := func(p string) string { return lang.FormatExpr(sk.Params[p].Default) }
		var e *filterError
		switch {
		case name == "n" && sk.Params["layers"] != nil:
			e = &filterError{
				msg:  fmt.Sprintf("%s: skeleton %s counts layers (layers = %s), not cells per stage", what, sk.Name, def("layers")),
				hint: fmt.Sprintf("set its depth with %s", spell("layers")),
			}
		case name == "layers" && sk.Params["n"] != nil:
			e = &filterError{
				msg:  fmt.Sprintf("%s: skeleton %s counts cells per stage (n = %s), not layers", what, sk.Name, def("n")),
				hint: fmt.Sprintf("set its depth with %s (3N cells in all)", spell("n")),
			}
		default:
			names := make([]string, 0, len(sk.Params))
			for k := range sk.Params {
				names = append(names, k)
			}
			slices.Sort(names)
			e = &filterError{
				msg:  fmt.Sprintf("%s: skeleton %s has no parameter %s, so the build would ignore it", what, sk.Name, name),
				hint: fmt.Sprintf("remove it; the skeleton's parameters are %s", andList(names)),
			}
		}
		errs = append(errs, e)
	}
	return errs
}

// resolved is the build's config with the skeleton's parameters as the
// build bound them, so that it rebuilds the same network by itself (a
// checkpoint stores it) and says what was built (the summary header):
// the skeleton defaults that stood are written in, and Given and
// SkeletonDefaults, spent, are cleared.
func (b *builder) resolved() Config {
	cfg := b.cfg
	num := func(name string, dst *int) {
		if v, ok := b.env[name]; ok {
			*dst = int(v)
		}
	}
	num("n", &cfg.N)
	cfg.Layers = 0 // nonzero only for a skeleton that counts layers
	num("layers", &cfg.Layers)
	num("image_size", &cfg.ImageSize)
	num("channels", &cfg.Channels)
	num("classes", &cfg.Classes)
	if cfg.Filters == 0 {
		cfg.BaseFilters = b.base
	}
	if v, ok := b.env["stem_multiplier"]; ok {
		cfg.StemMultiplier = v
	}
	if v, ok := b.env["dense_dropout_keep_prob"]; ok {
		cfg.DenseDropoutKeepProb = v
	}
	if v, ok := b.env["skip_reduction_layer_input"]; ok {
		cfg.SkipReductionLayerInput = v != 0
	}
	cfg.Given, cfg.SkeletonDefaults = nil, false
	return cfg
}
