package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
	"cellc/runtime"
	"cellc/runtime/checkpoint"
	"cellc/runtime/onnx"
)

type exportFlags struct {
	net    buildFlags
	noFold bool
	seed   uint64
}

func newExportCmd() *cobra.Command {
	var fl exportFlags
	cmd := &cobra.Command{
		Use:   "export CHECKPOINT|FILE.cell -o model.onnx",
		Short: "Write a trained network (or an untrained .cell network) as an ONNX model",
		Long: `Export writes the inference network as an ONNX model (IR version 8, opset
17) for ONNX Runtime and the other runtimes that read ONNX.

From a checkpoint, the network is rebuilt from the spec and config the
checkpoint records and takes its trained weights; from a .cell file (with
build's flags) it is the untrained network with its weights initialised
as training would start them (--seed).

The model is cellc's inference plan: batch norms folded into the
convolutions before them (--no-fold keeps them as BatchNormalization
nodes), no aux head, drop path or dropout. Its input is "image"
[batch, C, H, W] (normalised as in training), its output "logits"
[batch, classes]; the batch dimension is free. Values and initializers
are named as in the plan (cellc build --emit plan). metadata_props hold
the .cell source (cellc.spec), the config (cellc.config), the network
(cellc.network) and, from a checkpoint, everything else it records: the
class names (cellc.classes) and the input normalisation (cellc.norm)
among them. The file is written atomically.`,
		Example: `  cellc export runs/fmnist/checkpoint.safetensors -o fmnist.onnx
  cellc export specs/nasnet_a.cell --preset mobile -o nasnet_a_mobile.onnx
  cellc export specs/darts_v2.cell --n 2 --filters 96 --no-fold -o darts.onnx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runExport(cmd, &fl, args[0]) },
	}
	addNetworkFlags(cmd, &fl.net)
	f := cmd.Flags()
	f.StringVarP(&fl.net.out, "output", "o", "", "the ONNX `file` to write")
	f.BoolVar(&fl.noFold, "no-fold", false, "keep batch norms as BatchNormalization nodes instead of folding them into the convolutions")
	f.Uint64Var(&fl.seed, "seed", 0, "initialisation seed of a .cell file's untrained weights")
	cmd.MarkFlagRequired("output")
	return cmd
}

// exportOnly are the flags that apply to a checkpoint as well; every other
// flag configures a .cell build.
var exportOnly = map[string]bool{"output": true, "no-fold": true}

// trainingOnly are build flags that change only the training graph; the
// export would ignore them, so it refuses them.
var trainingOnly = []string{"aux-head", "drop-path-keep-prob", "dense-dropout-keep-prob"}

func runExport(cmd *cobra.Command, fl *exportFlags, path string) error {
	var src *exportSource
	var err error
	if strings.HasSuffix(path, ".cell") {
		src, err = exportCell(cmd, fl, path)
	} else {
		var given []string
		cmd.Flags().Visit(func(f *pflag.Flag) {
			if !exportOnly[f.Name] {
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return usagef("%s: a checkpoint records its network and config (build flags apply to a .cell file)", strings.Join(given, ", "))
		}
		src, err = exportCheckpoint(cmd, path)
	}
	if err != nil {
		return err
	}
	res := src.res
	eps := float32(res.Config.BatchNormEpsilon)
	p, err := onnx.InferencePlan(res, !fl.noFold)
	if err != nil {
		return failf("%s: %v", path, err)
	}
	w, err := onnx.Weights(p, src.trained, eps)
	if err != nil {
		return failf("%s: %v (the tensors do not fit the network the spec builds)", path, err)
	}
	folded := "batch norms folded"
	if fl.noFold {
		folded = "batch norms kept"
	}
	doc := fmt.Sprintf("%s (%s, %dx%dx%d images, %d classes), %s; exported by cellc from %s", res.Network.Name, depth(res.Config, res.Filters),
		res.Config.ImageSize, res.Config.ImageSize, res.Config.Channels, res.Config.Classes, folded, filepath.Base(path))
	data, err := onnx.Export(p, w.Value, onnx.Options{Epsilon: eps, ProducerVersion: Version, DocString: doc, Metadata: src.meta})
	if err != nil {
		return failf("%s: %v", path, err)
	}
	if err := writeFileAtomic(fl.net.out, data); err != nil {
		return fail(err)
	}
	var params int64
	for _, q := range p.Params {
		params += q.Elems()
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s, %s parameters, %s\n", fl.net.out, doc, commas(params), plan.Bytes(int64(len(data))))
	return nil
}

// exportSource is the network to export, built for inference, and where
// its weights come from.
type exportSource struct {
	res     *compiler.Result
	trained func(name string) ([]float32, bool)
	meta    map[string]string
}

// exportCell builds a .cell file's network for inference with its
// weights initialised as training would start them.
func exportCell(cmd *cobra.Command, fl *exportFlags, path string) (*exportSource, error) {
	ch := cmd.Flags().Changed
	if ch("mode") && fl.net.mode != "infer" && fl.net.mode != "inference" {
		return nil, usagef("--mode %s: export writes the inference network", fl.net.mode)
	}
	for _, name := range trainingOnly {
		if ch(name) {
			return nil, usagef("--%s changes only the training network; export writes the inference network", name)
		}
	}
	res, text, err := compileFile(cmd, &fl.net, path, func(c *compiler.Config) error {
		c.Training = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The unfolded plan's parameters are the ones training starts from
	// (batch norms at identity, before folding).
	raw, err := onnx.InferencePlan(res, false)
	if err != nil {
		return nil, failf("%s: %v", path, err)
	}
	init := runtime.NewParams(raw.Params, false)
	init.Init(fl.seed)
	cfgYAML, _ := yaml.Marshal(res.Config)
	meta := map[string]string{
		checkpoint.KeySpec:    string(text),
		checkpoint.KeyConfig:  string(cfgYAML),
		checkpoint.KeyNetwork: res.Network.Name,
	}
	return &exportSource{res: res, trained: init.Lookup, meta: meta}, nil
}

// exportCheckpoint rebuilds the inference network a checkpoint records.
// Every error names the file: one that is not a safetensors file or is
// truncated (checkpoint.Load), one cellc did not write, one whose spec
// no longer compiles (its diagnostics are printed first) and one whose
// tensors do not fit the network.
func exportCheckpoint(cmd *cobra.Command, path string) (*exportSource, error) {
	tensors, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, fail(err)
	}
	text, ok := meta[checkpoint.KeySpec]
	if !ok {
		return nil, failf("%s: not a cellc checkpoint: it does not record its spec (cellc train writes %s)", path, checkpoint.KeySpec)
	}
	if v, ok := meta[checkpoint.KeyFormatVersion]; ok && v != checkpoint.FormatVersion {
		return nil, failf("%s: checkpoint layout version %s; this cellc reads version %s", path, v, checkpoint.FormatVersion)
	}
	var cfg compiler.Config
	if err := yaml.Unmarshal([]byte(meta[checkpoint.KeyConfig]), &cfg); err != nil {
		return nil, failf("%s: bad config in checkpoint: %v", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, failf("%s: bad config in checkpoint: %v", path, err)
	}
	cfg.Network = meta[checkpoint.KeyNetwork]
	cfg.Training = false
	name := path + "#spec"
	srcs := newSources()
	srcs[name] = []byte(text)
	dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
	f, diags := lang.Parse(name, []byte(text))
	if dc.report(diags) {
		return nil, failf("%s: the spec the checkpoint records no longer parses (%s above)", path, plural(dc.errors, "error", "errors"))
	}
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if dc.report(diags) || res == nil {
		return nil, failf("%s: the network the checkpoint records no longer compiles (%s above)", path, plural(dc.errors, "error", "errors"))
	}
	byName := make(map[string][]float32, len(tensors))
	for _, t := range tensors {
		byName[t.Name] = t.Data
	}
	lookup := func(name string) ([]float32, bool) { v, ok := byName[name]; return v, ok }
	return &exportSource{res: res, trained: lookup, meta: meta}, nil
}

// plural is "1 error" or "3 errors".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
