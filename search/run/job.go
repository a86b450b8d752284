package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
	"cellc/runtime"
	"cellc/runtime/data"
	"cellc/runtime/train"
	"cellc/search/queue"
	"cellc/search/space"
	"cellc/search/strategy"
)

// JobRecipe is what a job carries besides its cell text (queue.Job.Recipe):
// how to train the child and the proposal it came from, so that a result
// maps back to its proposal whatever happens to the controller.
type JobRecipe struct {
	Recipe   space.Recipe      `json:"recipe"`
	Proposal strategy.Proposal `json:"proposal"`
	// MaxSteps, when positive, stops training after that many steps.
	MaxSteps int `json:"max_steps,omitempty"`
}

// Trainer trains children. It caches the data sets it opens, so a worker
// reads them once. It is safe for concurrent use: children trained at once
// share its Backend.
type Trainer struct {
	// Backend runs the children; nil = runtime.CPU{}. The Trainer does
	// not close it: whoever opened it does, once the workers are done.
	// Its Compile must be safe to call from several goroutines.
	Backend runtime.Backend
	// DataDir, when set, replaces the recipes' data_dir (a worker whose
	// copy of the data lives elsewhere).
	DataDir string
	// Workers, when positive, replaces the recipes' compute workers.
	Workers int
	// SharedCores says children train several at once on this machine
	// (runtime.Options.SharedCores).
	SharedCores bool
	// TempDir is where each child's scratch directory is made; "" = the
	// system's.
	TempDir string

	mu   sync.Mutex
	sets map[string]*dataSets
}

type dataSets struct {
	train, val, test data.Dataset
	aug              data.Augment
	err              error
}

// Outcome is one child's training: its reward (validation top-1), its
// top-1 on the data set's test split when asked for (TrainTest), size
// and time. A child that does not compile or diverges has Failed set and
// Err saying why.
type Outcome struct {
	Accuracy     float64
	TestAccuracy float64 // 0 unless TrainTest ran on a data set with a test split
	Params       int64
	MultAdds     int64
	TrainSeconds float64
	Failed       bool
	Err          string
}

// JobFunc is the queue's job function: decode the recipe, train the cell,
// report the outcome. Compile errors and divergence are permanent
// failures (Result.Failed); other errors are retried by the queue.
func (t *Trainer) JobFunc() queue.JobFunc {
	return func(ctx context.Context, j queue.Job, progress func()) (queue.Result, error) {
		var jr JobRecipe
		if err := json.Unmarshal(j.Recipe, &jr); err != nil {
			return queue.Result{Failed: true, Error: "job recipe: " + err.Error()}, nil
		}
		out, err := t.Train(ctx, j.CellText, jr.Recipe, jr.MaxSteps)
		if err != nil {
			return queue.Result{}, err
		}
		if out.Failed {
			return queue.Result{Failed: true, Error: out.Err, Params: out.Params, MultAdds: out.MultAdds, TrainSeconds: out.TrainSeconds}, nil
		}
		return queue.Result{Reward: out.Accuracy, Accuracy: out.Accuracy, Params: out.Params, MultAdds: out.MultAdds, TrainSeconds: out.TrainSeconds}, nil
	}
}

// Train compiles text under recipe r's configuration and trains it on r's
// data set for r's epochs (or maxSteps steps). The reward is the top-1
// accuracy on the held-out validation images. A compile error or a
// diverging loss is an Outcome with Failed set; an error is returned only
// for what another attempt might fix (unreadable data, cancellation).
func (t *Trainer) Train(ctx context.Context, text string, r space.Recipe, maxSteps int) (Outcome, error) {
	return t.train(ctx, text, r, maxSteps, false)
}

// TrainTest is Train, then the trained network's top-1 on the data set's
// test split (fashion-mnist's and mnist's 10,000 test images, cifar10's
// test_batch.bin, a folder data set's test/ classes, a synthetic set drawn
// with its own seed): what the final retraining reports.
func (t *Trainer) TrainTest(ctx context.Context, text string, r space.Recipe, maxSteps int) (Outcome, error) {
	return t.train(ctx, text, r, maxSteps, true)
}

func (t *Trainer) train(ctx context.Context, text string, r space.Recipe, maxSteps int, withTest bool) (Outcome, error) {
	var out Outcome
	if t.DataDir != "" {
		r.DataDir = t.DataDir
	}
	if t.Workers > 0 {
		r.Workers = t.Workers
	}
	cfg, err := r.CompilerConfig()
	if err == nil {
		err = r.TrainRecipe().Validate()
	}
	if err != nil {
		return Outcome{Failed: true, Err: "recipe: " + err.Error()}, nil
	}
	f, diags := lang.Parse("sampled.cell", []byte(text))
	var res *compiler.Result
	if !diags.HasErrors() {
		res, diags = compiler.Build(f, cfg, compiler.Options{})
	}
	if diags.HasErrors() {
		return Outcome{Failed: true, Err: "does not compile: " + errorsOf(diags)}, nil
	}
	main, _ := res.Built.Costs()
	out.Params, out.MultAdds = main.Params, main.MultAdd
	p, err := plan.Lower(res.Graph)
	if err != nil {
		return Outcome{Failed: true, Err: "does not lower: " + err.Error(), Params: out.Params, MultAdds: out.MultAdds}, nil
	}
	ds := t.data(r)
	if ds.err != nil {
		return out, ds.err
	}
	if ds.val == nil {
		return Outcome{Failed: true, Err: "the recipe holds out no validation images (set val)"}, nil
	}
	dir, err := os.MkdirTemp(t.TempDir, "cellc-child-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	var test data.Dataset
	if withTest {
		test = ds.test
	}
	backend := t.Backend
	if backend == nil {
		backend = runtime.CPU{}
	}
	tr, err := train.Run(ctx, train.Job{
		Plan: p, Backend: backend,
		Options: runtime.Options{BatchNormDecay: float32(res.Config.BatchNormDecay), BatchNormEpsilon: float32(res.Config.BatchNormEpsilon), Workers: r.Workers, Seed: r.Seed, SharedCores: t.SharedCores},
		Recipe:  r.TrainRecipe(), Train: ds.train, Val: ds.val, Test: test, Augment: ds.aug,
		Dir: dir, Log: io.Discard, MaxSteps: maxSteps,
	})
	out.TrainSeconds = tr.Duration.Seconds()
	switch {
	case ctx.Err() != nil:
		return out, ctx.Err()
	case errors.Is(err, runtime.ErrDiverged):
		out.Failed, out.Err = true, err.Error()
		return out, nil
	case errors.Is(err, train.ErrInterrupted):
		return out, context.Canceled
	case err != nil:
		return out, err
	}
	if math.IsNaN(tr.Val.Loss) || math.IsInf(tr.Val.Loss, 0) {
		out.Failed, out.Err = true, fmt.Sprintf("training diverged: validation loss is %v", tr.Val.Loss)
		return out, nil
	}
	out.Accuracy = tr.Val.Top1
	if test != nil {
		out.TestAccuracy = tr.Test.Top1
	}
	return out, nil
}

func errorsOf(diags lang.Diagnostics) string {
	var msgs []string
	for _, d := range diags {
		if d.Severity == lang.Error {
			msgs = append(msgs, d.String())
		}
	}
	return strings.Join(msgs, "; ")
}

// data opens (once) the data sets recipe r names.
func (t *Trainer) data(r space.Recipe) *dataSets {
	size, channels, classes := r.Input()
	key := fmt.Sprintf("%s|%s|%d|%d|%d|%d|%d|%d", r.Dataset, r.DataDir, r.Val, r.TrainImages, r.SyntheticSize, size, channels, classes)
	t.mu.Lock()
	defer t.mu.Unlock()
	if ds, ok := t.sets[key]; ok {
		return ds
	}
	ds := &dataSets{}
	ds.train, ds.val, ds.test, ds.aug, ds.err = OpenData(r)
	if t.sets == nil {
		t.sets = map[string]*dataSets{}
	}
	if ds.err == nil {
		t.sets[key] = ds
	}
	return ds
}

// OpenData opens the training, validation and test sets of a recipe, as
// `cellc train --data` does: fashion-mnist and mnist hold the last Val
// training images out, cifar10 its 5,000, synthetic data is generated at
// the recipe's input shape; TrainImages keeps the first images only. test
// is nil for a folder data set without a test/ folder.
func OpenData(r space.Recipe) (trainSet, val, test data.Dataset, aug data.Augment, err error) {
	size, channels, classes := r.Input()
	switch r.Dataset {
	case "fashion-mnist", "mnist":
		dir := r.DataDir
		if dir == "" && r.Dataset == "fashion-mnist" {
			if dir, err = data.FindFashionMNIST(); err != nil {
				return nil, nil, nil, aug, fmt.Errorf("%v (install Debian's dataset-fashion-mnist, or set data_dir)", err)
			}
		}
		open := data.FashionMNIST
		if r.Dataset == "mnist" {
			open = data.MNIST
		}
		full, testSet, err := open(dir)
		if err != nil {
			return nil, nil, nil, aug, err
		}
		trainSet, val = holdOut(full, r.Val)
		test = testSet
		aug = data.Augment{PadCrop: 2, Flip: true}
	case "cifar10":
		if r.DataDir == "" {
			return nil, nil, nil, aug, errors.New("dataset cifar10 needs data_dir (the folder with data_batch_1.bin .. test_batch.bin)")
		}
		if trainSet, val, test, err = data.CIFAR10(r.DataDir); err != nil {
			return nil, nil, nil, aug, err
		}
		aug = data.Augment{PadCrop: 4, Flip: true}
	case "folder":
		if r.DataDir == "" {
			return nil, nil, nil, aug, errors.New("dataset folder needs data_dir with train/ and val/ class folders")
		}
		big := data.ResizeFor(size)
		if trainSet, err = data.ImageFolder(r.DataDir+"/train", big); err != nil {
			return nil, nil, nil, aug, err
		}
		v, err := data.ImageFolder(r.DataDir+"/val", big)
		if err != nil {
			return nil, nil, nil, aug, err
		}
		val = data.CenterCrop(v, size)
		if _, statErr := os.Stat(r.DataDir + "/test"); statErr == nil {
			t, err := data.ImageFolder(r.DataDir+"/test", big)
			if err != nil {
				return nil, nil, nil, aug, err
			}
			test = data.CenterCrop(t, size)
		}
		aug = data.Augment{Crop: size, Flip: true}
	case "synthetic":
		shape := data.Shape{C: channels, H: size, W: size}
		trainSet = data.Synthetic(r.SyntheticSize, shape, classes, 1)
		val = data.Synthetic(max(r.SyntheticSize/8, 64), shape, classes, 2)
		test = data.Synthetic(max(r.SyntheticSize/8, 64), shape, classes, 3)
	default:
		return nil, nil, nil, aug, fmt.Errorf("unknown dataset %q", r.Dataset)
	}
	if r.TrainImages > 0 && r.TrainImages < trainSet.Len() {
		trainSet = data.Subset(trainSet, seq(r.TrainImages, 0))
	}
	return trainSet, val, test, aug, nil
}

func holdOut(ds data.Dataset, n int) (trainSet, val data.Dataset) {
	if n <= 0 || n >= ds.Len() {
		return ds, nil
	}
	cut := ds.Len() - n
	return data.Subset(ds, seq(cut, 0)), data.Subset(ds, seq(n, cut))
}

// seq is [from, from+n).
func seq(n, from int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = from + i
	}
	return s
}
