package cuda

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/runtime"
)

// TestPaperSizeParity builds NASNet-A 6@768 (CIFAR) and compares the
// device with the CPU backend: the logits of the inference plan, then
// the losses of training steps (the CIFAR recipe, drop path on) from the
// same parameters and batches. It is for a GPU: scripts/gpu-check.sh runs
// it with CELLC_TEST_DEVICE=cuda and CELLC_TEST_PAPER_SIZE=<steps>.
func TestPaperSizeParity(t *testing.T) {
	steps := 0
	if v := os.Getenv("CELLC_TEST_PAPER_SIZE"); v != "" {
		for _, c := range v {
			steps = steps*10 + int(c-'0')
		}
	}
	if steps == 0 {
		t.Skip("set CELLC_TEST_PAPER_SIZE=STEPS (a GPU run: scripts/gpu-check.sh)")
	}
	b := testBackend(t)
	build := func(training bool) *plan.Plan {
		return smallPlan(t, "../../specs/nasnet_a.cell", training, func(c *compiler.Config) {
			c.N, c.BaseFilters, c.ImageSize, c.Classes = 6, 32, 32, 10
			c.StemMultiplier = 3
		})
	}
	const batch = 16
	opts := runtime.Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Seed: 5}
	r := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, batch*32*32*3)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	infer := build(false)
	cpu, err := runtime.CPU{}.Compile(infer, batch, opts)
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := b.Compile(infer, batch, opts)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := cpu.Forward(x, batch, 1)
	lg, _ := gpu.Forward(x, batch, 1)
	e, i := scaled(lg, lc)
	t.Logf("6@768 inference logits: max relative error %.3g (at %d: %g vs %g)", e, i, lg[i], lc[i])
	if e > 1e-4 {
		t.Errorf("inference logits differ by %.3g > 1e-4", e)
	}
	cpu.Close()
	gpu.Close()

	train := build(true)
	recipe := runtime.CIFARRecipe()
	var sc, sg *runtime.Stepper
	for _, side := range []struct {
		be runtime.Backend
		st **runtime.Stepper
	}{{runtime.CPU{}, &sc}, {b, &sg}} {
		ex, err := side.be.Compile(train, batch, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer ex.Close()
		*side.st = runtime.NewStepper(ex, runtime.NewOptimizer(recipe, ex.Params()), recipe, 10, batch)
	}
	labels := make([]int, batch)
	worst := 0.0
	for s := 0; s < steps; s++ {
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range labels {
			labels[i] = r.IntN(10)
		}
		rc, err := sc.Train(x, labels, batch, float64(s)/100, float64(s)/float64(steps))
		if err != nil {
			t.Fatal(err)
		}
		rg, err := sg.Train(x, labels, batch, float64(s)/100, float64(s)/float64(steps))
		if err != nil {
			t.Fatal(err)
		}
		d := math.Abs(rg.Loss-rc.Loss) / math.Abs(rc.Loss)
		worst = math.Max(worst, d)
		t.Logf("step %2d: loss cpu %.6f gpu %.6f (relative difference %.2g)", s, rc.Loss, rg.Loss, d)
	}
	if worst > 1e-2 {
		t.Errorf("training losses drift apart: %.3g", worst)
	}
}
