package runtime

import (
	goruntime "runtime"
	"sync/atomic"
	"testing"
)

// TestWorkersRunEveryIndexOnce runs loops of every size up to a few times
// the worker count, spinning and not, and checks that each index runs
// exactly once, by the worker the split gives it, before run returns.
func TestWorkersRunEveryIndexOnce(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(4))
	for _, shared := range []bool{false, true} {
		for _, n := range []int{1, 2, 3, 4} {
			p := newWorkers(n, shared)
			for count := range 3*n + 2 {
				hits := make([]atomic.Int32, count)
				p.run(count, func(w, lo, hi int) {
					k := min(n, count)
					if lo != w*count/k || hi != (w+1)*count/k {
						t.Errorf("worker %d of %d got [%d, %d) of %d", w, k, lo, hi, count)
					}
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Fatalf("shared %v, %d workers, %d indices: index %d ran %d times", shared, n, count, i, h)
					}
				}
			}
			p.close()
		}
	}
}

// TestWorkersSpinOnlyAlone checks that a pool spins only when its workers
// have the cores to themselves: not with more workers than Ps, and not
// when the cores are shared with other pools (Options.SharedCores).
func TestWorkersSpinOnlyAlone(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	for _, tc := range []struct {
		n      int
		shared bool
		spins  bool
	}{{2, false, true}, {2, true, false}, {3, false, false}} {
		p := newWorkers(tc.n, tc.shared)
		if got := p.spin > 0; got != tc.spins {
			t.Errorf("%d workers on 2 Ps, shared %v: spins %v, want %v", tc.n, tc.shared, got, tc.spins)
		}
		p.close()
	}
}
