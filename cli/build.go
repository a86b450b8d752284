package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/lang"
	"cellc/stdlib"
)

// buildFlags are the flags of `cellc build`. The config flags are applied
// only when given (cmd.Flags().Changed), over the preset and the YAML.
type buildFlags struct {
	network, preset, config, dataset string
	n, filters, baseFilters          int
	imageSize, classes, channels     int
	stemMultiplier                   float64
	auxHead, skipReductionInput      bool
	dropPathKeep, denseDropoutKeep   float64
	mode, emit, out                  string
	dumpAfter                        []string
	timePasses                       bool
}

var emitFormats = []string{"summary", "ir", "plan", "json", "dot"}

func newBuildCmd() *cobra.Command {
	var fl buildFlags
	cmd := &cobra.Command{
		Use:   "build FILE",
		Short: "Compile a network and print a summary, its IR, plan or graph",
		Long: `Build compiles the network FILE declares (or the one --network names) into
its skeleton (see Skeletons below; TF-slim's NASNet skeletons by default),
runs the pass pipeline and prints the result.

The configuration starts from --preset (cifar, mobile or large: TF-slim's
cifar_config, mobile_imagenet_config, large_imagenet_config) or, without
one, from the defaults of --dataset (cifar10 → cifar, imagenet → mobile);
then --config's YAML is applied over it, then every flag given explicitly.
--filters (the penultimate width, the paper's "N @ F") and --base-filters
(TF-slim's num_conv_filters) are exclusive; either one replaces the other's
value from the preset or YAML.

Outputs (--emit): summary (per-stage table, parameter and mult-add totals,
activation memory), ir (the graph after the passes), plan (the execution
plan), json (the plan as JSON), dot (the IR graph for Graphviz).`,
		Example: `  cellc build specs/nasnet_a.cell --n 6 --filters 768
  cellc build specs/nasnet_a.cell --preset large --mode infer --emit plan -o large.plan
  cellc build specs/nasnet_a.cell --dump-after=fuse --time-passes --emit ir`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, &fl, args[0])
		},
	}
	addNetworkFlags(cmd, &fl)
	f := cmd.Flags()
	f.StringVar(&fl.emit, "emit", "summary", "what to print: "+strings.Join(emitFormats, ", "))
	f.StringVarP(&fl.out, "output", "o", "", "write the output to `file` (atomically) instead of stdout")
	f.StringSliceVar(&fl.dumpAfter, "dump-after", nil, "print the IR after these `passes` (of: "+compiler.PassNames()+")")
	f.BoolVar(&fl.timePasses, "time-passes", false, "print each phase's and pass's time to stderr")
	cmd.Long += skeletonHelp()
	return cmd
}

// addNetworkFlags adds the flags that choose and configure a network; build,
// train and bench share them.
func addNetworkFlags(cmd *cobra.Command, fl *buildFlags) {
	f := cmd.Flags()
	f.StringVar(&fl.network, "network", "", "the network to build, when FILE declares several")
	f.StringVar(&fl.preset, "preset", "", "start from a TF-slim config: cifar, mobile or large")
	f.StringVar(&fl.config, "config", "", "YAML `file` of config fields (yaml names of compiler.Config), applied over the preset")
	f.IntVar(&fl.n, "n", 0, "cells per stage N (TF-slim num_cells = 3N)")
	f.IntVar(&fl.filters, "filters", 0, "penultimate filter count F (the paper's N @ F); overrides base_filters from the preset or YAML")
	f.IntVar(&fl.baseFilters, "base-filters", 0, "TF-slim num_conv_filters; overrides filters from the YAML")
	f.StringVar(&fl.dataset, "dataset", "", "cifar10 or imagenet (also picks the defaults when no --preset is given)")
	f.IntVar(&fl.imageSize, "image-size", 0, "input image height and width")
	f.IntVar(&fl.channels, "channels", 0, "input image channels (3 RGB, 1 greyscale)")
	f.IntVar(&fl.classes, "classes", 0, "number of classes")
	f.Float64Var(&fl.stemMultiplier, "stem-multiplier", 0, "stem width multiplier")
	f.BoolVar(&fl.auxHead, "aux-head", true, "build the auxiliary head (training graphs only)")
	f.BoolVar(&fl.skipReductionInput, "skip-reduction-layer-input", false, "normal cells after a reduction skip the reduction's input (TF-slim)")
	f.Float64Var(&fl.dropPathKeep, "drop-path-keep-prob", 0, "ScheduledDropPath keep probability")
	f.Float64Var(&fl.denseDropoutKeep, "dense-dropout-keep-prob", 0, "dropout keep probability before the classifier")
	f.StringVar(&fl.mode, "mode", "train", "train (aux head, drop path, dropout) or infer")
	cmd.MarkFlagsMutuallyExclusive("filters", "base-filters")
}

// compileFile parses, checks and builds FILE under the flags' config,
// rendering diagnostics to stderr. It returns the source text too, for
// checkpoints that describe themselves.
func compileFile(cmd *cobra.Command, fl *buildFlags, path string, adjust func(*compiler.Config) error) (*compiler.Result, []byte, error) {
	cfg, err := resolveConfig(cmd, fl)
	if err != nil {
		return nil, nil, err
	}
	if adjust != nil {
		if err := adjust(&cfg); err != nil {
			return nil, nil, err
		}
	}
	srcs := newSources()
	dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
	f, diags, err := srcs.load(path)
	if err != nil {
		return nil, nil, err
	}
	if dc.report(diags) {
		return nil, nil, dc.err()
	}
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	dc.report(diags)
	if res == nil || diags.HasErrors() {
		return nil, nil, dc.err()
	}
	return res, srcs[path], nil
}

// resolveConfig applies preset (or dataset defaults), YAML and flags, in
// that order.
func resolveConfig(cmd *cobra.Command, fl *buildFlags) (compiler.Config, error) {
	changed := cmd.Flags().Changed
	var cfg compiler.Config
	var yamlKeys map[string]any
	if fl.config != "" {
		data, err := os.ReadFile(fl.config)
		if err != nil {
			return cfg, fail(err)
		}
		if err := yaml.Unmarshal(data, &yamlKeys); err != nil {
			return cfg, failf("%s: %v", fl.config, err)
		}
	}
	if changed("dataset") {
		d, err := normDataset(fl.dataset)
		if err != nil {
			return cfg, err
		}
		fl.dataset = d
	}
	if fl.preset != "" {
		p, err := compiler.Preset(fl.preset)
		if err != nil {
			return cfg, usagef("--preset: %v", err)
		}
		cfg = p
	} else {
		// The dataset picks the defaults: the flag's, else the YAML's.
		dataset := fl.dataset
		if !changed("dataset") {
			if d, ok := yamlKeys["dataset"].(string); ok {
				dataset = d
			}
		}
		d, err := compiler.DatasetDefaults(dataset)
		if err != nil {
			if changed("dataset") {
				return cfg, usagef("--dataset: %v", err)
			}
			return cfg, failf("%s: %v", fl.config, err)
		}
		cfg = d
	}
	if fl.config != "" {
		c, err := compiler.LoadConfig(fl.config, cfg)
		if err != nil {
			return cfg, fail(err)
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
	}
	if changed("network") {
		cfg.Network = fl.network
	}
	if changed("n") {
		cfg.N = fl.n
	}
	if changed("filters") {
		cfg.Filters, cfg.BaseFilters = fl.filters, 0
	}
	if changed("base-filters") {
		cfg.BaseFilters, cfg.Filters = fl.baseFilters, 0
	}
	if changed("dataset") {
		cfg.Dataset = fl.dataset
	}
	if changed("image-size") {
		cfg.ImageSize = fl.imageSize
	}
	if changed("classes") {
		cfg.Classes = fl.classes
	}
	if changed("channels") {
		cfg.Channels = fl.channels
	}
	if changed("stem-multiplier") {
		cfg.StemMultiplier = fl.stemMultiplier
	}
	if changed("aux-head") {
		cfg.AuxHead = fl.auxHead
	}
	if changed("skip-reduction-layer-input") {
		cfg.SkipReductionLayerInput = fl.skipReductionInput
	}
	if changed("drop-path-keep-prob") {
		cfg.DropPathKeepProb = fl.dropPathKeep
	}
	if changed("dense-dropout-keep-prob") {
		cfg.DenseDropoutKeepProb = fl.denseDropoutKeep
	}
	if changed("mode") {
		switch fl.mode {
		case "train", "training":
			cfg.Training = true
		case "infer", "inference":
			cfg.Training = false
		default:
			return cfg, usagef("--mode %q: want train or infer", fl.mode)
		}
	}
	if err := cfg.Validate(); err != nil {
		if fl.config != "" {
			return cfg, failf("%s: %v", fl.config, err)
		}
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

func normDataset(d string) (string, error) {
	switch d {
	case "cifar10", "cifar":
		return "cifar10", nil
	case "imagenet":
		return "imagenet", nil
	}
	return "", usagef("--dataset %q: want cifar10 or imagenet", d)
}

// passList is the pipeline's pass names, in order.
func passList() []string { return compiler.Passes() }

// checkPasses validates --dump-after and returns the names in pipeline order.
func checkPasses(names []string) ([]string, error) {
	all := passList()
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		found := false
		for _, p := range all {
			found = found || p == n
		}
		if !found {
			msg := fmt.Sprintf("--dump-after: unknown pass %q (passes: %s)", n, compiler.PassNames())
			if s := lang.Suggest(n, all); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, usagef("%s", msg)
		}
		want[n] = true
	}
	var out []string
	for _, p := range all {
		if want[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

func runBuild(cmd *cobra.Command, fl *buildFlags, path string) error {
	if !contains(emitFormats, fl.emit) {
		return usagef("--emit %q: want one of %s", fl.emit, strings.Join(emitFormats, ", "))
	}
	dump, err := checkPasses(fl.dumpAfter)
	if err != nil {
		return err
	}
	cfg, err := resolveConfig(cmd, fl)
	if err != nil {
		return err
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()

	var times phaseTimes
	srcs := newSources()
	dc := &diagCounter{w: stderr, srcs: srcs}
	start := time.Now()
	f, diags, err := srcs.load(path)
	if err != nil {
		return err
	}
	times.add("parse", time.Since(start), 0)
	if dc.report(diags) {
		return dc.err()
	}
	start = time.Now()
	res, diags := compiler.Build(f, cfg, compiler.Options{DumpAfter: dump})
	buildTime := time.Since(start)
	dc.report(diags)
	if res == nil || diags.HasErrors() {
		return dc.err()
	}
	var passTime time.Duration
	for _, t := range res.Timings {
		passTime += t.Duration
	}
	times.add("check+build", buildTime-passTime, len(res.Built.Nodes))
	for _, t := range res.Timings {
		times.add(t.Name, t.Duration, t.Nodes)
	}

	var p *plan.Plan
	if fl.emit == "summary" || fl.emit == "plan" || fl.emit == "json" {
		start = time.Now()
		p, err = plan.Lower(res.Graph)
		if err != nil {
			return failf("%v", err)
		}
		times.add("lower", time.Since(start), len(p.Launches))
	}

	var out bytes.Buffer
	switch fl.emit {
	case "summary":
		writeSummary(&out, res, p, path)
	case "ir":
		ir.Fprint(&out, res.Graph)
	case "plan":
		plan.Fprint(&out, p)
	case "json":
		data, err := plan.JSON(p)
		if err != nil {
			return failf("%v", err)
		}
		out.Write(data)
		out.WriteByte('\n')
	case "dot":
		writeGraphDOT(&out, res.Graph)
	}

	for _, name := range dump {
		text, ok := res.Dumps[name]
		if !ok {
			fmt.Fprintf(stdout, "# after %s: the pass did not run for this configuration\n", name)
			continue
		}
		fmt.Fprintf(stdout, "# after %s\n%s", name, text)
	}
	if err := writeOutput(stdout, fl.out, out.Bytes()); err != nil {
		return err
	}
	if fl.timePasses {
		times.print(stderr)
	}
	return nil
}

// phaseTimes collects --time-passes rows.
type phaseTimes []phaseTime

type phaseTime struct {
	name  string
	d     time.Duration
	nodes int
}

func (t *phaseTimes) add(name string, d time.Duration, nodes int) {
	*t = append(*t, phaseTime{name, d, nodes})
}

func (t phaseTimes) print(w io.Writer) {
	width := len("total")
	for _, p := range t {
		width = max(width, len(p.name))
	}
	fmt.Fprintf(w, "%-*s  %10s  %6s\n", width, "pass", "time", "nodes")
	var total time.Duration
	for _, p := range t {
		nodes := "-"
		if p.nodes > 0 {
			nodes = fmt.Sprint(p.nodes)
		}
		fmt.Fprintf(w, "%-*s  %10s  %6s\n", width, p.name, fmtDuration(p.d), nodes)
		total += p.d
	}
	fmt.Fprintf(w, "%-*s  %10s\n", width, "total", fmtDuration(total))
}

func fmtDuration(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// skeletonHelp lists the standard library's skeletons, their parameters
// and defaults, for build's help.
func skeletonHelp() string {
	f, err := stdlib.File()
	if err != nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n\nSkeletons (" + stdlib.SkeletonsName + "; a network names one with skeleton: NAME,\nand a .cell file may declare its own):\n")
	for _, d := range f.Decls {
		sk, ok := d.(*lang.SkeletonDecl)
		if !ok {
			continue
		}
		var ps []string
		for _, p := range sk.Params {
			ps = append(ps, p.Name.Name+" = "+lang.FormatExpr(p.Default))
		}
		line := "  " + sk.Name.Name + "(" + strings.Join(ps, ", ") + ")"
		if sk.Base != nil {
			line += " extends " + sk.Base.Name
		}
		b.WriteString(line + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
