package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/internal/strictyaml"
	"cellc/runtime"
	"cellc/runtime/checkpoint"
	"cellc/runtime/data"
	"cellc/runtime/metrics"
	"cellc/runtime/train"
)

type trainFlags struct {
	net     buildFlags
	data    dataFlags
	recipe  string
	rconfig string
	out     string
	resume  bool
	workers int
	device  string
	prec    string
	ui      string
	r       runtime.Recipe // flag targets, applied when changed
}

func newTrainCmd() *cobra.Command {
	var fl trainFlags
	cmd := &cobra.Command{
		Use:   "train FILE",
		Short: "Train a network on a data set with the paper's recipe",
		Long: `Train compiles the network FILE declares (the same flags as build) and
trains it with the paper's recipe: --recipe cifar (SGD momentum 0.9, L2
5e-4, cosine decay from 0.025, batch 32, aux weight 0.4, gradient clipping
5, ScheduledDropPath) or --recipe imagenet (RMSProp, exponential decay 0.97
every 2.4 epochs, label smoothing 0.1, EMA 0.9999). Every field can be set
by flag or by --recipe-config YAML. --device picks the backend: cpu (the
default), cuda or cuda:N (an NVIDIA GPU).

The image size, channels and classes follow the data set unless given.
Checkpoints (safetensors, with the spec and config inside) are written to
--out every epoch and on Ctrl-C; --resume continues exactly where it was.`,
		Example: `  cellc train specs/nasnet_a.cell --n 2 --filters 96 --data fashion-mnist --epochs 10 --out runs/fmnist
  cellc train specs/nasnet_a.cell --preset cifar --data cifar10 --data-dir ~/cifar-10-batches-bin --out runs/c10
  cellc train specs/nasnet_a.cell --preset cifar --data cifar10 --data-dir ~/cifar-10-batches-bin --device cuda --out runs/c10
  cellc train specs/nasnet_a.cell --n 1 --base-filters 4 --data synthetic --epochs 2 --out /tmp/run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runTrain(cmd, &fl, args[0]) },
	}
	addNetworkFlags(cmd, &fl.net)
	addDataFlags(cmd, &fl.data)
	f := cmd.Flags()
	f.StringVar(&fl.recipe, "recipe", "cifar", "training recipe: cifar or imagenet")
	f.StringVar(&fl.rconfig, "recipe-config", "", "YAML `file` of recipe fields, applied over --recipe")
	f.StringVarP(&fl.out, "out", "o", "run", "directory for checkpoints, metrics.jsonl and curves.png")
	f.BoolVar(&fl.resume, "resume", false, "continue from the checkpoint in --out")
	f.IntVar(&fl.workers, "workers", 0, "compute workers (0 = all cores)")
	addDeviceFlag(cmd, &fl.device)
	addPrecisionFlag(cmd, &fl.prec)
	f.StringVar(&fl.ui, "ui", "", "serve the live web view (cellc serve) of --out on `host:port` while training")
	f.IntVar(&fl.r.Epochs, "epochs", 0, "epochs to train")
	f.IntVar(&fl.r.BatchSize, "batch", 0, "batch size")
	f.Float64Var(&fl.r.LR, "lr", 0, "initial learning rate")
	f.StringVar(&fl.r.Optimizer, "optimizer", "", "sgd or rmsprop")
	f.StringVar(&fl.r.Schedule, "schedule", "", "cosine, exponential or constant")
	f.Float64Var(&fl.r.WeightDecay, "weight-decay", 0, "L2 weight decay")
	f.Float64Var(&fl.r.LabelSmoothing, "label-smoothing", 0, "label smoothing")
	f.Float64Var(&fl.r.AuxWeight, "aux-weight", 0, "aux head loss weight")
	f.Float64Var(&fl.r.ClipNorm, "clip-norm", 0, "global gradient-norm clipping (0 = off)")
	f.Float64Var(&fl.r.EMADecay, "ema", 0, "moving average of weights for evaluation (0 = off)")
	f.Uint64Var(&fl.r.Seed, "seed", 0, "random seed (data order, augmentation, initialisation)")
	return cmd
}

func resolveRecipe(cmd *cobra.Command, fl *trainFlags) (runtime.Recipe, error) {
	var r runtime.Recipe
	switch fl.recipe {
	case "cifar":
		r = runtime.CIFARRecipe()
	case "imagenet":
		r = runtime.ImageNetRecipe()
	default:
		return r, usagef("--recipe %q: want cifar or imagenet", fl.recipe)
	}
	if fl.rconfig != "" {
		raw, err := os.ReadFile(fl.rconfig)
		if err != nil {
			return r, fail(err)
		}
		// Strict: a misspelt recipe field is an error, not a default.
		if err := strictyaml.Decode(fl.rconfig, raw, &r); err != nil {
			return r, fail(err)
		}
	}
	ch := cmd.Flags().Changed
	set := map[string]func(){
		"epochs": func() { r.Epochs = fl.r.Epochs }, "batch": func() { r.BatchSize = fl.r.BatchSize },
		"lr": func() { r.LR = fl.r.LR }, "optimizer": func() { r.Optimizer = fl.r.Optimizer },
		"schedule": func() { r.Schedule = fl.r.Schedule }, "weight-decay": func() { r.WeightDecay = fl.r.WeightDecay },
		"label-smoothing": func() { r.LabelSmoothing = fl.r.LabelSmoothing }, "aux-weight": func() { r.AuxWeight = fl.r.AuxWeight },
		"clip-norm": func() { r.ClipNorm = fl.r.ClipNorm }, "ema": func() { r.EMADecay = fl.r.EMADecay },
		"seed": func() { r.Seed = fl.r.Seed },
	}
	for name, apply := range set {
		if ch(name) {
			apply()
		}
	}
	if err := r.Validate(); err != nil {
		return r, usagef("%v", err)
	}
	return r, nil
}

func runTrain(cmd *cobra.Command, fl *trainFlags, path string) error {
	// train always builds the training network; --mode infer would be
	// overridden, so it is refused.
	if cmd.Flags().Changed("mode") && (fl.net.mode == "infer" || fl.net.mode == "inference") {
		return usagef("--mode %s: train builds the training network (eval, predict and export use the inference one)", fl.net.mode)
	}
	r, err := resolveRecipe(cmd, fl)
	if err != nil {
		return err
	}
	// The data set decides the input shape and classes unless given.
	probe, err := resolveConfig(cmd, &fl.net)
	if err != nil {
		return err
	}
	if err := checkPrecision(fl.prec); err != nil {
		return err
	}
	// The device opens before the data is read and --out is written: a
	// missing GPU fails at once and leaves nothing behind.
	backend, closeDevice, err := openDevice(fl.device)
	if err != nil {
		return err
	}
	defer closeDevice()
	trainSet, val, test, aug, err := openData(&fl.data, probe.ImageSize, max(probe.Channels, 1), probe.Classes)
	if err != nil {
		return fail(err)
	}
	ch := cmd.Flags().Changed
	res, src, err := compileFile(cmd, &fl.net, path, func(c *compiler.Config) error {
		s := trainSet.Shape()
		if !ch("image-size") {
			c.ImageSize = s.H
		}
		if !ch("channels") {
			c.Channels = s.C
		}
		if !ch("classes") {
			c.Classes = trainSet.Classes()
		}
		if !c.Training {
			// Only --config can have said so (presets train; --mode infer
			// was refused): train would build the training network anyway.
			return usagef("%s sets training: false; train builds the training network (eval, predict and export use the inference one)", fl.net.config)
		}
		if c.ImageSize != s.H || c.Channels != s.C || c.Classes != trainSet.Classes() {
			return usagef("the network takes %dx%dx%d images in %d classes; the data set has %dx%dx%d in %d", c.ImageSize, c.ImageSize, c.Channels, c.Classes, s.H, s.W, s.C, trainSet.Classes())
		}
		return nil
	})
	if err != nil {
		return err
	}
	p, err := plan.Lower(res.Graph)
	if err != nil {
		return failf("%v", err)
	}
	cfgYAML, _ := yaml.Marshal(res.Config)
	meta := map[string]string{
		checkpoint.KeySpec:    string(src),
		checkpoint.KeyConfig:  string(cfgYAML),
		checkpoint.KeyNetwork: res.Network.Name,
		"cellc.classes":       mustJSON(trainSet.ClassNames()),
	}
	if norm, ok := data.Normalization(trainSet); ok {
		meta["cellc.norm"] = mustJSON(norm)
	}
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "training %s (%s, %s params) on %s: %d images, %d epochs of batch %d, %s\n",
		res.Network.Name, depth(res.Config, res.Filters), commas(trainableParams(p)), fl.data.name, trainSet.Len(), r.Epochs, r.BatchSize, backend.Name())

	if fl.ui != "" {
		ui, err := startUI(stderr, fl.ui, "", []string{fl.out})
		if err != nil {
			return err
		}
		defer closeUI(ui)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out, err := train.Run(ctx, train.Job{
		Plan: p, Backend: backend,
		Options: runtime.Options{BatchNormDecay: float32(res.Config.BatchNormDecay), BatchNormEpsilon: float32(res.Config.BatchNormEpsilon), Workers: fl.workers, Seed: r.Seed, Precision: fl.prec},
		Recipe:  r, Train: trainSet, Val: val, Test: test, Augment: aug,
		Dir: fl.out, Resume: fl.resume, Meta: meta,
		Log: stderr, Progress: metrics.IsTerminal(os.Stderr),
	})
	if errors.Is(err, train.ErrInterrupted) {
		return failf("interrupted; checkpoint saved in %s (continue with --resume)", out.Checkpoint)
	}
	if err != nil {
		return fail(err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "trained %d epochs (%d steps) in %s\n", out.Epochs, out.Steps, out.Duration.Round(1e9))
	if out.Val.Images > 0 {
		fmt.Fprintf(w, "validation: top-1 %.2f%%, top-5 %.2f%% (%d images)\n", 100*out.Val.Top1, 100*out.Val.Top5, out.Val.Images)
	}
	if out.Test.Images > 0 {
		fmt.Fprintf(w, "test:       top-1 %.2f%%, top-5 %.2f%% (%d images)\n", 100*out.Test.Top1, 100*out.Test.Top5, out.Test.Images)
	}
	fmt.Fprintf(w, "checkpoint %s; metrics %s; curves %s\n", out.Checkpoint, filepath.Join(fl.out, "metrics.jsonl"), filepath.Join(fl.out, "curves.png"))
	return nil
}

func trainableParams(p *plan.Plan) int64 {
	var n int64
	for _, q := range p.Params {
		if q.Trainable {
			n += q.Elems()
		}
	}
	return n
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
