package data

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Augment is the training-time augmentation the Loader applies to each
// example, in this order: pad, crop, flip, cutout. The zero value applies
// none. Padding and cutout write 0, which in normalised data is the
// training set's mean colour (cutout's reference implementation also
// zeroes after normalising).
type Augment struct {
	// PadCrop pads each side by PadCrop zeros, then crops back to the
	// output size at a uniformly random offset: CIFAR's 4 takes random
	// 32×32 crops of the 40×40 padded image.
	PadCrop int
	// Crop, when > 0, makes the output Crop×Crop, cut at a random offset
	// from the (padded) image; 0 keeps the data set's size. Use it to
	// train on random crops of larger stored images (see ImageFolder).
	Crop int
	// Flip mirrors each image left–right with probability 1/2.
	Flip bool
	// Cutout, when > 0, zeroes a Cutout×Cutout square centred at a
	// uniformly random pixel (clipped at the borders), as in DeVries &
	// Taylor 2017, whose CIFAR-10 setting (16) the paper's cutout
	// results use.
	Cutout int
}

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	BatchSize int    // examples per batch, > 0
	Shuffle   bool   // a new random order each epoch, from (Seed, epoch)
	Seed      uint64 // seeds the shuffle and every augmentation
	Augment   Augment
	Prefetch  int  // batches prepared ahead of the consumer; 0 means 2
	Workers   int  // goroutines preparing examples; 0 means GOMAXPROCS
	DropLast  bool // drop a final batch smaller than BatchSize
}

// Batch is a batch of N images in NCHW order (X holds N*C*H*W values, C, H
// and W being Loader.Shape()'s) and their labels. Step is its position in
// the epoch. A Batch shares memory with the Loader: see EpochIter.Next for
// how long it stays valid.
type Batch struct {
	X      []float32
	Labels []int
	N      int
	Step   int
}

// Loader batches a Dataset, shuffling and augmenting it with a pipeline of
// goroutines that runs ahead of the consumer. What it yields depends only
// on the data set, the configuration and the epoch: not on Workers or
// Prefetch, nor on timing. A Loader may run several epochs in turn (or at
// once); their batch buffers are kept and reused.
type Loader struct {
	ds    Dataset
	cfg   LoaderConfig
	in    Shape
	out   Shape
	steps int
	err   error

	mu     sync.Mutex
	pool   []*batchBuf
	live   map[*EpochIter]struct{}
	closed bool
}

// NewLoader returns a Loader over ds. A configuration error (a
// non-positive batch size, a crop larger than the padded image, negative
// values) is reported by Err and by every epoch's iterator.
func NewLoader(ds Dataset, cfg LoaderConfig) *Loader {
	l := &Loader{ds: ds, cfg: cfg, live: map[*EpochIter]struct{}{}}
	if ds == nil {
		l.err = fmt.Errorf("data: NewLoader: nil data set")
		return l
	}
	l.in = ds.Shape()
	l.out = l.in
	a := cfg.Augment
	if a.Crop > 0 {
		l.out.H, l.out.W = a.Crop, a.Crop
	}
	switch {
	case l.in.C <= 0 || l.in.H <= 0 || l.in.W <= 0:
		l.err = fmt.Errorf("data: NewLoader: data set has shape %v", l.in)
	case cfg.BatchSize <= 0:
		l.err = fmt.Errorf("data: NewLoader: batch size %d, want > 0", cfg.BatchSize)
	case cfg.Prefetch < 0 || cfg.Workers < 0:
		l.err = fmt.Errorf("data: NewLoader: negative Prefetch (%d) or Workers (%d)", cfg.Prefetch, cfg.Workers)
	case a.PadCrop < 0 || a.Crop < 0 || a.Cutout < 0:
		l.err = fmt.Errorf("data: NewLoader: negative augmentation %+v", a)
	case l.out.H > l.in.H+2*a.PadCrop || l.out.W > l.in.W+2*a.PadCrop:
		l.err = fmt.Errorf("data: NewLoader: crop %d is larger than the %dx%d images padded by %d",
			a.Crop, l.in.H, l.in.W, a.PadCrop)
	}
	if l.cfg.Prefetch == 0 {
		l.cfg.Prefetch = 2
	}
	if l.cfg.Workers == 0 {
		l.cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if l.err == nil {
		n := ds.Len()
		l.steps = n / cfg.BatchSize
		if !cfg.DropLast && n%cfg.BatchSize != 0 {
			l.steps++
		}
	}
	return l
}

// Err returns the configuration error, if any.
func (l *Loader) Err() error { return l.err }

// Shape is the shape of one output image (the data set's, or Crop×Crop).
func (l *Loader) Shape() Shape { return l.out }

// Steps is the number of batches in an epoch.
func (l *Loader) Steps() int { return l.steps }

// Dataset returns the data set the Loader reads.
func (l *Loader) Dataset() Dataset { return l.ds }

// Close stops every running epoch (their Err becomes ErrClosed) and makes
// later epochs fail at once.
func (l *Loader) Close() {
	l.mu.Lock()
	l.closed = true
	its := make([]*EpochIter, 0, len(l.live))
	for it := range l.live {
		its = append(its, it)
	}
	l.mu.Unlock()
	for _, it := range its {
		it.Close()
	}
}

// batchBuf is one batch's memory and its progress through the pipeline.
type batchBuf struct {
	x       []float32
	labels  []int
	idx     []int32 // dataset index of each example
	n, step int
	pending atomic.Int32  // chunks not yet done
	done    chan struct{} // receives one token when pending reaches 0

	mu     sync.Mutex
	err    error
	errPos int
}

func (b *batchBuf) fail(pos int, err error) {
	b.mu.Lock()
	if b.err == nil || pos < b.errPos {
		b.err, b.errPos = err, pos
	}
	b.mu.Unlock()
}

type job struct {
	b      *batchBuf
	lo, hi int
}

// EpochIter yields one epoch's batches in order. Use it from one
// goroutine (Close may also be called from another).
type EpochIter struct {
	l      *Loader
	epoch  int
	order  []int32 // nil: examples in dataset order
	start  int
	bufs   []*batchBuf
	free   chan *batchBuf
	ready  chan *batchBuf
	jobs   chan job
	quit   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
	once   sync.Once

	cur, prev *batchBuf
	err       error
	finished  bool
}

// Epoch returns an iterator over epoch's batches, already being prepared.
func (l *Loader) Epoch(epoch int) *EpochIter { return l.EpochFrom(epoch, 0) }

// EpochFrom returns an iterator over epoch's batches from step on, the
// same batches Epoch(epoch) yields from its step-th. Skipped examples are
// not read: resuming costs only recomputing the epoch's order.
func (l *Loader) EpochFrom(epoch, step int) *EpochIter {
	it := &EpochIter{l: l, epoch: epoch, start: step, quit: make(chan struct{})}
	if l.err != nil {
		it.finished, it.err = true, l.err
		return it
	}
	if step < 0 || step > l.steps {
		it.finished, it.err = true, fmt.Errorf("data: EpochFrom: step %d outside [0, %d]", step, l.steps)
		return it
	}
	if l.cfg.Shuffle {
		r := rng{seedOf(l.cfg.Seed, streamShuffle, uint64(epoch))}
		it.order = r.perm(l.ds.Len())
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		it.finished, it.err = true, ErrClosed
		return it
	}
	nbuf := l.cfg.Prefetch + 2
	for len(it.bufs) < nbuf {
		var b *batchBuf
		if k := len(l.pool); k > 0 {
			b, l.pool = l.pool[k-1], l.pool[:k-1]
		} else {
			b = &batchBuf{
				x:      make([]float32, l.cfg.BatchSize*l.out.Elems()),
				labels: make([]int, l.cfg.BatchSize),
				idx:    make([]int32, l.cfg.BatchSize),
				done:   make(chan struct{}, 1),
			}
		}
		it.bufs = append(it.bufs, b)
	}
	l.live[it] = struct{}{}
	l.mu.Unlock()

	it.free = make(chan *batchBuf, nbuf)
	it.ready = make(chan *batchBuf, nbuf)
	for _, b := range it.bufs {
		it.free <- b
	}
	workers := l.cfg.Workers
	it.jobs = make(chan job, workers)
	it.wg.Add(1 + workers)
	go it.dispatch()
	for w := 0; w < workers; w++ {
		go it.work()
	}
	return it
}

// dispatch hands out the epoch's batches in order, each split into chunks
// for the workers, as buffers become free.
func (it *EpochIter) dispatch() {
	defer it.wg.Done()
	defer close(it.jobs)
	l := it.l
	bs, n := l.cfg.BatchSize, l.ds.Len()
	chunk := max(1, (bs+l.cfg.Workers-1)/l.cfg.Workers)
	for s := it.start; s < l.steps; s++ {
		var b *batchBuf
		select {
		case b = <-it.free:
		case <-it.quit:
			return
		}
		select { // drop a token a closed epoch's worker left behind
		case <-b.done:
		default:
		}
		lo := s * bs
		b.step, b.n = s, min(bs, n-lo)
		for j := 0; j < b.n; j++ {
			if it.order != nil {
				b.idx[j] = it.order[lo+j]
			} else {
				b.idx[j] = int32(lo + j)
			}
		}
		b.err = nil
		b.pending.Store(int32((b.n + chunk - 1) / chunk))
		it.ready <- b // never blocks: ready holds every buffer
		for j := 0; j < b.n; j += chunk {
			select {
			case it.jobs <- job{b, j, min(j+chunk, b.n)}:
			case <-it.quit:
				return
			}
		}
	}
	close(it.ready)
}

// work prepares chunks of examples until the epoch ends or is closed.
func (it *EpochIter) work() {
	defer it.wg.Done()
	l := it.l
	var scratch []float32
	if l.cfg.Augment != (Augment{}) {
		scratch = make([]float32, l.in.Elems())
	}
	e := l.out.Elems()
	for {
		var j job
		var ok bool
		select {
		case j, ok = <-it.jobs:
			if !ok {
				return
			}
		case <-it.quit:
			return
		}
		b := j.b
		for p := j.lo; p < j.hi; p++ {
			select {
			case <-it.quit:
				return
			default:
			}
			idx := int(b.idx[p])
			dst := b.x[p*e : (p+1)*e]
			var label int
			var err error
			if scratch == nil {
				label, err = l.ds.Example(idx, dst)
			} else if label, err = l.ds.Example(idx, scratch); err == nil {
				r := rng{seedOf(l.cfg.Seed, streamAugment, uint64(it.epoch), uint64(idx))}
				augment(dst, l.out, scratch, l.in, l.cfg.Augment, &r)
			}
			if err == nil && (label < 0 || label >= l.ds.Classes()) {
				err = fmt.Errorf("data: example %d has label %d, want 0..%d", idx, label, l.ds.Classes()-1)
			}
			if err != nil {
				b.fail(p, fmt.Errorf("epoch %d, step %d, example %d: %w", it.epoch, b.step, idx, err))
				break
			}
			b.labels[p] = label
		}
		if b.pending.Add(-1) == 0 {
			b.done <- struct{}{}
		}
	}
}

// Next returns the next batch, or false at the end of the epoch, on an
// error (see Err) or once closed. Batches are prepared ahead in a ring of
// Prefetch+2 buffers: a Batch stays valid until the second Next call after
// the one that returned it, so the consumer may hold the current and the
// previous batch while Prefetch more are prepared. When Next returns false
// the iterator has stopped and its earlier batches are no longer valid.
// Steady-state iteration allocates nothing.
func (it *EpochIter) Next() (Batch, bool) {
	if it.finished {
		return Batch{}, false
	}
	if it.closed.Load() {
		it.finish(ErrClosed)
		return Batch{}, false
	}
	if it.prev != nil {
		it.free <- it.prev // never blocks: free holds every buffer
	}
	it.prev, it.cur = it.cur, nil
	var b *batchBuf
	select {
	case bb, ok := <-it.ready:
		if !ok {
			it.finish(nil)
			return Batch{}, false
		}
		b = bb
	case <-it.quit:
		it.finish(ErrClosed)
		return Batch{}, false
	}
	select {
	case <-b.done:
	case <-it.quit:
		it.finish(ErrClosed)
		return Batch{}, false
	}
	if b.err != nil {
		it.finish(b.err)
		return Batch{}, false
	}
	it.cur = b
	e := it.l.out.Elems()
	return Batch{X: b.x[:b.n*e], Labels: b.labels[:b.n], N: b.n, Step: b.step}, true
}

func (it *EpochIter) finish(err error) {
	it.finished = true
	if it.err == nil {
		it.err = err
	}
	it.Close()
}

// Err returns the error that ended the epoch early: the first failing
// example's (wrapped with its epoch, step and index), a configuration
// error, or ErrClosed. It is nil after a complete epoch.
func (it *EpochIter) Err() error { return it.err }

// Close stops the iterator's goroutines, waits for them and returns its
// buffers to the Loader. Call it when abandoning an epoch early; Next
// calls it at the end. Closing twice is harmless.
func (it *EpochIter) Close() {
	it.once.Do(func() {
		it.closed.Store(true)
		close(it.quit)
		it.wg.Wait()
		l := it.l
		l.mu.Lock()
		if it.bufs != nil {
			l.pool = append(l.pool, it.bufs...)
			it.bufs = nil
		}
		delete(l.live, it)
		l.mu.Unlock()
	})
}
