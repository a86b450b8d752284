package kernels

import (
	"math"
	"slices"
	"testing"
)

// TestLossMatchesReference checks the loss and dlogits against float64,
// with and without smoothing, and in place (dlogits aliasing logits).
func TestLossMatchesReference(t *testing.T) {
	r := gcRNG(50)
	const n, k = 6, 10
	logits := gcRand(r, n*k, -4, 4)
	labels := []int{0, 9, 3, 3, 5, 7}
	for _, sm := range []float32{0, 0.1} {
		d := make([]float32, n*k)
		loss, _, _ := SoftmaxCrossEntropy(logits, n, k, labels, sm, d, 0.4)
		if want := gcLossRef64(logits, n, k, labels, float64(sm), 1); math.Abs(loss-want) > 1e-9*math.Max(1, want) {
			t.Errorf("s%g: loss %.12g, want %.12g", sm, loss, want)
		}
		for i := 0; i < n; i++ {
			z := logits[i*k : i*k+k]
			m := float64(slices.Max(z))
			var se float64
			for _, v := range z {
				se += math.Exp(float64(v) - m)
			}
			for j, v := range z {
				tgt := float64(sm) / k
				if j == labels[i] {
					tgt += 1 - float64(sm)
				}
				want := 0.4 * (math.Exp(float64(v)-m)/se - tgt) / n
				if math.Abs(float64(d[i*k+j])-want) > 1e-7 {
					t.Fatalf("s%g: dlogits[%d,%d] = %g, want %g", sm, i, j, d[i*k+j], want)
				}
			}
		}
		inPlace := append([]float32(nil), logits...)
		l2, _, _ := SoftmaxCrossEntropy(inPlace, n, k, labels, sm, inPlace, 0.4)
		if l2 != loss || !slices.Equal(inPlace, d) {
			t.Errorf("s%g: in place differs", sm)
		}
	}
}

// TestLossStable: huge logits neither overflow nor lose the loss.
func TestLossStable(t *testing.T) {
	logits := []float32{1e4, 0, -1e4, 1e4 - 2}
	d := make([]float32, 4)
	loss, c1, _ := SoftmaxCrossEntropy(logits, 1, 4, []int{3}, 0, d, 1)
	want := math.Log(1 + math.Exp(2))
	if math.Abs(loss-want) > 1e-6 || c1 != 0 {
		t.Fatalf("loss %g (top1 %d), want %g (0)", loss, c1, want)
	}
	for i, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("dlogits[%d] = %g", i, v)
		}
	}
	// Smoothing puts mass on a -1e4 logit: the loss is large but finite.
	loss, _, _ = SoftmaxCrossEntropy(logits, 1, 4, []int{0}, 0.1, nil, 1)
	if math.IsInf(loss, 0) || math.IsNaN(loss) || loss < 100 {
		t.Fatalf("smoothed loss %g", loss)
	}
}

// TestLossTopCounts: top-1 and top-5 as TF's in_top_k counts them.
func TestLossTopCounts(t *testing.T) {
	logits := []float32{
		// label 0 is the max: top-1 and top-5.
		9, 1, 2, 3, 4, 5, 6,
		// label 6 (value 3) has 4 larger: top-5 only.
		9, 8, 7, 6, 1, 2, 3,
		// label 6 (value 2) has 5 larger: neither.
		9, 8, 7, 6, 5, 1, 2,
		// label 1 ties the max: counts for top-1 (ties in its favour).
		5, 5, 1, 1, 1, 1, 1,
		// label 2 is NaN: never counts.
		1, 2, float32(math.NaN()), 0, 0, 0, 0,
	}
	_, c1, c5 := SoftmaxCrossEntropy(logits, 5, 7, []int{0, 6, 6, 1, 2}, 0, nil, 1)
	if c1 != 2 || c5 != 3 {
		t.Errorf("top-1 %d, top-5 %d, want 2, 3", c1, c5)
	}
	// Fewer than 5 classes: every label is in the top 5.
	_, c1, c5 = SoftmaxCrossEntropy([]float32{1, 2, 3, 3, 2, 1}, 2, 3, []int{0, 0}, 0, nil, 1)
	if c1 != 1 || c5 != 2 {
		t.Errorf("k=3: top-1 %d, top-5 %d, want 1, 2", c1, c5)
	}
}

func TestLossTopK(t *testing.T) {
	logits := []float32{0.1, 0.9, 0.3, 0.9, -1, 0.5}
	idx := make([]int, 6)
	for k, want := range [][]int{{}, {1}, {1, 3}, {1, 3, 5}, {1, 3, 5, 2, 0, 4}} {
		if k == 4 {
			k = 6
		}
		for i := range idx {
			idx[i] = -1
		}
		TopK(logits, k, idx)
		if !slices.Equal(idx[:len(want)], want) {
			t.Errorf("TopK %d = %v, want %v", k, idx[:len(want)], want)
		}
	}
	// k above the class count is capped.
	idx = make([]int, 3)
	TopK([]float32{1, 3, 2}, 10, idx)
	if want := []int{1, 2, 0}; !slices.Equal(idx, want) {
		t.Errorf("TopK capped = %v, want %v", idx, want)
	}
}
