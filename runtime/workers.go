package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workers is a fixed pool of goroutines that run slices of a loop. The
// loop bodies are closures built once when a plan is compiled and each
// job is written into its worker's mailbox, so running a step allocates
// nothing.
//
// A training step runs a thousand or more loops one after another (every
// op of the forward and backward passes), each a few hundred
// microseconds. A worker that parked between them would be woken through
// the OS for each: on a VM that wake-up alone took 50–90 µs, which left
// each core idle 15 % of a 6@768 training step. So a worker that finds
// no job spins for spinFor before it parks, and so does the caller
// waiting for the workers to finish. The spinning does not yield
// (runtime.Gosched, even once in a thousand looks, cost the runtime an
// allocation about every third step). So a pool does not spin at all
// where a spinning worker would hold a core that the one it waits for
// needs: with more workers than Ps, or with the cores shared with other
// pools (Options.SharedCores: two pools of two workers on two cores took
// 2.5× as long spinning as parking, and an adaptive spin budget that
// fixed that lost the small child's gain).
type workers struct {
	n    int
	spin time.Duration
	box  []mailbox
	// pending counts the workers still running the current job;
	// sleepers those parked (or about to park) on wake or done, which
	// whoever makes their wait end then broadcasts to: while nobody
	// sleeps, posting a job and finishing one take no lock.
	pending  atomic.Int32
	sleepers atomic.Int32
	closed   atomic.Bool

	mu         sync.Mutex
	wake, done *sync.Cond // a job was posted (or the pool closed); a job finished
}

// mailbox is one worker's job: fn over [lo, hi), posted when seq moves
// on. Only run writes it, and only while the worker is idle.
type mailbox struct {
	seq    atomic.Uint64
	fn     func(w, lo, hi int)
	lo, hi int
	_      [64]byte // keeps each worker's mailbox on its own cache lines
}

// spinFor is how long an idle worker, or the caller waiting on the
// workers, spins before it parks: longer than most gaps between one loop
// and the next, short enough that a pool between passes soon stops
// taking CPU time.
const spinFor = 200 * time.Microsecond

// newWorkers starts a pool of n workers; shared says other pools
// compute on the same cores at the same time.
func newWorkers(n int, shared bool) *workers {
	p := &workers{n: max(n, 1), spin: spinFor}
	if shared || p.n > goruntime.GOMAXPROCS(0) {
		p.spin = 0
	}
	p.box = make([]mailbox, p.n)
	p.wake, p.done = sync.NewCond(&p.mu), sync.NewCond(&p.mu)
	for w := 1; w < p.n; w++ {
		go p.loop(w)
	}
	return p
}

// loop is worker w: it runs each job posted to its mailbox.
func (p *workers) loop(w int) {
	m := &p.box[w]
	var last uint64
	posted := func() bool { return m.seq.Load() != last || p.closed.Load() }
	for {
		p.await(posted, p.wake)
		if p.closed.Load() {
			return
		}
		last = m.seq.Load()
		m.fn(w, m.lo, m.hi)
		if p.pending.Add(-1) == 0 {
			p.signal(p.done)
		}
	}
}

// await returns once ready reports true: it spins for p.spin, then
// parks on c, which whoever makes ready true broadcasts under p.mu.
func (p *workers) await(ready func() bool, c *sync.Cond) {
	var start time.Time
	for i := 0; !ready(); i++ {
		if i&63 != 63 {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		} else if time.Since(start) > p.spin {
			// Counted as a sleeper before ready is checked under the
			// lock: whoever makes ready true afterwards sees the count
			// and broadcasts, so the wake-up is not lost.
			p.mu.Lock()
			p.sleepers.Add(1)
			for !ready() {
				c.Wait()
			}
			p.sleepers.Add(-1)
			p.mu.Unlock()
			return
		}
	}
}

// run calls fn over [0, count) split into contiguous ranges, one per
// worker; worker 0 is the caller.
func (p *workers) run(count int, fn func(w, lo, hi int)) {
	if count <= 0 {
		return
	}
	k := min(p.n, count)
	if k == 1 {
		fn(0, 0, count)
		return
	}
	p.pending.Store(int32(k - 1))
	for w := 1; w < k; w++ {
		m := &p.box[w]
		m.fn, m.lo, m.hi = fn, w*count/k, (w+1)*count/k
		m.seq.Add(1)
	}
	p.signal(p.wake)
	fn(0, 0, count/k)
	p.await(p.finished, p.done)
}

// signal wakes whoever sleeps on c, once its wait has ended.
func (p *workers) signal(c *sync.Cond) {
	if p.sleepers.Load() > 0 {
		p.mu.Lock()
		c.Broadcast()
		p.mu.Unlock()
	}
}

// finished reports whether every worker is done with the current job.
func (p *workers) finished() bool { return p.pending.Load() == 0 }

func (p *workers) close() {
	if p.closed.Swap(true) {
		return
	}
	p.signal(p.wake)
}
