package runtime

import (
	"math/rand/v2"
	goruntime "runtime"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
)

// cifarPlan compiles NASNet-A with TF-slim's cifar_config, N cells per
// stage and base filters (num_conv_filters) base: 6 and 32 are the paper's
// 6 @ 768, 2 and 16 the search-size child network.
func cifarPlan(tb testing.TB, n, base int, training bool) *plan.Plan {
	tb.Helper()
	return smallPlan(tb, "../specs/nasnet_a.cell", training, func(c *compiler.Config) {
		*c, _ = compiler.Preset("cifar")
		c.N, c.BaseFilters, c.Filters, c.Training = n, base, 0, training
	})
}

// benchNets are the networks the benchmarks time, at batch 32.
var benchNets = []struct {
	name    string
	n, base int
}{
	{"NASNet-A_6@768", 6, 32},
	{"N2_base16", 2, 16},
}

const benchBatch = 32

// benchInput is a batch of random images and labels.
func benchInput(p *plan.Plan, batch int) ([]float32, []int) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*p.Input.Shape.Elems())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = r.IntN(p.Output.Shape.C)
	}
	return x, labels
}

// newBenchStepper compiles a training plan with the CIFAR recipe's
// optimiser and runs warmup steps.
func newBenchStepper(tb testing.TB, p *plan.Plan, batch, workers, warmup int) (*Stepper, []float32, []int) {
	tb.Helper()
	ex, err := CPU{}.Compile(p, batch, Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Workers: workers, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ex.Close() })
	r := CIFARRecipe()
	st := NewStepper(ex, NewOptimizer(r, ex.Params()), r, p.Output.Shape.C, batch)
	x, labels := benchInput(p, batch)
	for range warmup {
		if _, err := st.Train(x, labels, batch, 300, 0.5); err != nil {
			tb.Fatal(err)
		}
	}
	return st, x, labels
}

// BenchmarkTrainStep times one training step (forward, loss, backward,
// SGD with momentum, weight decay and clipping) at batch 32 on all cores.
func BenchmarkTrainStep(b *testing.B) {
	for _, nt := range benchNets {
		b.Run(nt.name, func(b *testing.B) {
			p := cifarPlan(b, nt.n, nt.base, true)
			st, x, labels := newBenchStepper(b, p, benchBatch, 0, 1)
			for b.Loop() {
				if _, err := st.Train(x, labels, benchBatch, 300, 0.5); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkInference times the inference plan's forward pass at batch 32
// on all cores.
func BenchmarkInference(b *testing.B) {
	for _, nt := range benchNets {
		b.Run(nt.name, func(b *testing.B) {
			p := cifarPlan(b, nt.n, nt.base, false)
			ex, err := CPU{}.Compile(p, benchBatch, Options{BatchNormEpsilon: 1e-3, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer ex.Close()
			x, _ := benchInput(p, benchBatch)
			ex.Forward(x, benchBatch, 1)
			for b.Loop() {
				ex.Forward(x, benchBatch, 1)
			}
			b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// TestTrainStepAllocs checks that a steady-state training step (forward,
// loss, backward, optimiser update) allocates nothing: every buffer,
// scratch area and loop body is made when the plan is compiled.
func TestTrainStepAllocs(t *testing.T) {
	// The small network with everything a training plan can hold: aux
	// head, drop path and dropout.
	p := smallPlan(t, "../specs/nasnet_a.cell", true, func(c *compiler.Config) {
		c.DropPathKeepProb, c.DenseDropoutKeepProb = 0.8, 0.5
	})
	const batch = 4
	// One worker: AllocsPerRun runs on one P, where a second worker only
	// adds the Go runtime's own occasional sudog allocations (see
	// TestTrainStepAllocsParallel, which bounds those on two Ps).
	for _, workers := range []int{1} {
		st, x, labels := newBenchStepper(t, p, batch, workers, 2)
		allocs := testing.AllocsPerRun(5, func() {
			if _, err := st.Train(x, labels, batch, 300, 0.5); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%d workers: a training step allocates %v times; want 0", workers, allocs)
		}
	}
}

// TestTrainStepAllocsParallel runs the steps on two Ps, which
// AllocsPerRun does not (it sets GOMAXPROCS to 1). There the Go runtime
// itself now and then allocates a sudog, the record of a blocked
// goroutine, when a worker or workers.run parks after spinning
// (runtime/workers.go, sync.Cond.Wait): a goroutine takes its sudog from
// its P's cache and may give it back to another P's, so one P's cache
// can run dry, and the central cache is dropped at every GC
// (runtime.acquireSudog → new(sudog)). That is a few allocations per
// hundred steps, from no line of cellc; an allocation of the executor's
// own would be at least one per step. (A runtime.Gosched in the spin
// loops made it about one every third step: they do not yield.)
func TestTrainStepAllocsParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	p := smallPlan(t, "../specs/nasnet_a.cell", true, func(c *compiler.Config) {
		c.DropPathKeepProb, c.DenseDropoutKeepProb = 0.8, 0.5
	})
	const batch, steps, rounds = 4, 100, 3
	// Warm up long enough for the runtime's sudog caches to fill.
	st, x, labels := newBenchStepper(t, p, batch, 2, 20)
	// The workers park (and the runtime's sudogs move between Ps) far more
	// often when the machine has more busy threads than cores, as when
	// go test runs other packages beside this one: the fewest allocations
	// of a few rounds is the figure, since an allocation of the
	// executor's own would show in every round.
	fewest := uint64(1 << 62)
	for range rounds {
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		for range steps {
			if _, err := st.Train(x, labels, batch, 300, 0.5); err != nil {
				t.Fatal(err)
			}
		}
		goruntime.ReadMemStats(&after)
		n := after.Mallocs - before.Mallocs
		t.Logf("%d allocations in %d steps on 2 Ps", n, steps)
		fewest = min(fewest, n)
	}
	if fewest >= steps/2 {
		t.Errorf("at least %d allocations in each round of %d training steps on 2 Ps: the executor allocates per step", fewest, steps)
	}
}

// TestInferenceAllocs checks the same of an inference forward pass.
func TestInferenceAllocs(t *testing.T) {
	p := smallPlan(t, "../specs/nasnet_a.cell", false, nil)
	const batch = 4
	ex, err := CPU{}.Compile(p, batch, Options{Workers: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	x, _ := benchInput(p, batch)
	ex.Forward(x, batch, 1)
	if allocs := testing.AllocsPerRun(5, func() { ex.Forward(x, batch, 1) }); allocs != 0 {
		t.Errorf("an inference pass allocates %v times; want 0", allocs)
	}
}
