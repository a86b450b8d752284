package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
	"cellc/runtime"
	"cellc/runtime/checkpoint"
	"cellc/runtime/data"
)

func tinyPlan(t testing.TB) *plan.Plan { return tinyPlanKeep(t, 1) }

// tinyPlanKeep is tinyPlan with ScheduledDropPath at keep probability keep
// (1 = off).
func tinyPlanKeep(t testing.TB, keep float64) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile("../../specs/nasnet_a.cell")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse("nasnet_a.cell", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, _ := compiler.Preset("cifar")
	cfg.N, cfg.BaseFilters, cfg.Filters = 1, 4, 0
	cfg.ImageSize, cfg.Channels, cfg.Classes, cfg.StemMultiplier = 16, 1, 4, 2
	cfg.DropPathKeepProb = keep
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := plan.Lower(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tinyJob(t testing.TB, dir string, epochs int) Job {
	r := runtime.CIFARRecipe()
	r.Epochs, r.BatchSize, r.LR = epochs, 16, 0.05
	ds := data.Synthetic(256, data.Shape{C: 1, H: 16, W: 16}, 4, 3)
	return Job{
		Plan: tinyPlan(t), Backend: runtime.CPU{},
		Options: runtime.Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Workers: 2, Seed: 1},
		Recipe:  r, Train: ds, Val: data.Synthetic(64, data.Shape{C: 1, H: 16, W: 16}, 4, 3),
		Dir: dir,
	}
}

// A tiny NASNet-A learns a learnable synthetic task: the loss falls.
func TestTrainingLossFalls(t *testing.T) {
	res, err := Run(context.Background(), tinyJob(t, t.TempDir(), 3))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f → %.4f, val top-1 %.2f", res.FirstLoss, res.LastLoss, res.Val.Top1)
	if !(res.LastLoss < 0.8*res.FirstLoss) {
		t.Errorf("loss did not fall: first epoch %.4f, last %.4f", res.FirstLoss, res.LastLoss)
	}
	if res.Val.Top1 < 0.5 {
		t.Errorf("validation top-1 %.2f on a 4-class learnable task", res.Val.Top1)
	}
}

// Training 2 epochs straight and 1 epoch + resume + 1 epoch give the same
// weights, bit for bit: optimiser state, schedule position, data order and
// (with drop path on) the mask generator are all restored.
func TestResumeIsExact(t *testing.T) {
	for _, keep := range []float64{1, 0.7} {
		t.Run(fmt.Sprintf("drop_path_keep_%g", keep), func(t *testing.T) { testResumeIsExact(t, keep) })
	}
}

func testResumeIsExact(t *testing.T, keep float64) {
	job := func(dir string) Job {
		j := tinyJob(t, dir, 2)
		j.Plan = tinyPlanKeep(t, keep)
		return j
	}
	a := t.TempDir()
	if _, err := Run(context.Background(), job(a)); err != nil {
		t.Fatal(err)
	}
	b := t.TempDir()
	j := job(b)
	j.InterruptAfter = 24 // half way through the second epoch of 256/16
	if _, err := Run(context.Background(), j); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v, want ErrInterrupted", err)
	}
	j = job(b)
	j.Resume = true
	if _, err := Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	ta, _, err := checkpoint.Load(filepath.Join(a, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	tb, _, err := checkpoint.Load(filepath.Join(b, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ta) != len(tb) {
		t.Fatalf("%d vs %d tensors", len(ta), len(tb))
	}
	for i := range ta {
		for k := range ta[i].Data {
			if ta[i].Data[k] != tb[i].Data[k] {
				t.Fatalf("%s[%d]: %v straight, %v resumed", ta[i].Name, k, ta[i].Data[k], tb[i].Data[k])
			}
		}
	}
}

// Cancelling the context checkpoints mid-epoch; resuming finishes.
func TestInterruptCheckpoints(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, tinyJob(t, dir, 1))
	if err != ErrInterrupted {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint.safetensors")); err != nil {
		t.Fatal(err)
	}
	j := tinyJob(t, dir, 1)
	j.Resume = true
	if _, err := Run(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}
