package runtime

import (
	goruntime "runtime"
	"sync/atomic"

	"cellc/compiler/plan"
)

// launchDAG runs the launches of one image on all workers at once, for
// latency: a batch smaller than the worker count would leave workers idle
// in image-major order, while a NASNet cell has several independent
// branches. Each worker takes the first launch in plan order, among the
// next lookahead ones not yet taken, whose dependencies (launchDeps) are
// done, so the earliest launches, which the rest wait on, go first, and every
// launch computes exactly what it computes when the launches run one after
// another: the results do not depend on the worker count.
type launchDAG struct {
	launches [][]*cpuOp // each launch's ops that run (fused ones are applied by the next)
	deps     [][]int32
	// taken[j] and done[j] are the pass in which launch j was last taken
	// and finished; front is a launch before which all are taken; pass
	// counts forward passes (never 0, the initial state).
	taken, done []atomic.Uint32
	front       atomic.Int32
	pass        uint32
	run         func(w, lo, hi int)
	// packs, set for a pass, has each launch first bring its ops' packed
	// weights up to date (packOwner), as the outer executable would have
	// before the pass.
	packs bool
	// sleepers counts the workers parked on wake, which a finished
	// launch then signals (see run).
	sleepers atomic.Int32
	wake     chan struct{}
}

// spinLimit is how many looks for a ready launch an idle worker makes
// (tens of microseconds) before it parks until a launch finishes: waits
// are usually shorter than that, but on a machine with more busy threads
// than cores the launch it waits on may be on a thread the OS has
// descheduled, and spinning on would keep that thread off the core.
const spinLimit = 512

// lookahead is how far past the first launch not yet taken a worker looks
// for one it can run: a NASNet cell's branches are within ten launches.
const lookahead = 16

func newLaunchDAG(e *cpuExec, deps [][]int32) *launchDAG {
	n := len(e.steps)
	d := &launchDAG{deps: deps, taken: make([]atomic.Uint32, n), done: make([]atomic.Uint32, n), wake: make(chan struct{}, e.pool.n)}
	for _, s := range e.steps {
		var ops []*cpuOp
		for _, op := range s.ops {
			if !op.fusedInto && !op.pairedInto {
				ops = append(ops, op)
			}
		}
		d.launches = append(d.launches, ops)
	}
	d.run = func(w, _, _ int) {
		pass := d.pass
		for idle := 0; ; {
			j, all := d.take(pass)
			if all {
				return
			}
			if j < 0 {
				// Every launch in reach waits on one that another worker
				// runs, usually for microseconds: spin, yielding now and
				// then to what else the Go scheduler has, then park.
				if idle++; idle < spinLimit {
					if idle%64 == 0 {
						goruntime.Gosched()
					}
					continue
				}
				idle = 0
				// Counted before the last look, so that a launch that
				// finishes after it sees the count and wakes this worker.
				d.sleepers.Add(1)
				if j, all = d.take(pass); j < 0 && !all {
					<-d.wake
				}
				d.sleepers.Add(-1)
				if j < 0 {
					continue
				}
			}
			idle = 0
			for _, op := range d.launches[j] {
				if d.packs && op.packOwner != nil && (op.packOwner.packed != nil || op.packOwner.packedT != nil) {
					op.packOwner.packWeights(e)
				}
				op.fwd(w, 0, 1)
			}
			d.done[j].Store(pass)
			// Wake every parked worker: one that finds nothing to run
			// parks again, but the one this launch freed must not stay
			// parked when it was the last.
			for k := d.sleepers.Load(); k > 0; k-- {
				select {
				case d.wake <- struct{}{}:
				default: // as many wake-ups as workers are pending
				}
			}
		}
	}
	return d
}

// take claims a launch that is ready to run in this pass and returns it,
// or -1 if none in reach is; all says that every launch has been taken.
func (d *launchDAG) take(pass uint32) (j int, all bool) {
	n := int32(len(d.launches))
	f := d.front.Load()
	for f < n && d.taken[f].Load() == pass {
		if d.front.CompareAndSwap(f, f+1) {
			f++
		} else {
			f = d.front.Load()
		}
	}
	if f >= n {
		return -1, true
	}
scan:
	for k := f; k < min(f+lookahead, n); k++ {
		t := d.taken[k].Load()
		if t == pass {
			continue
		}
		for _, i := range d.deps[k] {
			if d.done[i].Load() != pass {
				continue scan
			}
		}
		if d.taken[k].CompareAndSwap(t, pass) {
			return int(k), false
		}
	}
	return -1, false
}

// forward runs one pass of image 0 on the pool's workers.
func (d *launchDAG) forward(pool *workers) {
	d.pass++
	if d.pass == 0 {
		d.pass = 1
		for i := range d.done {
			d.taken[i].Store(0)
			d.done[i].Store(0)
		}
	}
	d.front.Store(0)
	pool.run(pool.n, d.run)
}

// launchDeps returns, for each launch of p, the earlier launches it must wait
// for when launches run concurrently on one image: those that write what it
// reads, read what it writes, or write what it writes (a view of a plan
// buffer is one range of elements per image). Dependencies that others
// imply are left out.
func launchDeps(p *plan.Plan) [][]int32 {
	type region struct{ buf, lo, hi int }
	reg := func(v plan.View) region { return region{v.Buffer, v.Offset, v.Offset + v.Shape.Elems()} }
	meets := func(a, b region) bool { return a.buf == b.buf && a.lo < b.hi && b.lo < a.hi }
	n := len(p.Launches)
	reads := make([][]region, n)
	writes := make([]region, n)
	for j, st := range p.Launches {
		for _, v := range st.Inputs {
			reads[j] = append(reads[j], reg(v))
		}
		writes[j] = reg(st.Output)
	}
	conflict := func(i, j int) bool {
		if meets(writes[i], writes[j]) {
			return true
		}
		for _, r := range reads[j] {
			if meets(writes[i], r) {
				return true
			}
		}
		for _, r := range reads[i] {
			if meets(r, writes[j]) {
				return true
			}
		}
		return false
	}
	// reach[j] holds every launch that j waits for, directly or not.
	words := (n + 63) / 64
	reach := make([][]uint64, n)
	deps := make([][]int32, n)
	for j := range n {
		reach[j] = make([]uint64, words)
		// Latest first: an earlier conflicting launch that a later
		// dependency already waits for needs no wait of its own.
		for i := j - 1; i >= 0; i-- {
			if reach[j][i/64]&(1<<(i%64)) != 0 || !conflict(i, j) {
				continue
			}
			deps[j] = append(deps[j], int32(i))
			reach[j][i/64] |= 1 << (i % 64)
			for k, b := range reach[i] {
				reach[j][k] |= b
			}
		}
	}
	return deps
}
