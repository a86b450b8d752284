package kernels

import (
	"math"
	"testing"
)

// normClose reports whether got is within tol (relative, floor 1) of want.
func normClose(got float32, want, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*math.Max(1, math.Abs(want))
}

// TestBNForwardMatchesReference checks BNStats and BNForward against a
// float64 batch norm on a strided batch (a channel slice of a larger
// buffer) with a large mean, the statistics split over channel ranges.
func TestBNForwardMatchesReference(t *testing.T) {
	r := gcRNG(30)
	s := Shape{5, 4, 3}
	const n = 4
	stride, off := s.Elems()+9, 3
	data := gcRand(r, off+n*stride, -50, 50)
	x := Tensor{Data: data, Off: off, Stride: stride, N: n, S: s}
	for i := 0; i < n; i++ {
		for j, v := range x.Img(i) {
			x.Img(i)[j] = 100 + v/50 // mean 100, spread 1
		}
	}
	gamma, beta := gcRand(r, s.C, 0.5, 2), gcRand(r, s.C, -1, 1)
	mean, variance := make([]float32, s.C), make([]float32, s.C)
	for c := range mean {
		mean[c], variance[c] = -7, -7 // sentinels
	}
	BNStats(x, 1, 3, mean, variance)
	if mean[0] != -7 || mean[3] != -7 || variance[4] != -7 {
		t.Fatalf("BNStats wrote outside [1,3): %v %v", mean, variance)
	}
	BNStats(x, 0, 1, mean, variance)
	BNStats(x, 3, 5, mean, variance)
	hw := s.H * s.W
	eps := float32(1e-3)
	for c := 0; c < s.C; c++ {
		var m, q float64
		for i := 0; i < n; i++ {
			for _, v := range x.Img(i)[c*hw : c*hw+hw] {
				m += float64(v)
			}
		}
		m /= float64(n * hw)
		for i := 0; i < n; i++ {
			for _, v := range x.Img(i)[c*hw : c*hw+hw] {
				q += (float64(v) - m) * (float64(v) - m)
			}
		}
		q /= float64(n * hw) // biased
		if !normClose(mean[c], m, 1e-6) || !normClose(variance[c], q, 1e-5) {
			t.Fatalf("channel %d: mean, var = %g, %g, want %g, %g", c, mean[c], variance[c], m, q)
		}
		inv := 1 / math.Sqrt(q+float64(eps))
		for i := 0; i < n; i++ {
			y := make([]float32, s.Elems())
			BNForward(x.Img(i), s, mean, variance, gamma, beta, eps, y)
			for j, v := range x.Img(i)[c*hw : c*hw+hw] {
				want := (float64(v)-m)*inv*float64(gamma[c]) + float64(beta[c])
				if !normClose(y[c*hw+j], want, 2e-5) {
					t.Fatalf("y[%d][%d] = %g, want %g", i, c*hw+j, y[c*hw+j], want)
				}
			}
		}
	}
	// y may alias x.
	img := append([]float32(nil), x.Img(0)...)
	want := make([]float32, len(img))
	BNForward(img, s, mean, variance, gamma, beta, eps, want)
	BNForward(img, s, mean, variance, gamma, beta, eps, img)
	for i := range img {
		if img[i] != want[i] {
			t.Fatalf("in place: y[%d] = %g, want %g", i, img[i], want[i])
		}
	}
}

// TestBNBackwardFixedStatistics: with zero sums BNBackward is the
// inference-mode gradient gamma*invstd*dy.
func TestBNBackwardFixedStatistics(t *testing.T) {
	r := gcRNG(31)
	s := Shape{3, 2, 2}
	x, dy := gcRand(r, s.Elems(), -1, 1), gcRand(r, s.Elems(), -1, 1)
	mean, variance := gcRand(r, s.C, -1, 1), gcRand(r, s.C, 0.5, 2)
	gamma := gcRand(r, s.C, 0.5, 2)
	zero := make([]float32, s.C)
	dx := make([]float32, s.Elems())
	BNBackward(x, dy, s, mean, variance, gamma, 1e-3, zero, zero, 10, dx, false)
	for i := range dx {
		c := i / 4
		want := float64(gamma[c]) / math.Sqrt(float64(variance[c])+1e-3) * float64(dy[i])
		if !normClose(dx[i], want, 1e-6) {
			t.Fatalf("dx[%d] = %g, want %g", i, dx[i], want)
		}
	}
}

func TestBNUpdateMoving(t *testing.T) {
	m := []float32{1, 2, 3}
	UpdateMoving(m, []float32{3, 2, 1}, 0.9)
	for i, want := range []float64{1.2, 2, 2.8} {
		if !normClose(m[i], want, 1e-6) {
			t.Errorf("moving[%d] = %g, want %g", i, m[i], want)
		}
	}
	v := []float32{1, 1}
	UpdateMovingVariance(v, []float32{2, 0}, 0.5, 5) // unbiased: 2.5, 0
	for i, want := range []float64{1.75, 0.5} {
		if !normClose(v[i], want, 1e-6) {
			t.Errorf("moving variance[%d] = %g, want %g", i, v[i], want)
		}
	}
	v = []float32{1}
	UpdateMovingVariance(v, []float32{3}, 0.5, 1) // no correction for one value
	if v[0] != 2 {
		t.Errorf("moving variance, count 1 = %g, want 2", v[0])
	}
}

func TestBNBackwardAccumulates(t *testing.T) {
	r := gcRNG(32)
	b := gcNewBN(r, 2, Shape{3, 2, 3})
	gcAccum(t, "bn", len(b.dx.Data), func(dx []float32, acc bool) { b.backward(Dense(dx, b.n, b.s), acc) })
}

// TestNormLNINForwardMatchesReference checks layer and instance norm
// outputs and their saved statistics against float64, and in-place use.
func TestNormLNINForwardMatchesReference(t *testing.T) {
	r := gcRNG(33)
	for _, ln := range []bool{true, false} {
		c := gcNewNorm(r, ln, Shape{4, 3, 5})
		for i := range c.x {
			c.x[i] = 10 + c.x[i]
		}
		c.forward()
		hw := c.s.H * c.s.W
		groups, size := c.s.C, hw
		if ln {
			groups, size = 1, c.s.Elems()
		}
		for g := 0; g < groups; g++ {
			v := c.x[g*size : g*size+size]
			var m, q float64
			for _, e := range v {
				m += float64(e)
			}
			m /= float64(size)
			for _, e := range v {
				q += (float64(e) - m) * (float64(e) - m)
			}
			inv := 1 / math.Sqrt(q/float64(size)+float64(c.eps))
			sm, si := c.stats[0], c.stats[1]
			if !ln {
				sm, si = c.stats[g], c.stats[c.s.C+g]
			}
			if !normClose(sm, m, 1e-6) || !normClose(si, inv, 1e-5) {
				t.Fatalf("ln=%v group %d: stats %g %g, want %g %g", ln, g, sm, si, m, inv)
			}
			for j, e := range v {
				ch := (g*size + j) / hw
				want := (float64(e)-m)*inv*float64(c.gamma[ch]) + float64(c.beta[ch])
				if got := c.y[g*size+j]; !normClose(got, want, 2e-5) {
					t.Fatalf("ln=%v: y[%d] = %g, want %g", ln, g*size+j, got, want)
				}
			}
		}
		want := append([]float32(nil), c.y...)
		c.y = c.x // in place
		c.forward()
		for i := range want {
			if c.x[i] != want[i] {
				t.Fatalf("ln=%v in place: y[%d] = %g, want %g", ln, i, c.x[i], want[i])
			}
		}
	}
}

func benchBN(b *testing.B, backward bool) {
	s := Shape{32, 32, 32}
	const n = 32
	r := gcRNG(34)
	x := Dense(gcRand(r, n*s.Elems(), -1, 2), n, s)
	y := Dense(make([]float32, n*s.Elems()), n, s)
	dy := Dense(gcRand(r, n*s.Elems(), -1, 1), n, s)
	dx := Dense(make([]float32, n*s.Elems()), n, s)
	gamma, beta := gcRand(r, s.C, 0.5, 1.5), gcRand(r, s.C, -1, 1)
	mean, variance := make([]float32, s.C), make([]float32, s.C)
	sd, sdx := make([]float32, s.C), make([]float32, s.C)
	BNStats(x, 0, s.C, mean, variance)
	b.SetBytes(int64(4 * n * s.Elems()))
	b.ReportAllocs()
	for b.Loop() {
		if backward {
			BNBackwardSums(x, dy, mean, variance, 1e-3, 0, s.C, sd, sdx)
			for i := 0; i < n; i++ {
				BNBackward(x.Img(i), dy.Img(i), s, mean, variance, gamma, 1e-3, sd, sdx, n*s.H*s.W, dx.Img(i), false)
			}
		} else {
			BNStats(x, 0, s.C, mean, variance)
			for i := 0; i < n; i++ {
				BNForward(x.Img(i), s, mean, variance, gamma, beta, 1e-3, y.Img(i))
			}
		}
	}
}

// BenchmarkBN: training batch norm on a batch of 32 images of 32x32x32,
// single-threaded; bytes are the input activations.
func BenchmarkBN(b *testing.B) {
	b.Run("fwd/32x32x32x32", func(b *testing.B) { benchBN(b, false) })
	b.Run("bwd/32x32x32x32", func(b *testing.B) { benchBN(b, true) })
}

// TestBNBackwardFromOutput: the in-place batch norm's backward, computed
// from y, matches the one computed from x, for gammas of both signs and
// sizes, with and without accumulation.
func TestBNBackwardFromOutput(t *testing.T) {
	r := gcRNG(91)
	s := Shape{C: 4, H: 3, W: 5}
	const n = 3
	x := gcRand(r, n*s.Elems(), -2, 3)
	dy := gcRand(r, n*s.Elems(), -1, 1)
	gamma := []float32{1, -0.7, 0.05, 2.5}
	beta := []float32{0.1, -0.4, 0.3, 0}
	mean, variance := make([]float32, s.C), make([]float32, s.C)
	X, DY := Dense(x, n, s), Dense(dy, n, s)
	BNStats(X, 0, s.C, mean, variance)
	y := make([]float32, len(x))
	for i := range n {
		BNForward(X.Img(i), s, mean, variance, gamma, beta, 1e-3, Dense(y, n, s).Img(i))
	}
	Y := Dense(y, n, s)
	sd, sdx := make([]float32, s.C), make([]float32, s.C)
	sdY, sdxY := make([]float32, s.C), make([]float32, s.C)
	BNBackwardSums(X, DY, mean, variance, 1e-3, 0, s.C, sd, sdx)
	BNBackwardSumsFromOutput(Y, DY, gamma, beta, 0, s.C, sdY, sdxY)
	for c := range s.C {
		if math.Abs(float64(sd[c]-sdY[c])) > 1e-5 || math.Abs(float64(sdx[c]-sdxY[c])) > 1e-3*(1+math.Abs(float64(sdx[c]))) {
			t.Fatalf("channel %d: sums from y (%g, %g), from x (%g, %g)", c, sdY[c], sdxY[c], sd[c], sdx[c])
		}
	}
	for _, acc := range []bool{false, true} {
		want := gcRand(r, len(x), -1, 1)
		got := append([]float32(nil), want...)
		for i := range n {
			BNBackward(X.Img(i), DY.Img(i), s, mean, variance, gamma, 1e-3, sd, sdx, n*s.H*s.W, Dense(want, n, s).Img(i), acc)
			BNBackwardFromOutput(Y.Img(i), DY.Img(i), s, variance, gamma, beta, 1e-3, sdY, sdxY, n*s.H*s.W, Dense(got, n, s).Img(i), acc)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-3*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("acc=%v: dx[%d] from y = %g, from x = %g", acc, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkNormSums: the per-plane reductions behind batch-norm
// statistics and backward sums, on one 32×32 plane.
func BenchmarkNormSums(b *testing.B) {
	r := gcRNG(5)
	x := gcRand(r, 1024, -2, 3)
	dy := gcRand(r, 1024, -1, 1)
	b.Run("shifted", func(b *testing.B) {
		b.SetBytes(4 * 1024)
		for b.Loop() {
			normShiftedSums(x, 0.5)
		}
	})
	b.Run("dydev", func(b *testing.B) {
		b.SetBytes(8 * 1024)
		for b.Loop() {
			normDyDev64(x, dy, 0.5)
		}
	})
}
