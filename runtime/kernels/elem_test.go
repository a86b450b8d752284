package kernels

import (
	"math"
	"slices"
	"testing"
)

func TestReLUForward(t *testing.T) {
	x := []float32{-2, -0.5, 0, 0.5, 3}
	y := make([]float32, 5)
	ReLUForward(x, y)
	if want := []float32{0, 0, 0, 0.5, 3}; !slices.Equal(y, want) {
		t.Fatalf("y = %v, want %v", y, want)
	}
	ReLUForward(x, x) // in place
	if !slices.Equal(x, y) {
		t.Fatalf("in place: %v, want %v", x, y)
	}
	// The gradient at 0 is 0 (TF), and dx may alias dy.
	dy := []float32{1, 1, 1, 1, 1}
	ReLUBackward(y, dy, dy, false)
	if want := []float32{0, 0, 0, 1, 1}; !slices.Equal(dy, want) {
		t.Fatalf("dx = %v, want %v", dy, want)
	}
}

func TestElemAdd(t *testing.T) {
	r := gcRNG(40)
	for _, n := range []int{0, 1, 7, 512, 1300} {
		for k := 0; k <= 5; k++ {
			xs := make([][]float32, k)
			want := make([]float32, n)
			for j := range xs {
				xs[j] = gcRand(r, n, -1, 1)
				for i, v := range xs[j] {
					want[i] += v
				}
			}
			y := gcRand(r, n, -9, 9)
			AddN(y, xs)
			for i := range y {
				if math.Abs(float64(y[i]-want[i])) > 1e-5 {
					t.Fatalf("AddN n%d k%d: y[%d] = %g, want %g", n, k, i, y[i], want[i])
				}
			}
			// y may alias any input.
			for a := range xs {
				in := make([][]float32, k)
				for j := range xs {
					in[j] = append([]float32(nil), xs[j]...)
				}
				AddN(in[a], in)
				for i := range want {
					if math.Abs(float64(in[a][i]-want[i])) > 1e-5 {
						t.Fatalf("AddN n%d k%d into input %d: y[%d] = %g, want %g", n, k, a, i, in[a][i], want[i])
					}
				}
			}
		}
	}
	a, b := []float32{1, 2, 3}, []float32{10, 20, 30}
	y := make([]float32, 3)
	Add2(a, b, y)
	if want := []float32{11, 22, 33}; !slices.Equal(y, want) {
		t.Fatalf("Add2 = %v", y)
	}
	Add2(a, b, b)
	if want := []float32{11, 22, 33}; !slices.Equal(b, want) {
		t.Fatalf("Add2 in place = %v", b)
	}
}

func TestElemCopyScaleZero(t *testing.T) {
	x := []float32{1, -2, 3}
	y := make([]float32, 3)
	Copy(x, y)
	if !slices.Equal(x, y) {
		t.Fatalf("Copy = %v", y)
	}
	Scale(x, y, -2)
	if want := []float32{-2, 4, -6}; !slices.Equal(y, want) {
		t.Fatalf("Scale = %v", y)
	}
	AddInto(y, x)
	if want := []float32{-1, 2, -3}; !slices.Equal(y, want) {
		t.Fatalf("AddInto = %v", y)
	}
	AddScaled(y, x, 0.5)
	if want := []float32{-0.5, 1, -1.5}; !slices.Equal(y, want) {
		t.Fatalf("AddScaled = %v", y)
	}
	Scale(y, y, 2)
	if want := []float32{-1, 2, -3}; !slices.Equal(y, want) {
		t.Fatalf("Scale in place = %v", y)
	}
	Zero(y)
	if want := []float32{0, 0, 0}; !slices.Equal(y, want) {
		t.Fatalf("Zero = %v", y)
	}
	mask := []float32{0, 2, 2}
	Mul(x, mask, y)
	if want := []float32{0, -4, 6}; !slices.Equal(y, want) {
		t.Fatalf("Mul = %v", y)
	}
}

// TestShiftForward: y[c,h,w] = x[c,h+1,w+1], zeros in the last row and
// column (TF: pad bottom/right by 1, crop [1:,1:]).
func TestShiftForward(t *testing.T) {
	s := Shape{2, 3, 3}
	x := make([]float32, s.Elems())
	for i := range x {
		x[i] = float32(i + 1)
	}
	y := make([]float32, s.Elems())
	ShiftForward(x, s, y)
	want := []float32{
		5, 6, 0, 8, 9, 0, 0, 0, 0,
		14, 15, 0, 17, 18, 0, 0, 0, 0,
	}
	if !slices.Equal(y, want) {
		t.Fatalf("y = %v, want %v", y, want)
	}
	dx := make([]float32, s.Elems())
	ShiftBackward(y, s, dx, false)
	want = []float32{
		0, 0, 0, 0, 5, 6, 0, 8, 9,
		0, 0, 0, 0, 14, 15, 0, 17, 18,
	}
	if !slices.Equal(dx, want) {
		t.Fatalf("dx = %v, want %v", dx, want)
	}
}

func TestGAPForward(t *testing.T) {
	s := Shape{2, 2, 3}
	x := []float32{1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, 5}
	y := make([]float32, 2)
	GAPForward(x, s, y)
	if y[0] != 3.5 || y[1] != 0 {
		t.Fatalf("y = %v, want [3.5 0]", y)
	}
}

// TestDropPathMask: floor(keep+u)/keep, i.e. 1/keep when u >= 1-keep.
func TestDropPathMask(t *testing.T) {
	for _, tc := range []struct{ keep, u, want float32 }{
		{0.6, 0, 0},
		{0.6, 0.39, 0},
		{0.6, 0.4, 1 / float32(0.6)},
		{0.6, 0.999, 1 / float32(0.6)},
		{1, 0, 1},
		{1, 0.9999999, 1},
		{1, 1, 1}, // a float64 draw rounded up to 1 by float32
		{0.5, 0.5, 2},
	} {
		if got := DropPathMask(tc.keep, tc.u); got != tc.want {
			t.Errorf("DropPathMask(%g, %g) = %g, want %g", tc.keep, tc.u, got, tc.want)
		}
	}
	// Expectation 1: the scaled output is unbiased.
	r := gcRNG(41)
	var sum float64
	const n = 200000
	for i := 0; i < n; i++ {
		sum += float64(DropPathMask(0.7, r.Float32()))
	}
	if m := sum / n; math.Abs(m-1) > 0.01 {
		t.Errorf("mean drop path scale %g, want 1", m)
	}
}

func TestDropoutMask(t *testing.T) {
	mask := make([]float32, 100000)
	DropoutMask(mask, 0.5, gcRNG(42))
	kept := 0
	for _, v := range mask {
		switch v {
		case 0:
		case 2:
			kept++
		default:
			t.Fatalf("mask value %g, want 0 or 2", v)
		}
	}
	if f := float64(kept) / float64(len(mask)); math.Abs(f-0.5) > 0.01 {
		t.Errorf("kept fraction %g, want 0.5", f)
	}
	again := make([]float32, len(mask))
	DropoutMask(again, 0.5, gcRNG(42))
	if !slices.Equal(mask, again) {
		t.Error("same seed, different mask")
	}
	DropoutMask(mask, 1, nil)
	for i, v := range mask {
		if v != 1 {
			t.Fatalf("keep 1: mask[%d] = %g", i, v)
		}
	}
}
