package kernels

import (
	"math"
	"testing"
)

// TestVecElementwise checks the elementwise kernels, whose whole-vector
// prefix runs in SIMD registers in a GOEXPERIMENT=simd build, against
// plain loops at every length around the vector width, in place and not.
func TestVecElementwise(t *testing.T) {
	r := gcRNG(77)
	near := func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-5*(1+math.Abs(float64(b))) }
	t.Logf("vector loops: %s", VecName())
	for n := 0; n <= 41; n++ {
		x := gcRand(r, n, -2, 2)
		if n > 3 {
			x[1], x[2] = 0, float32(math.Copysign(0, -1))
		}
		y, dy := gcRand(r, n, -1, 1), gcRand(r, n, -1, 1)
		check := func(name string, got []float32, want func(i int) float32) {
			t.Helper()
			for i := range got {
				if w := want(i); !near(got[i], w) {
					t.Fatalf("%s n=%d: [%d] = %g, want %g", name, n, i, got[i], w)
				}
			}
		}
		out := make([]float32, n)
		ReLUForward(x, out)
		check("ReLUForward", out, func(i int) float32 { return float32(math.Max(float64(x[i]), 0)) })
		ReLUBackward(x, dy, out, false)
		grad := func(i int) float32 {
			if x[i] > 0 {
				return dy[i]
			}
			return 0
		}
		check("ReLUBackward", out, grad)
		acc := append([]float32(nil), y...)
		ReLUBackward(x, dy, acc, true)
		check("ReLUBackward accumulate", acc, func(i int) float32 { return y[i] + grad(i) })
		Add2(x, y, out)
		check("Add2", out, func(i int) float32 { return x[i] + y[i] })
		acc = append(acc[:0], y...)
		AddInto(acc, x)
		check("AddInto", acc, func(i int) float32 { return y[i] + x[i] })
		Mul(x, y, out)
		check("Mul", out, func(i int) float32 { return x[i] * y[i] })
		d := gcRand(r, n, 0.5, 2)
		Div(x, d, out)
		check("Div", out, func(i int) float32 { return x[i] / d[i] })
		Scale(x, out, -1.5)
		check("Scale", out, func(i int) float32 { return -1.5 * x[i] })
		normAffine(x, 0.25, 3, -1, out)
		check("normAffine", out, func(i int) float32 { return (x[i]-0.25)*3 - 1 })
		inplace := append([]float32(nil), x...)
		ReLUForward(inplace, inplace)
		check("ReLUForward in place", inplace, func(i int) float32 { return float32(math.Max(float64(x[i]), 0)) })
	}
	// NaN propagates through ReLU, so divergence shows in the loss.
	nan := make([]float32, 16)
	nan[9] = float32(math.NaN())
	ReLUForward(nan, nan)
	if !math.IsNaN(float64(nan[9])) {
		t.Fatalf("ReLU(NaN) = %g, want NaN", nan[9])
	}
}

// TestVecNormSums checks the normalisation sums and the backward apply,
// vector prefix and all, against float64 loops, at lengths around the
// vector width and past a summing block.
func TestVecNormSums(t *testing.T) {
	r := gcRNG(78)
	for _, n := range []int{0, 1, 7, 8, 9, 31, 255, 256, 257, 1024, 1031} {
		x, dy := gcRand(r, n, -3, 5), gcRand(r, n, -1, 1)
		const m = 0.75
		var s, q, sd, sdx float64
		for i := range x {
			s += float64(x[i])
			q += (float64(x[i]) - m) * (float64(x[i]) - m)
			sd += float64(dy[i])
			sdx += float64(dy[i]) * (float64(x[i]) - m)
		}
		tol := func(ref float64) float64 { return 1e-5 * (float64(n) + math.Abs(ref)) }
		if got := normSum64(x); math.Abs(got-s) > tol(s) {
			t.Errorf("n=%d: normSum64 = %g, want %g", n, got, s)
		}
		if got := normSqDev64(x, m); math.Abs(got-q) > tol(q) {
			t.Errorf("n=%d: normSqDev64 = %g, want %g", n, got, q)
		}
		if a, b := normDyDev64(x, dy, m); math.Abs(a-sd) > tol(sd) || math.Abs(b-sdx) > tol(sdx) {
			t.Errorf("n=%d: normDyDev64 = %g, %g, want %g, %g", n, a, b, sd, sdx)
		}
		for _, acc := range []bool{false, true} {
			dx := gcRand(r, n, -1, 1)
			old := append([]float32(nil), dx...)
			normBackApply(x, dy, m, 1.5, -0.5, 0.25, dx, acc)
			for i := range dx {
				want := 1.5*float64(dy[i]) - 0.5*(float64(x[i])-m) + 0.25
				if acc {
					want += float64(old[i])
				}
				if math.Abs(float64(dx[i])-want) > 1e-5*(1+math.Abs(want)) {
					t.Fatalf("n=%d acc=%v: normBackApply dx[%d] = %g, want %g", n, acc, i, dx[i], want)
				}
			}
		}
	}
}

// TestBNStatsOffsetData: the one-pass statistics stay accurate when the
// mean is far from zero next to the spread (values around 1000 with unit
// variance), where E[x²] - E[x]² in float32 would lose every digit.
func TestBNStatsOffsetData(t *testing.T) {
	r := gcRNG(79)
	s := Shape{C: 2, H: 5, W: 7}
	const n = 4
	x := make([]float32, n*s.Elems())
	for i := range x {
		x[i] = 1000 + float32(r.NormFloat64())
	}
	mean, variance := make([]float32, s.C), make([]float32, s.C)
	BNStats(Dense(x, n, s), 0, s.C, mean, variance)
	checkBatchStats(t, "BNStats", x, n, s, mean, variance)
}

// TestMergeMoments checks per-image moments merged into batch statistics
// against the two-pass float64 figures, on images whose means differ by
// far more than their spread (and sit 1000 away from zero).
func TestMergeMoments(t *testing.T) {
	r := gcRNG(80)
	s := Shape{C: 3, H: 4, W: 9}
	const n = 5
	x := make([]float32, n*s.Elems())
	for i := range x {
		img := i / s.Elems()
		x[i] = 1000 + 10*float32(img) + float32(r.NormFloat64())
	}
	im, iq := make([]float64, n*s.C), make([]float64, n*s.C)
	for i := range n {
		ChannelMoments(x[i*s.Elems():(i+1)*s.Elems()], s, im[i*s.C:], iq[i*s.C:])
	}
	mean, variance := make([]float32, s.C), make([]float32, s.C)
	MergeMoments(im, iq, n, s.C, s.H*s.W, mean, variance)
	checkBatchStats(t, "MergeMoments", x, n, s, mean, variance)
}

// checkBatchStats compares per-channel batch statistics with two-pass
// float64 ones.
func checkBatchStats(t *testing.T, name string, x []float32, n int, s Shape, mean, variance []float32) {
	t.Helper()
	hw := s.H * s.W
	for c := range s.C {
		var sum, sq float64
		for i := range n {
			for _, v := range x[i*s.Elems()+c*hw : i*s.Elems()+(c+1)*hw] {
				sum += float64(v)
			}
		}
		m := sum / float64(n*hw)
		for i := range n {
			for _, v := range x[i*s.Elems()+c*hw : i*s.Elems()+(c+1)*hw] {
				sq += (float64(v) - m) * (float64(v) - m)
			}
		}
		want := sq / float64(n*hw)
		if math.Abs(float64(mean[c])-m) > 1e-3 || math.Abs(float64(variance[c])-want) > 1e-3*want {
			t.Errorf("%s: channel %d: mean %g, variance %g; want %g, %g", name, c, mean[c], variance[c], m, want)
		}
	}
}
