package data

import (
	"slices"
	"testing"
)

func TestSyntheticDeterministic(t *testing.T) {
	sh := Shape{3, 8, 8}
	a, b, c := Synthetic(50, sh, 5, 7), Synthetic(50, sh, 5, 7), Synthetic(50, sh, 5, 8)
	x, y, z := make([]float32, sh.Elems()), make([]float32, sh.Elems()), make([]float32, sh.Elems())
	for i := 0; i < 50; i++ {
		la, _ := a.Example(i, x)
		lb, _ := b.Example(i, y)
		lc, _ := c.Example(i, z)
		if la != i%5 || lb != la || lc != la {
			t.Fatalf("example %d: labels %d %d %d, want %d", i, la, lb, lc, i%5)
		}
		if !slices.Equal(x, y) {
			t.Fatalf("example %d differs under the same seed", i)
		}
		if slices.Equal(x, z) {
			t.Fatalf("example %d is the same under another seed", i)
		}
	}
	if _, ok := Normalization(a); ok {
		t.Error("Synthetic reports a normalisation")
	}
	for _, bad := range []Dataset{Synthetic(-1, sh, 5, 0), Synthetic(4, Shape{}, 5, 0), Synthetic(4, sh, 0, 0)} {
		if _, err := bad.Example(0, x); err == nil || bad.Len() != 0 {
			t.Errorf("bad Synthetic arguments: len %d, error %v", bad.Len(), err)
		}
	}
}

// TestSyntheticLearnable: a nearest-class-mean classifier, fitted on 500
// examples, labels 500 others almost perfectly, even after the Loader's
// CIFAR augmentation.
func TestSyntheticLearnable(t *testing.T) {
	const classes = 10
	sh := Shape{3, 32, 32}
	ds := Synthetic(1000, sh, classes, 42)
	l := NewLoader(ds, LoaderConfig{BatchSize: 100, Shuffle: true, Seed: 3, Augment: Augment{PadCrop: 4, Flip: true, Cutout: 16}})
	defer l.Close()
	e := sh.Elems()
	means := make([]float64, classes*e)
	counts := make([]int, classes)
	correct, tested := 0, 0
	it := l.Epoch(0)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		for n := 0; n < b.N; n++ {
			x := b.X[n*e : (n+1)*e]
			if b.Step < 5 {
				for j, v := range x {
					means[b.Labels[n]*e+j] += float64(v)
				}
				counts[b.Labels[n]]++
				continue
			}
			best, bestD := -1, 0.0
			for k := 0; k < classes; k++ {
				d := 0.0
				for j, v := range x {
					m := means[k*e+j] / float64(counts[k])
					d += (float64(v) - m) * (float64(v) - m)
				}
				if best < 0 || d < bestD {
					best, bestD = k, d
				}
			}
			tested++
			if best == b.Labels[n] {
				correct++
			}
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	acc := float64(correct) / float64(tested)
	t.Logf("nearest-mean accuracy %.3f", acc)
	if acc < 0.9 {
		t.Errorf("nearest-mean accuracy %.3f on %d examples, want >= 0.9", acc, tested)
	}
}
