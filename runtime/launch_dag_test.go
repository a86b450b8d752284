package runtime

import (
	"math"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"cellc/compiler"
)

// TestLaunchDAGMatchesSequential checks that images run with their launches
// spread across workers (a batch of one, or what a batch leaves over
// after an even split) give bit for bit the logits of one worker running
// the launches in order, for several networks, worker counts and batch
// sizes, also after the weights change between passes (the one-image
// executable reads the weights its outer executable packs). Run with
// -race, it also checks that launchDeps orders every pair of launches that
// share memory.
func TestLaunchDAGMatchesSequential(t *testing.T) {
	for _, spec := range []string{"nasnet_a", "amoebanet_a", "darts_v2", "enas", "pnasnet5"} {
		t.Run(spec, func(t *testing.T) {
			p := smallPlan(t, "../specs/"+spec+".cell", false, func(c *compiler.Config) { c.AuxHead = false })
			const batch = 5
			x, _ := benchInput(p, batch)
			compile := func(workers int) *cpuExec {
				ex, err := CPU{}.Compile(p, batch, Options{Workers: workers, Seed: 3})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ex.Close() })
				return ex.(*cpuExec)
			}
			ref := compile(1)
			if ref.single != nil {
				t.Fatal("one worker: a one-image executable was built")
			}
			want := append([]float32(nil), first(ref.Forward(x, batch, 1))...)
			classes := p.Output.Shape.C
			for _, workers := range []int{2, 3} {
				ex := compile(workers)
				if ex.single == nil || ex.single.dag == nil {
					t.Fatalf("%d workers: no one-image executable", workers)
				}
				// Batch 1 five times: both of modePicker's modes.
				for _, n := range []int{batch, 1, 3, 1, 1, 1, 1} {
					got := first(ex.Forward(x, n, 1))
					same(t, got, want[:n*classes], "%d workers, batch %d", workers, n)
				}
				if ex.modes.seen[0] < 2 || ex.modes.seen[1] < 2 {
					t.Errorf("%d workers: passes by mode %v; want both tried", workers, ex.modes.seen)
				}
			}
			// New weights: both executables pack them again.
			ex := compile(2)
			for _, e := range []*cpuExec{ref, ex} {
				for i := range e.params.Data {
					e.params.Data[i] *= 1.25
				}
			}
			want = append(want[:0], first(ref.Forward(x, 1, 1))...)
			same(t, first(ex.Forward(x, 1, 1)), want, "new weights, 2 workers, batch 1")
		})
	}
}

func first(a, _ []float32) []float32 { return a }

func same(t *testing.T, got, want []float32, format string, args ...any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf(format+": %d logits, want %d", append(args, len(got), len(want))...)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf(format+": logit %d is %v, want %v (bit for bit)", append(args, i, got[i], want[i])...)
		}
	}
}

// TestRenameBuffersBounded checks that renaming keeps at most the given
// number of copies of each buffer and frees launches from waiting on ones
// they only shared a buffer with: NASNet-A's cells then have independent
// branches.
func TestRenameBuffersBounded(t *testing.T) {
	p := smallPlan(t, "../specs/nasnet_a.cell", false, func(c *compiler.Config) { c.AuxHead = false })
	q := renameBuffers(p, 4)
	if len(q.Buffers) > 4*len(p.Buffers) {
		t.Errorf("%d buffers renamed into %d; want at most 4 copies each", len(p.Buffers), len(q.Buffers))
	}
	chain := func(deps [][]int32) int {
		// The longest chain of waits, in launches.
		depth := make([]int, len(deps))
		longest := 0
		for j, ds := range deps {
			for _, i := range ds {
				depth[j] = max(depth[j], depth[i]+1)
			}
			longest = max(longest, depth[j]+1)
		}
		return longest
	}
	before, after := chain(launchDeps(p)), chain(launchDeps(q))
	t.Logf("%d launches: longest chain %d with the plan's buffers, %d renamed", len(p.Launches), before, after)
	if after >= before || 2*after > len(p.Launches)+1 {
		t.Errorf("longest chain of %d launches: %d with the plan's buffers, %d renamed; want under half", len(p.Launches), before, after)
	}
}

// TestInferenceAllocsOneImage checks that a batch-1 pass with its
// launches spread across two workers allocates nothing of the
// executor's own, on two Ps (see TestTrainStepAllocsParallel for the Go
// runtime's own occasional allocations when a worker parks).
func TestInferenceAllocsOneImage(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	p := smallPlan(t, "../specs/nasnet_a.cell", false, nil)
	ex, err := CPU{}.Compile(p, 1, Options{Workers: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	x, _ := benchInput(p, 1)
	for range 20 {
		ex.Forward(x, 1, 1)
	}
	const passes = 200
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for range passes {
		ex.Forward(x, 1, 1)
	}
	goruntime.ReadMemStats(&after)
	n := after.Mallocs - before.Mallocs
	t.Logf("%d allocations in %d passes on 2 Ps", n, passes)
	if n >= passes/2 {
		t.Errorf("%d allocations in %d batch-1 passes on 2 workers: the executor allocates per pass", n, passes)
	}
}

// TestModePicker checks that the picker tries both modes, then keeps to
// the faster and tries the other every probeEvery passes.
func TestModePicker(t *testing.T) {
	var m modePicker
	pass := func(spreadTime, oneTime time.Duration) bool {
		s := m.spread()
		if s {
			m.record(s, spreadTime)
		} else {
			m.record(s, oneTime)
		}
		return s
	}
	var got []bool
	for range 4 {
		got = append(got, pass(time.Millisecond, 2*time.Millisecond))
	}
	if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Fatalf("first passes spread %v; want %v", got, want)
	}
	spread, probes := 0, 0
	for range 4 * probeEvery {
		if pass(time.Millisecond, 2*time.Millisecond) {
			spread++
		} else {
			probes++
		}
	}
	if probes != 4 {
		t.Errorf("spreading faster: %d passes on one worker per image in %d; want 4 probes", probes, 4*probeEvery)
	}
	// The machine gets busy: spreading becomes slower, and the picker
	// moves to one worker per image after a few probes.
	for range 20 * probeEvery {
		pass(3*time.Millisecond, 2*time.Millisecond)
	}
	spread = 0
	for range 2 * probeEvery {
		if pass(3*time.Millisecond, 2*time.Millisecond) {
			spread++
		}
	}
	if spread != 2 {
		t.Errorf("spreading slower: %d of %d passes spread; want 2 probes", spread, 2*probeEvery)
	}
}
