package runtime

import "sync"

// workers is a fixed pool of goroutines that run slices of a loop. Jobs
// are values sent on channels and the loop bodies are closures built once
// when a plan is compiled, so running a step allocates nothing.
type workers struct {
	n    int
	jobs []chan job
	wg   sync.WaitGroup
	once sync.Once
}

type job struct {
	fn     func(w, lo, hi int)
	lo, hi int
}

func newWorkers(n int) *workers {
	p := &workers{n: max(n, 1)}
	p.jobs = make([]chan job, p.n)
	for w := 1; w < p.n; w++ {
		ch := make(chan job)
		p.jobs[w] = ch
		go func(w int) {
			for j := range ch {
				j.fn(w, j.lo, j.hi)
				p.wg.Done()
			}
		}(w)
	}
	return p
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
	p.wg.Add(k - 1)
	for w := 1; w < k; w++ {
		p.jobs[w] <- job{fn: fn, lo: w * count / k, hi: (w + 1) * count / k}
	}
	fn(0, 0, count/k)
	p.wg.Wait()
}

func (p *workers) close() {
	p.once.Do(func() {
		for _, ch := range p.jobs[1:] {
			close(ch)
		}
	})
}
