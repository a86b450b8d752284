package data

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// copied is a batch copied out of the Loader's buffers.
type copied struct {
	x      []float32
	labels []int
	n      int
	step   int
}

// collect runs an iterator to its end, copying every batch.
func collect(t *testing.T, it *EpochIter) []copied {
	t.Helper()
	var out []copied
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		out = append(out, copied{slices.Clone(b.X), slices.Clone(b.Labels), b.N, b.Step})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameBatches(a, b []copied) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].n != b[i].n || a[i].step != b[i].step || !slices.Equal(a[i].x, b[i].x) || !slices.Equal(a[i].labels, b[i].labels) {
			return false
		}
	}
	return true
}

var cifarAug = Augment{PadCrop: 4, Flip: true, Cutout: 8}

func TestLoaderDeterministic(t *testing.T) {
	ds := Synthetic(203, Shape{3, 16, 16}, 10, 5)
	run := func(workers, prefetch, epoch int) []copied {
		l := NewLoader(ds, LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 99, Augment: cifarAug, Workers: workers, Prefetch: prefetch})
		defer l.Close()
		return collect(t, l.Epoch(epoch))
	}
	one := run(1, 1, 3)
	if len(one) != 13 || one[12].n != 203-12*16 {
		t.Fatalf("%d batches, last of %d; want 13, last of 11", len(one), one[len(one)-1].n)
	}
	if four := run(4, 3, 3); !sameBatches(one, four) {
		t.Error("1 and 4 workers give different batches")
	}
	if again := run(3, 0, 3); !sameBatches(one, again) {
		t.Error("a second run gives different batches")
	}
	if other := run(4, 2, 4); sameBatches(one, other) || slices.Equal(one[0].labels, other[0].labels) && slices.Equal(one[1].labels, other[1].labels) {
		t.Error("epochs 3 and 4 give the same batches")
	}
}

// TestLoaderOrder: every example appears once per epoch; the order is a
// new permutation each epoch when shuffling and dataset order when not;
// DropLast drops the short batch.
func TestLoaderOrder(t *testing.T) {
	sh := Shape{1, 2, 2}
	ds := newGrid(50, sh)
	order := func(cfg LoaderConfig, epoch int) []int {
		l := NewLoader(ds, cfg)
		defer l.Close()
		var idx []int
		for _, b := range collect(t, l.Epoch(epoch)) {
			for n := 0; n < b.n; n++ {
				i := gridIndex(b.x[n*sh.Elems()])
				if b.labels[n] != i%10 {
					t.Fatalf("example %d has label %d", i, b.labels[n])
				}
				idx = append(idx, i)
			}
		}
		return idx
	}
	seq := order(LoaderConfig{BatchSize: 8}, 0)
	for i, v := range seq {
		if v != i {
			t.Fatalf("unshuffled order %v", seq)
		}
	}
	e0 := order(LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 1}, 0)
	e1 := order(LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 1}, 1)
	s0 := order(LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 2}, 0)
	for _, o := range [][]int{e0, e1, s0} {
		if !slices.Equal(slices.Sorted(slices.Values(o)), seq) {
			t.Fatalf("shuffled epoch is not a permutation: %v", o)
		}
	}
	if slices.Equal(e0, e1) || slices.Equal(e0, s0) || slices.Equal(e0, seq) {
		t.Error("shuffles of different epochs or seeds agree")
	}
	if dl := order(LoaderConfig{BatchSize: 8, DropLast: true}, 0); len(dl) != 48 {
		t.Errorf("DropLast: %d examples, want 48", len(dl))
	}
	l := NewLoader(ds, LoaderConfig{BatchSize: 8, DropLast: true})
	if l.Steps() != 6 || NewLoader(ds, LoaderConfig{BatchSize: 8}).Steps() != 7 {
		t.Errorf("Steps %d with DropLast, want 6", l.Steps())
	}
}

func TestLoaderResume(t *testing.T) {
	ds := newGrid(100, Shape{3, 8, 8})
	cfg := LoaderConfig{BatchSize: 7, Shuffle: true, Seed: 11, Augment: cifarAug, Workers: 3}
	l := NewLoader(ds, cfg)
	defer l.Close()
	full := collect(t, l.Epoch(2))
	for _, k := range []int{0, 1, 5, 14, 15} {
		ds.calls.Store(0)
		part := collect(t, l.EpochFrom(2, k))
		if !sameBatches(full[k:], part) {
			t.Errorf("EpochFrom(2, %d) differs from Epoch(2)'s batches from step %d", k, k)
		}
		if got, want := ds.calls.Load(), int64(100-min(100, 7*k)); got != want {
			t.Errorf("EpochFrom(2, %d) read %d examples, want %d", k, got, want)
		}
	}
	it := l.EpochFrom(2, 16)
	if _, ok := it.Next(); ok || it.Err() == nil || !strings.Contains(it.Err().Error(), "step 16") {
		t.Errorf("EpochFrom past the end: err %v", it.Err())
	}
}

// TestAugment checks each output image against the augmentation written
// out pixel by pixel: some window offset and flip must explain it exactly.
func TestAugment(t *testing.T) {
	in := Shape{2, 8, 10}
	for _, a := range []Augment{
		{PadCrop: 2},
		{Flip: true},
		{PadCrop: 3, Flip: true},
		{Crop: 6},
		{Crop: 6, Flip: true},
		{PadCrop: 1, Crop: 9, Flip: true},
	} {
		ds := newGrid(64, in)
		l := NewLoader(ds, LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 4, Augment: a, Workers: 2})
		out := l.Shape()
		if a.Crop > 0 && out != (Shape{in.C, a.Crop, a.Crop}) || a.Crop == 0 && out != in {
			t.Fatalf("%+v: output shape %v", a, out)
		}
		flips := map[bool]int{}
		offsets := map[[2]int]bool{}
		for _, b := range collect(t, l.Epoch(0)) {
			if len(b.x) != b.n*out.Elems() {
				t.Fatalf("%+v: batch of %d holds %d values", a, b.n, len(b.x))
			}
			for n := 0; n < b.n; n++ {
				img := b.x[n*out.Elems() : (n+1)*out.Elems()]
				i := b.labels[n] // recover the index from any non-zero value
				for _, v := range img {
					if v != 0 {
						i = gridIndex(v)
						break
					}
				}
				oy, ox, flip, ok := explain(img, out, i, in, a)
				if !ok {
					t.Fatalf("%+v: image of example %d is no crop/flip of it", a, i)
				}
				flips[flip]++
				offsets[[2]int{oy, ox}] = true
			}
		}
		l.Close()
		if a.Flip && (flips[true] < 16 || flips[false] < 16) {
			t.Errorf("%+v: flipped %d of %d", a, flips[true], flips[true]+flips[false])
		}
		if !a.Flip && flips[true] > 0 {
			t.Errorf("%+v: flipped without Flip", a)
		}
		if (a.PadCrop > 0 || a.Crop > 0) && len(offsets) < 4 {
			t.Errorf("%+v: only %d distinct crop offsets", a, len(offsets))
		}
	}
}

// explain searches the window offsets and flips a allows for one that
// turns example i into img.
func explain(img []float32, out Shape, i int, in Shape, a Augment) (oy, ox int, flip, ok bool) {
	p := a.PadCrop
	for oy := 0; oy <= in.H+2*p-out.H; oy++ {
		for ox := 0; ox <= in.W+2*p-out.W; ox++ {
			for _, flip := range []bool{false, true} {
				if flip && !a.Flip {
					continue
				}
				match := true
				for c := 0; c < out.C && match; c++ {
					for y := 0; y < out.H && match; y++ {
						for x := 0; x < out.W; x++ {
							wx := x
							if flip {
								wx = out.W - 1 - x
							}
							sy, sx := y+oy-p, wx+ox-p
							var want float32
							if sy >= 0 && sy < in.H && sx >= 0 && sx < in.W {
								want = gridValue(i, c, sy, sx)
							}
							if img[(c*out.H+y)*out.W+x] != want {
								match = false
								break
							}
						}
					}
				}
				if match {
					return oy, ox, flip, true
				}
			}
		}
	}
	return 0, 0, false, false
}

func TestCutout(t *testing.T) {
	in := Shape{3, 12, 12}
	const side = 4
	l := NewLoader(newGrid(200, in), LoaderConfig{BatchSize: 50, Seed: 8, Augment: Augment{Cutout: side}})
	defer l.Close()
	full := 0
	for _, b := range collect(t, l.Epoch(0)) {
		for n := 0; n < b.n; n++ {
			img := b.x[n*in.Elems() : (n+1)*in.Elems()]
			i := gridIndex(img[0])
			if img[0] == 0 {
				i = gridIndex(img[in.Elems()-1])
			}
			// The zeros form one rectangle, the same in every channel,
			// at most side×side; everything else is untouched.
			y0, y1, x0, x1 := in.H, -1, in.W, -1
			for c := 0; c < in.C; c++ {
				for y := 0; y < in.H; y++ {
					for x := 0; x < in.W; x++ {
						v := img[(c*in.H+y)*in.W+x]
						if v == 0 {
							y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
						} else if v != gridValue(i, c, y, x) {
							t.Fatalf("example %d: value changed at %d,%d,%d", i, c, y, x)
						}
					}
				}
			}
			h, w := y1-y0+1, x1-x0+1
			if y1 < 0 || h > side || w > side {
				t.Fatalf("example %d: cut out %dx%d, want at most %dx%d", i, h, w, side, side)
			}
			for c := 0; c < in.C; c++ {
				for y := y0; y <= y1; y++ {
					for x := x0; x <= x1; x++ {
						if img[(c*in.H+y)*in.W+x] != 0 {
							t.Fatalf("example %d: cutout is not a filled rectangle", i)
						}
					}
				}
			}
			if h == side && w == side {
				full++
			}
		}
	}
	if full < 50 {
		t.Errorf("only %d of 200 cutouts are whole %dx%d squares", full, side, side)
	}
}

func TestLoaderErrors(t *testing.T) {
	ds := newGrid(40, Shape{1, 4, 4})
	ds.failAt = 23
	l := NewLoader(ds, LoaderConfig{BatchSize: 8, Workers: 3})
	defer l.Close()
	it := l.Epoch(0)
	steps := 0
	for _, ok := it.Next(); ok; _, ok = it.Next() {
		steps++
	}
	err := it.Err()
	if steps != 2 || err == nil || !strings.Contains(err.Error(), "example 23") || !strings.Contains(err.Error(), "broken example") {
		t.Errorf("after %d batches: error %v; want 2 batches, then example 23's error", steps, err)
	}
	if _, ok := it.Next(); ok {
		t.Error("Next after an error returned a batch")
	}

	for _, cfg := range []LoaderConfig{
		{BatchSize: 0},
		{BatchSize: 4, Workers: -1},
		{BatchSize: 4, Augment: Augment{Crop: 5}},
		{BatchSize: 4, Augment: Augment{PadCrop: -1}},
	} {
		l := NewLoader(newGrid(10, Shape{1, 4, 4}), cfg)
		it := l.Epoch(0)
		if _, ok := it.Next(); ok || it.Err() == nil || l.Err() == nil {
			t.Errorf("config %+v: no error", cfg)
		}
	}
	if l := NewLoader(newGrid(10, Shape{1, 4, 4}), LoaderConfig{BatchSize: 4, Augment: Augment{PadCrop: 1, Crop: 6}}); l.Err() != nil {
		t.Errorf("crop 6 of 4x4 padded by 1: %v", l.Err())
	}

	bad := &badLabel{newGrid(10, Shape{1, 2, 2})}
	it = NewLoader(bad, LoaderConfig{BatchSize: 4}).Epoch(0)
	if _, ok := it.Next(); ok || it.Err() == nil || !strings.Contains(it.Err().Error(), "label 12") {
		t.Errorf("label out of range: %v", it.Err())
	}
}

type badLabel struct{ *gridDS }

func (b *badLabel) Example(i int, dst []float32) (int, error) {
	b.gridDS.Example(i, dst)
	return 12, nil
}

// TestLoaderClose: closing mid-epoch stops every goroutine; a closed
// Loader's epochs end at once with ErrClosed.
func TestLoaderClose(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := Synthetic(1000, Shape{3, 8, 8}, 10, 1)
	l := NewLoader(ds, LoaderConfig{BatchSize: 10, Workers: 4, Prefetch: 3})
	it1 := l.Epoch(0)
	it1.Next()
	it2 := l.Epoch(1)
	it2.Next()
	it1.Close()
	if _, ok := it1.Next(); ok {
		t.Error("Next after Close returned a batch")
	}
	l.Close()
	if _, ok := it2.Next(); ok || !errors.Is(it2.Err(), ErrClosed) {
		t.Errorf("epoch of a closed Loader: err %v, want ErrClosed", it2.Err())
	}
	if it := l.Epoch(2); !errors.Is(it.Err(), ErrClosed) {
		t.Errorf("new epoch of a closed Loader: err %v", it.Err())
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running (%d before)", n, before)
	}
}

// TestBatchValidity: the batch before the current one stays intact while
// the pipeline runs ahead, even when workers are much faster than the
// consumer.
func TestBatchValidity(t *testing.T) {
	sh := Shape{1, 4, 4}
	l := NewLoader(newGrid(400, sh), LoaderConfig{BatchSize: 4, Prefetch: 1, Workers: 4})
	defer l.Close()
	it := l.Epoch(0)
	var prev Batch
	var prevCopy []float32
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		time.Sleep(100 * time.Microsecond) // let the workers fill every free buffer
		if prev.X != nil && !slices.Equal(prev.X, prevCopy) {
			t.Fatalf("step %d: the previous batch was overwritten", b.Step)
		}
		if gridIndex(b.X[0]) != b.Step*4 {
			t.Fatalf("step %d starts with example %d", b.Step, gridIndex(b.X[0]))
		}
		prev, prevCopy = b, slices.Clone(b.X)
	}
}

// TestLoaderNoAllocs: once running, iteration allocates nothing per batch.
func TestLoaderNoAllocs(t *testing.T) {
	ds := Synthetic(8*400, Shape{3, 8, 8}, 10, 1)
	l := NewLoader(ds, LoaderConfig{BatchSize: 8, Shuffle: true, Augment: cifarAug, Workers: 2})
	defer l.Close()
	it := l.Epoch(0)
	for i := 0; i < 10; i++ {
		it.Next()
	}
	allocs := testing.AllocsPerRun(300, func() {
		if _, ok := it.Next(); !ok {
			t.Fatal("epoch ended early")
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
	// Buffers are reused by the next epoch.
	it.Close()
	l.mu.Lock()
	pooled := len(l.pool)
	l.mu.Unlock()
	it = l.Epoch(1)
	it.Next()
	l.mu.Lock()
	if len(l.pool) != 0 || pooled != 4 {
		t.Errorf("pool held %d buffers after an epoch, %d during the next; want 4, 0", pooled, len(l.pool))
	}
	l.mu.Unlock()
}
