package cuda

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"cellc/compiler"
	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/internal/testnet"
	"cellc/runtime"
)

// testBackend opens the device the tests run on: the host emulator,
// skipped when the machine has no C++ compiler to build it with, or the
// GPU when CELLC_TEST_DEVICE=cuda (scripts/gpu-check.sh runs the same
// tests there, against the CPU backend in the same process).
func testBackend(t testing.TB) *Backend {
	t.Helper()
	if os.Getenv("CELLC_TEST_DEVICE") == "cuda" {
		b, err := Open(0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	b, err := OpenEmulated()
	if err != nil {
		if _, ok := err.(noCompilerError); ok {
			t.Skipf("%v (Debian: apt-get install clang)", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// smallPlan compiles a spec into a tiny network with drop path and
// dropout at the spec's defaults: N=1, few filters, 10x10 images (odd
// sizes after the reductions).
func smallPlan(t testing.TB, spec string, training bool, mutate func(*compiler.Config)) *plan.Plan {
	t.Helper()
	return testnet.SmallPlan(t, spec, training, func(c *compiler.Config) {
		def, _ := compiler.Preset("cifar")
		c.ImageSize = 10
		c.DropPathKeepProb, c.DenseDropoutKeepProb = def.DropPathKeepProb, def.DenseDropoutKeepProb
		if mutate != nil {
			mutate(c)
		}
	})
}

// maxRelErr is max |a-b| / max(|b|, floor) over the two slices.
// scaled compares relative to the largest magnitude in b: logits near
// zero differ in their last bits by summation order alone.
func scaled(a, b []float32) (float64, int) {
	m := 1e-6
	for _, v := range b {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return maxRelErr(a, b, m)
}

func maxRelErr(a, b []float32, floor float64) (float64, int) {
	worst, at := 0.0, -1
	for i := range b {
		d := math.Abs(float64(a[i])-float64(b[i])) / math.Max(math.Abs(float64(b[i])), floor)
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestNetworkParity runs a small network from every spec forward and
// backward on the emulated device and on the CPU backend, from the same
// parameters and inputs, and compares the logits, the aux logits, every
// parameter gradient and the updated batch-norm moving statistics; then
// evaluates both in evaluation mode. Drop path is on, so the masks the
// two backends draw must match too.
func TestNetworkParity(t *testing.T) {
	b := testBackend(t)
	specs, _ := filepath.Glob("../../specs/*.cell")
	if len(specs) == 0 {
		t.Fatal("no specs")
	}
	seen := map[ir.Kind]bool{}
	for _, spec := range specs {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			p := smallPlan(t, spec, true, func(c *compiler.Config) {
				c.DropPathKeepProb, c.DenseDropoutKeepProb = 0.7, 0.8
			})
			for _, st := range p.Launches {
				for _, o := range st.Ops {
					seen[o.Kind] = true
				}
			}
			compareBackends(t, b, p, 3)
		})
	}
	// Every kind a plan can hold ran in some spec's network: a kind
	// added later without a spec that uses it fails here. (Concats are
	// all elided in these networks and no spec uses DARTS' none:
	// TestConcatAndAdd and TestZero cover them.)
	for _, k := range []ir.Kind{ir.Conv, ir.DWConv, ir.BatchNorm, ir.ReLU, ir.AvgPool, ir.MaxPool, ir.Add,
		ir.Shift, ir.LayerNorm, ir.InstNorm, ir.DropPath, ir.GlobalAvg, ir.Dropout, ir.Dense} {
		if !seen[k] && !t.Failed() {
			t.Errorf("no spec's network has a %s op: the parity test does not cover it", k)
		}
	}
}

// TestInferenceParity compares the BN-folded inference plans.
func TestInferenceParity(t *testing.T) {
	b := testBackend(t)
	specs, _ := filepath.Glob("../../specs/*.cell")
	for _, spec := range specs {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			compareBackends(t, b, smallPlan(t, spec, false, nil), 3)
		})
	}
}

func compareBackends(t *testing.T, b *Backend, p *plan.Plan, batch int) {
	t.Helper()
	opts := runtime.Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Workers: 1, Seed: 11}
	cpu, err := runtime.CPU{}.Compile(p, batch, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	gpu, err := b.Compile(p, batch, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	// The same parameters on both, perturbed from TF-slim's
	// initialisation so that batch-norm parameters are not all 1 and 0.
	r := rand.New(rand.NewPCG(3, 4))
	for i := range cpu.Params().Data {
		cpu.Params().Data[i] += 0.05 * float32(r.NormFloat64())
	}
	for i, s := range cpu.Params().Specs {
		if s.Kind == plan.MovingVariance {
			v := cpu.Params().Value(i)
			for j := range v {
				v[j] = 0.5 + float32(r.Float64())
			}
		}
	}
	copy(gpu.Params().Data, cpu.Params().Data)
	x := make([]float32, batch*p.Input.Shape.Elems())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	steps := 1
	if p.Training {
		steps = 2
	}
	for step := 0; step < steps; step++ {
		lc, ac := cpu.Forward(x, batch, 0.5)
		lg, ag := gpu.Forward(x, batch, 0.5)
		if e, i := scaled(lg, lc); e > 1e-4 {
			t.Fatalf("step %d: logits differ: max relative error %.3g at %d (gpu %g, cpu %g)", step, e, i, lg[i], lc[i])
		}
		if ac != nil {
			if e, i := scaled(ag, ac); e > 1e-4 {
				t.Fatalf("step %d: aux logits differ: max relative error %.3g at %d", step, e, i)
			}
		}
		if !p.Training {
			checkGraphs(t, gpu, 1)
			return
		}
		dl := make([]float32, len(lc))
		for i := range dl {
			dl[i] = float32(r.NormFloat64())
		}
		var da []float32
		if ac != nil {
			da = make([]float32, len(ac))
			for i := range da {
				da[i] = float32(r.NormFloat64())
			}
		}
		cpu.Params().ZeroGrad()
		gpu.Params().ZeroGrad()
		cpu.Backward(dl, da)
		gpu.Backward(dl, da)
		P := cpu.Params()
		// Each tensor is compared relative to its largest entry, but a
		// tensor whose entries are all below 1e-4 of the network's
		// largest gradient is zero up to rounding (a batch norm's beta
		// under a layer norm, which removes any shift).
		global := 0.0
		for _, v := range P.Grad {
			global = math.Max(global, math.Abs(float64(v)))
		}
		for i, s := range P.Specs {
			if !s.Trainable {
				continue
			}
			gc, gg := P.Gradient(i), gpu.Params().Gradient(i)
			scale := 1e-4 * global
			for _, v := range gc {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			if e, j := maxRelErr(gg, gc, scale); e > 2e-3 {
				t.Errorf("step %d: gradient of %s (%s) differs: %.3g relative to its largest entry, at %d (gpu %g, cpu %g)", step, s.Name, s.Kind, e, j, gg[j], gc[j])
			}
		}
		for i, s := range P.Specs {
			if s.Kind == plan.MovingMean || s.Kind == plan.MovingVariance {
				if e, j := maxRelErr(gpu.Params().Value(i), P.Value(i), 1e-3); e > 1e-4 {
					t.Errorf("step %d: %s differs after the step: %.3g at %d", step, s.Name, e, j)
				}
			}
		}
		if t.Failed() {
			return
		}
	}
	// Evaluation mode on the training plan: moving statistics, no masks.
	cpu.SetTraining(false)
	gpu.SetTraining(false)
	lc, _ := cpu.Forward(x, batch, 1)
	lg, _ := gpu.Forward(x, batch, 1)
	if e, i := scaled(lg, lc); e > 1e-4 {
		t.Fatalf("evaluation logits differ: %.3g at %d", e, i)
	}
	checkGraphs(t, gpu, 3) // training forward, backward, evaluation forward
}

// checkGraphs checks that the executable ran its passes from CUDA graphs,
// capturing each kind of pass once and replaying it after.
func checkGraphs(t *testing.T, ex runtime.Executable, want int) {
	t.Helper()
	e := ex.(*executable)
	if e.graphsOff {
		if os.Getenv("CELLC_CUDA_GRAPHS") == "0" {
			return
		}
		t.Fatalf("graphs turned off: %v", e.graphErr)
	}
	if e.captures != want {
		t.Errorf("%d graphs captured, want %d", e.captures, want)
	}
}

// TestWithoutGraphs runs one network with CUDA graphs off, launch by
// launch.
func TestWithoutGraphs(t *testing.T) {
	t.Setenv("CELLC_CUDA_GRAPHS", "0")
	b := testBackend(t)
	p := smallPlan(t, "../../specs/nasnet_a.cell", true, func(c *compiler.Config) { c.DropPathKeepProb = 0.7 })
	compareBackends(t, b, p, 2)
}

// TestPrecision: tf32 compiles and sets the GEMMs' math mode for its
// passes; bf16 is refused, not run as fp32.
func TestPrecision(t *testing.T) {
	b := testBackend(t)
	p := smallPlan(t, "../../specs/nasnet_a.cell", false, nil)
	ex, err := b.Compile(p, 2, runtime.Options{Precision: "tf32"})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ex.Forward(make([]float32, 2*p.Input.Shape.Elems()), 2, 1)
	if em, ok := b.dev.(*emulator); ok && !em.tf32 {
		t.Error("a tf32 pass left the GEMMs in fp32 mode")
	}
	if _, err := b.Compile(p, 2, runtime.Options{Precision: "bf16"}); err == nil {
		t.Error("bf16 compiled; it is not implemented and must be refused")
	}
	if _, err := b.Compile(p, 2, runtime.Options{Precision: "fp64"}); err == nil {
		t.Error("an unknown precision compiled")
	}
}

// TestPlanMemoryIsExact: the device holds for fused steps'
// intermediates exactly what the plan's Exec decisions say, as the CPU
// backend does (runtime's test of the same name).
func TestPlanMemoryIsExact(t *testing.T) {
	b := testBackend(t)
	specs, _ := filepath.Glob("../../specs/*.cell")
	for _, spec := range specs {
		for _, training := range []bool{true, false} {
			p := smallPlan(t, spec, training, nil)
			const batch = 3
			ex, err := b.Compile(p, batch, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := ex.(*executable).intermediates
			ex.Close()
			if want := p.Memory.Intermediates * batch; got != want {
				t.Errorf("%s (training %v): allocated %d bytes of intermediates, the plan says %d", filepath.Base(spec), training, got, want)
			}
		}
	}
}

// TestGraphPerBatchSize: a smaller last batch captures a graph of its
// own, and each size's graph is replayed after.
func TestGraphPerBatchSize(t *testing.T) {
	b := testBackend(t)
	p := smallPlan(t, "../../specs/nasnet_a.cell", false, nil)
	opts := runtime.Options{Workers: 1, Seed: 2}
	cpu, err := runtime.CPU{}.Compile(p, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	gpu, err := b.Compile(p, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	copy(gpu.Params().Data, cpu.Params().Data)
	r := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, 3*p.Input.Shape.Elems())
	for _, n := range []int{3, 2, 3, 2, 1} {
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		lc, _ := cpu.Forward(x, n, 1)
		lg, _ := gpu.Forward(x, n, 1)
		if len(lg) != len(lc) {
			t.Fatalf("n=%d: %d logits, want %d", n, len(lg), len(lc))
		}
		if e, i := scaled(lg, lc); e > 1e-4 {
			t.Fatalf("n=%d: logits differ by %.3g at %d", n, e, i)
		}
	}
	checkGraphs(t, gpu, 3) // n = 3, 2 and 1
}
