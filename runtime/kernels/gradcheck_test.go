package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// This file holds a reusable finite-difference gradient checker and the
// gradient checks of the pool, norm, elementwise and loss kernels, their
// accumulate semantics, and the no-allocation checks. Helpers are prefixed
// gc so they cannot collide with other test files of the package.

// gcTol sets a gradient check's step and tolerance: an analytic value a
// and a numeric one g agree when |a-g| <= atol + rtol*max(|a|, |g|).
type gcTol struct{ h, atol, rtol float64 }

// gcKernel is the tolerance for checking float32 kernels against their
// own forward.
func gcKernel() gcTol { return gcTol{h: 1e-2, atol: 5e-4, rtol: 2e-3} }

// gcRef64 is the tolerance for checking float32 gradients against
// differences of a float64 reference: the step can be small, the
// tolerance tight.
func gcRef64() gcTol { return gcTol{h: 1e-3, atol: 2e-5, rtol: 2e-5} }

// gcCheck compares ana, the analytic gradient of f with respect to x, with
// central differences: it perturbs each x[i] by ±tol.h (f reads x), and
// divides by the perturbation actually stored in float32. It fails if any
// element disagrees, or if ana is all zero (a vacuous check).
func gcCheck(t gcReporter, name string, x, ana []float32, f func() float64, tol gcTol) {
	t.Helper()
	if len(ana) != len(x) {
		t.Fatalf("%s: %d gradient values for %d inputs", name, len(ana), len(x))
	}
	bad, nonzero := 0, false
	worst := 0.0
	for i := range x {
		x0 := x[i]
		xp, xm := float32(float64(x0)+tol.h), float32(float64(x0)-tol.h)
		x[i] = xp
		fp := f()
		x[i] = xm
		fm := f()
		x[i] = x0
		num := (fp - fm) / (float64(xp) - float64(xm))
		a := float64(ana[i])
		nonzero = nonzero || a != 0
		err := math.Abs(a - num)
		lim := tol.atol + tol.rtol*math.Max(math.Abs(a), math.Abs(num))
		worst = math.Max(worst, err/lim)
		if !(err <= lim) {
			bad++
			if bad <= 5 {
				t.Errorf("%s: d/dx[%d]: analytic %.7g, numeric %.7g", name, i, a, num)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d gradient values wrong", name, bad, len(x))
	}
	if !nonzero {
		t.Errorf("%s: analytic gradient is all zero", name)
	}
	if testing.Verbose() {
		t.Logf("%s: %d values, worst error %.3f of tolerance", name, len(x), worst)
	}
}

// gcReporter is the part of *testing.T that gcCheck uses, so a test can
// run the checker against a recorder.
type gcReporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// gcRecorder is a gcReporter that only notes failure.
type gcRecorder struct{ failed bool }

func (*gcRecorder) Helper()                 {}
func (r *gcRecorder) Errorf(string, ...any) { r.failed = true }
func (r *gcRecorder) Fatalf(string, ...any) { r.failed = true }
func (*gcRecorder) Logf(string, ...any)     {}

// gcAccum checks a backward kernel's accumulate flag: run(dx, false) must
// overwrite dx without reading it (dx starts as NaN), and run(dx, true)
// must add exactly that gradient to what dx held.
func gcAccum(t *testing.T, name string, n int, run func(dx []float32, accumulate bool)) {
	t.Helper()
	r := gcRNG(99)
	g := make([]float32, n)
	for i := range g {
		g[i] = float32(math.NaN())
	}
	run(g, false)
	for i, v := range g {
		if math.IsNaN(float64(v)) {
			t.Fatalf("%s: overwrite left dx[%d] unwritten (or read it)", name, i)
		}
	}
	base := gcRand(r, n, -1, 1)
	acc := append([]float32(nil), base...)
	run(acc, true)
	for i := range acc {
		want := base[i] + g[i]
		if math.Abs(float64(acc[i]-want)) > 1e-5*(1+math.Abs(float64(want))) {
			t.Fatalf("%s: accumulate: dx[%d] = %g, want %g + %g", name, i, acc[i], base[i], g[i])
		}
	}
}

func gcRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6763)) }

// gcRand returns n values uniform in [lo, hi).
func gcRand(r *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return v
}

// gcDistinct returns n values at least gap apart in random order, centred
// on zero, so that max and ReLU kinks are further than a step away.
func gcDistinct(r *rand.Rand, n int, gap float32) []float32 {
	v := make([]float32, n)
	for i, p := range r.Perm(n) {
		v[i] = (float32(p) - float32(n)/2 + 0.5) * gap
	}
	return v
}

// gcDot is Σ a[i]*w[i] in float64: the scalar objective whose gradient
// with respect to a is w.
func gcDot(a, w []float32) float64 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(w[i])
	}
	return s
}

func gcPoolCases() []struct {
	p  Pool
	in Shape
} {
	var cs []struct {
		p  Pool
		in Shape
	}
	geo := []struct {
		k, s int
		same bool
		in   Shape
	}{
		{3, 1, true, Shape{2, 7, 6}},
		{3, 2, true, Shape{2, 8, 7}},
		{3, 2, true, Shape{1, 7, 8}},
		{3, 3, true, Shape{1, 8, 7}},
		{5, 1, true, Shape{1, 6, 7}},
		{7, 1, true, Shape{1, 5, 6}},
		{1, 2, false, Shape{2, 7, 6}},
		{3, 2, false, Shape{2, 7, 8}},
		{5, 3, false, Shape{1, 16, 14}},
		{3, 3, false, Shape{1, 9, 10}},
		{5, 3, true, Shape{1, 8, 10}},
		{3, 2, true, Shape{1, 3, poolMaxW + 3}}, // wider than the column buffers
	}
	for _, g := range geo {
		for _, max := range []bool{false, true} {
			cs = append(cs, struct {
				p  Pool
				in Shape
			}{Pool{Max: max, KH: g.k, KW: g.k, Stride: g.s, Same: g.same}, g.in})
		}
	}
	return cs
}

// gcPoolPaths is gcPoolCases once per path of vecPaths.
func gcPoolPaths(t testing.TB) []struct {
	p  Pool
	in Shape
} {
	var cs []struct {
		p  Pool
		in Shape
	}
	for _, v := range vecPaths(t) {
		for _, c := range gcPoolCases() {
			c.p.Vec = v
			cs = append(cs, c)
		}
	}
	return cs
}

func gcPoolName(p Pool, in Shape) string {
	kind, pad := "avg", "valid"
	if p.Max {
		kind = "max"
	}
	if p.Same {
		pad = "same"
	}
	return fmt.Sprintf("%s%dx%d/s%d/%s/%dx%dx%d", kind, p.KH, p.KW, p.Stride, pad, in.C, in.H, in.W)
}

func TestGradPool(t *testing.T) {
	r := gcRNG(1)
	for _, c := range gcPoolPaths(t) {
		p, in := c.p, c.in
		name := p.Vec.String() + "/" + gcPoolName(p, in)
		out := p.Out(in)
		x := gcDistinct(r, in.Elems(), 0.05)
		y := make([]float32, out.Elems())
		w := gcRand(r, out.Elems(), -1, 1)
		dx := make([]float32, in.Elems())
		PoolForward(p, x, in, y, poolScratch(p, in))
		PoolBackward(p, x, in, y, w, dx, false, poolScratch(p, in))
		gcCheck(t, name, x, dx, func() float64 {
			PoolForward(p, x, in, y, poolScratch(p, in))
			return gcDot(y, w)
		}, gcKernel())
		gcAccum(t, name, in.Elems(), func(dx []float32, acc bool) { PoolBackward(p, x, in, y, w, dx, acc, poolScratch(p, in)) })
	}
}

// gcBNCase is a small batch norm problem with a strided input tensor (a
// channel slice of a larger buffer) and a dense output gradient.
type gcBNCase struct {
	s                Shape
	n                int
	eps              float32
	x                Tensor
	xOffset, xStride int
	gamma, beta      []float32
	mean, variance   []float32
	y, w, dx         Tensor
	sumDy, sumDyXhat []float32
}

func gcNewBN(r *rand.Rand, n int, s Shape) *gcBNCase {
	b := &gcBNCase{s: s, n: n, eps: 1e-3}
	b.xOffset, b.xStride = 5, s.Elems()+7
	data := gcRand(r, b.xOffset+n*b.xStride, -9, 9) // junk outside the slice
	b.x = Tensor{Data: data, Off: b.xOffset, Stride: b.xStride, N: n, S: s}
	for i := 0; i < n; i++ {
		img := b.x.Img(i)
		for j := range img {
			img[j] = 0.7 + 1.8*(r.Float32()-0.5) + float32(j/(s.H*s.W))*0.3
		}
	}
	b.gamma = gcRand(r, s.C, 0.5, 1.5)
	b.beta = gcRand(r, s.C, -0.5, 0.5)
	b.mean, b.variance = make([]float32, s.C), make([]float32, s.C)
	b.sumDy, b.sumDyXhat = make([]float32, s.C), make([]float32, s.C)
	b.y = Dense(make([]float32, n*s.Elems()), n, s)
	b.w = Dense(gcRand(r, n*s.Elems(), -1, 1), n, s)
	b.dx = Dense(make([]float32, n*s.Elems()), n, s)
	return b
}

// forward runs BNStats (in two channel ranges) and BNForward on every image
// and returns Σ y*w.
func (b *gcBNCase) forward() float64 {
	h := b.s.C / 2
	BNStats(b.x, 0, h, b.mean, b.variance)
	BNStats(b.x, h, b.s.C, b.mean, b.variance)
	for i := 0; i < b.n; i++ {
		BNForward(b.x.Img(i), b.s, b.mean, b.variance, b.gamma, b.beta, b.eps, b.y.Img(i))
	}
	return gcDot(b.y.Data, b.w.Data)
}

// backward runs the forward, then the sums (in two ranges) and BNBackward
// on every image with the given accumulate flag.
func (b *gcBNCase) backward(dx Tensor, accumulate bool) {
	b.forward()
	h := b.s.C / 2
	BNBackwardSums(b.x, b.w, b.mean, b.variance, b.eps, 0, h, b.sumDy, b.sumDyXhat)
	BNBackwardSums(b.x, b.w, b.mean, b.variance, b.eps, h, b.s.C, b.sumDy, b.sumDyXhat)
	count := b.n * b.s.H * b.s.W
	for i := 0; i < b.n; i++ {
		BNBackward(b.x.Img(i), b.w.Img(i), b.s, b.mean, b.variance, b.gamma, b.eps, b.sumDy, b.sumDyXhat, count, dx.Img(i), accumulate)
	}
}

// gcBNRef64 is batch norm over the whole batch in float64, from scratch,
// returning Σ y*w.
func gcBNRef64(x Tensor, gamma, beta []float32, eps float32, w []float32) float64 {
	s := x.S
	hw := s.H * s.W
	var obj float64
	for c := 0; c < s.C; c++ {
		var sum float64
		for n := 0; n < x.N; n++ {
			for _, v := range x.Img(n)[c*hw : c*hw+hw] {
				sum += float64(v)
			}
		}
		cnt := float64(x.N * hw)
		m := sum / cnt
		var q float64
		for n := 0; n < x.N; n++ {
			for _, v := range x.Img(n)[c*hw : c*hw+hw] {
				q += (float64(v) - m) * (float64(v) - m)
			}
		}
		inv := 1 / math.Sqrt(q/cnt+float64(eps))
		for n := 0; n < x.N; n++ {
			for j, v := range x.Img(n)[c*hw : c*hw+hw] {
				y := (float64(v)-m)*inv*float64(gamma[c]) + float64(beta[c])
				obj += y * float64(w[n*s.Elems()+c*hw+j])
			}
		}
	}
	return obj
}

func TestGradBN(t *testing.T) {
	r := gcRNG(2)
	b := gcNewBN(r, 3, Shape{4, 3, 5})
	b.backward(b.dx, false)
	// x is a channel slice of a larger buffer: perturb the whole buffer,
	// whose values outside the slice must have no effect (gradient 0).
	full := make([]float32, len(b.x.Data))
	for i := 0; i < b.n; i++ {
		copy(full[b.xOffset+i*b.xStride:], b.dx.Img(i))
	}
	gcCheck(t, "bn/x", b.x.Data, full, b.forward, gcKernel())
	gcCheck(t, "bn/x/ref64", b.x.Data, full, func() float64 {
		return gcBNRef64(b.x, b.gamma, b.beta, b.eps, b.w.Data)
	}, gcRef64())
	// dgamma = sumDyXhat, dbeta = sumDy.
	b.backward(b.dx, false)
	dgamma := append([]float32(nil), b.sumDyXhat...)
	dbeta := append([]float32(nil), b.sumDy...)
	gcCheck(t, "bn/gamma", b.gamma, dgamma, b.forward, gcKernel())
	gcCheck(t, "bn/beta", b.beta, dbeta, b.forward, gcKernel())
	gcCheck(t, "bn/gamma/ref64", b.gamma, dgamma, func() float64 { return gcBNRef64(b.x, b.gamma, b.beta, b.eps, b.w.Data) }, gcRef64())
	gcCheck(t, "bn/beta/ref64", b.beta, dbeta, func() float64 { return gcBNRef64(b.x, b.gamma, b.beta, b.eps, b.w.Data) }, gcRef64())
	gcAccum(t, "bn", len(b.dx.Data), func(dx []float32, acc bool) {
		b.backward(Dense(dx, b.n, b.s), acc)
	})
}

// gcNormCase runs layer or instance norm on one image.
type gcNormCase struct {
	ln          bool
	s           Shape
	eps         float32
	x, y, w     []float32
	gamma, beta []float32
	stats       []float32
}

func (c *gcNormCase) forward() float64 {
	if c.ln {
		LayerNormForward(c.x, c.s, c.gamma, c.beta, c.eps, c.y, c.stats)
	} else {
		InstanceNormForward(c.x, c.s, c.gamma, c.beta, c.eps, c.y, c.stats)
	}
	return gcDot(c.y, c.w)
}

func (c *gcNormCase) backward(dx []float32, acc bool, dgamma, dbeta []float32) {
	c.forward()
	if c.ln {
		LayerNormBackward(c.x, c.s, c.gamma, c.w, c.stats, dx, acc, dgamma, dbeta)
	} else {
		InstanceNormBackward(c.x, c.s, c.gamma, c.w, c.stats, dx, acc, dgamma, dbeta)
	}
}

// ref64 normalises in float64 from scratch: over everything (layer norm)
// or per channel (instance norm), returning Σ y*w.
func (c *gcNormCase) ref64() float64 {
	hw := c.s.H * c.s.W
	groups, size := c.s.C, hw
	if c.ln {
		groups, size = 1, c.s.Elems()
	}
	var obj float64
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
		for j, e := range v {
			ch := (g*size + j) / hw
			y := (float64(e)-m)*inv*float64(c.gamma[ch]) + float64(c.beta[ch])
			obj += y * float64(c.w[g*size+j])
		}
	}
	return obj
}

func gcNewNorm(r *rand.Rand, ln bool, s Shape) *gcNormCase {
	c := &gcNormCase{ln: ln, s: s, eps: 1e-3}
	c.x = gcRand(r, s.Elems(), -1, 2)
	c.y = make([]float32, s.Elems())
	c.w = gcRand(r, s.Elems(), -1, 1)
	c.gamma = gcRand(r, s.C, 0.5, 1.5)
	c.beta = gcRand(r, s.C, -0.5, 0.5)
	c.stats = make([]float32, 2*s.C)
	if ln {
		c.stats = c.stats[:2]
	}
	return c
}

func testGradNorm(t *testing.T, ln bool, name string) {
	r := gcRNG(3)
	c := gcNewNorm(r, ln, Shape{3, 4, 5})
	n := c.s.Elems()
	dx := make([]float32, n)
	dgamma, dbeta := make([]float32, c.s.C), make([]float32, c.s.C)
	c.backward(dx, false, dgamma, dbeta)
	gcCheck(t, name+"/x", c.x, dx, c.forward, gcKernel())
	gcCheck(t, name+"/gamma", c.gamma, dgamma, c.forward, gcKernel())
	gcCheck(t, name+"/beta", c.beta, dbeta, c.forward, gcKernel())
	gcCheck(t, name+"/x/ref64", c.x, dx, c.ref64, gcRef64())
	gcCheck(t, name+"/gamma/ref64", c.gamma, dgamma, c.ref64, gcRef64())
	gcCheck(t, name+"/beta/ref64", c.beta, dbeta, c.ref64, gcRef64())
	gcAccum(t, name, n, func(dx []float32, acc bool) { c.backward(dx, acc, nil, nil) })
	// Parameter gradients always accumulate.
	g2, b2 := append([]float32(nil), dgamma...), append([]float32(nil), dbeta...)
	c.backward(dx, false, g2, b2)
	for i := range g2 {
		if math.Abs(float64(g2[i]-2*dgamma[i])) > 1e-5 || math.Abs(float64(b2[i]-2*dbeta[i])) > 1e-5 {
			t.Fatalf("%s: dgamma/dbeta[%d] do not accumulate: %g %g after %g %g", name, i, g2[i], b2[i], dgamma[i], dbeta[i])
		}
	}
}

func TestGradLN(t *testing.T) { testGradNorm(t, true, "layernorm") }
func TestGradIN(t *testing.T) { testGradNorm(t, false, "instnorm") }

func TestGradReLU(t *testing.T) {
	r := gcRNG(4)
	x := gcDistinct(r, 60, 0.05)
	y := make([]float32, len(x))
	w := gcRand(r, len(x), -1, 1)
	dx := make([]float32, len(x))
	ReLUForward(x, y)
	ReLUBackward(y, w, dx, false)
	gcCheck(t, "relu", x, dx, func() float64 { ReLUForward(x, y); return gcDot(y, w) }, gcKernel())
	gcAccum(t, "relu", len(x), func(dx []float32, acc bool) { ReLUBackward(y, w, dx, acc) })
}

func TestGradShift(t *testing.T) {
	r := gcRNG(5)
	for _, s := range []Shape{{2, 5, 4}, {1, 1, 3}, {1, 4, 1}, {3, 2, 2}} {
		x := gcRand(r, s.Elems(), -1, 1)
		y := make([]float32, s.Elems())
		w := gcRand(r, s.Elems(), -1, 1)
		dx := make([]float32, s.Elems())
		ShiftBackward(w, s, dx, false)
		name := fmt.Sprintf("shift/%v", s)
		if s.H > 1 && s.W > 1 {
			gcCheck(t, name, x, dx, func() float64 { ShiftForward(x, s, y); return gcDot(y, w) }, gcKernel())
		} else {
			for i, v := range dx {
				if v != 0 {
					t.Errorf("%s: dx[%d] = %g, want 0 (everything shifts out)", name, i, v)
				}
			}
		}
		gcAccum(t, name, s.Elems(), func(dx []float32, acc bool) { ShiftBackward(w, s, dx, acc) })
	}
}

func TestGradGAP(t *testing.T) {
	r := gcRNG(6)
	s := Shape{3, 4, 5}
	x := gcRand(r, s.Elems(), -1, 1)
	y := make([]float32, s.C)
	w := gcRand(r, s.C, -1, 1)
	dx := make([]float32, s.Elems())
	GAPBackward(w, s, dx, false)
	gcCheck(t, "gap", x, dx, func() float64 { GAPForward(x, s, y); return gcDot(y, w) }, gcKernel())
	gcAccum(t, "gap", s.Elems(), func(dx []float32, acc bool) { GAPBackward(w, s, dx, acc) })
}

// gcLossRef64 is mean softmax cross-entropy with label smoothing in
// float64, from scratch (log-softmax by max subtraction), times scale.
func gcLossRef64(logits []float32, n, k int, labels []int, smoothing, scale float64) float64 {
	var loss float64
	for i := 0; i < n; i++ {
		z := logits[i*k : i*k+k]
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, float64(v))
		}
		var se float64
		for _, v := range z {
			se += math.Exp(float64(v) - m)
		}
		for j, v := range z {
			t := smoothing / float64(k)
			if j == labels[i] {
				t += 1 - smoothing
			}
			loss -= t * (float64(v) - m - math.Log(se))
		}
	}
	return scale * loss / float64(n)
}

func TestGradLoss(t *testing.T) {
	r := gcRNG(7)
	for _, tc := range []struct {
		n, k      int
		smoothing float32
		scale     float32
	}{
		{4, 7, 0, 1},
		{4, 7, 0.1, 1},
		{3, 3, 0.2, 0.4},
		{5, 10, 0.1, 2.5},
	} {
		name := fmt.Sprintf("loss/n%d/k%d/s%g/x%g", tc.n, tc.k, tc.smoothing, tc.scale)
		logits := gcRand(r, tc.n*tc.k, -3, 3)
		labels := make([]int, tc.n)
		for i := range labels {
			labels[i] = r.IntN(tc.k)
		}
		d := make([]float32, len(logits))
		SoftmaxCrossEntropy(logits, tc.n, tc.k, labels, tc.smoothing, d, tc.scale)
		gcCheck(t, name, logits, d, func() float64 {
			l, _, _ := SoftmaxCrossEntropy(logits, tc.n, tc.k, labels, tc.smoothing, nil, 1)
			return float64(tc.scale) * l
		}, gcKernel())
		gcCheck(t, name+"/ref64", logits, d, func() float64 {
			return gcLossRef64(logits, tc.n, tc.k, labels, float64(tc.smoothing), float64(tc.scale))
		}, gcRef64())
	}
}

func TestGradDropPath(t *testing.T) {
	r := gcRNG(8)
	x := gcRand(r, 30, -1, 1)
	y := make([]float32, len(x))
	w := gcRand(r, len(x), -1, 1)
	for _, u := range []float32{0.05, 0.5, 0.95} {
		keep := float32(0.7)
		s := DropPathMask(keep, u)
		name := fmt.Sprintf("droppath/u%g", u)
		// The executor's backward: Scale to overwrite, AddScaled to accumulate.
		back := func(dx []float32, acc bool) {
			if acc {
				AddScaled(dx, w, s)
			} else {
				Scale(w, dx, s)
			}
		}
		dx := make([]float32, len(x))
		back(dx, false)
		if s == 0 {
			for i, v := range dx {
				if v != 0 {
					t.Fatalf("%s: dropped path has gradient %g at %d", name, v, i)
				}
			}
		} else {
			gcCheck(t, name, x, dx, func() float64 { Scale(x, y, s); return gcDot(y, w) }, gcKernel())
		}
		gcAccum(t, name, len(x), back)
	}
}

func TestGradDropout(t *testing.T) {
	r := gcRNG(9)
	x := gcRand(r, 40, -1, 1)
	y := make([]float32, len(x))
	w := gcRand(r, len(x), -1, 1)
	mask := make([]float32, len(x))
	DropoutMask(mask, 0.5, r)
	dx := make([]float32, len(x))
	MulBackward(w, mask, dx, false)
	gcCheck(t, "dropout", x, dx, func() float64 { Mul(x, mask, y); return gcDot(y, w) }, gcKernel())
	gcAccum(t, "dropout", len(x), func(dx []float32, acc bool) { MulBackward(w, mask, dx, acc) })
}

// TestGradCheckerCatchesErrors makes sure the checker is not vacuous: a
// wrong gradient (avg pool's, scaled) must fail it.
func TestGradCheckerCatchesErrors(t *testing.T) {
	r := gcRNG(10)
	p := Pool{KH: 3, KW: 3, Stride: 1, Same: true}
	in := Shape{1, 4, 4}
	x := gcRand(r, in.Elems(), -1, 1)
	y := make([]float32, in.Elems())
	w := gcRand(r, in.Elems(), -1, 1)
	dx := make([]float32, in.Elems())
	PoolBackward(p, x, in, y, w, dx, false, poolScratch(p, in))
	dx[5] *= 1.1
	rec := &gcRecorder{}
	gcCheck(rec, "wrong", x, dx, func() float64 { PoolForward(p, x, in, y, poolScratch(p, in)); return gcDot(y, w) }, gcKernel())
	if !rec.failed {
		t.Fatal("gradient checker accepted a wrong gradient")
	}
	PoolBackward(p, x, in, y, w, dx, false, poolScratch(p, in))
	rec = &gcRecorder{}
	gcCheck(rec, "right", x, dx, func() float64 { PoolForward(p, x, in, y, poolScratch(p, in)); return gcDot(y, w) }, gcKernel())
	if rec.failed {
		t.Fatal("gradient checker rejected a right gradient")
	}
}

// TestGradKernelsAllocNothing checks every kernel of this file's families
// runs without allocating.
func TestGradKernelsAllocNothing(t *testing.T) {
	r := gcRNG(11)
	s := Shape{4, 6, 6}
	n := s.Elems()
	x, y, dy, dx := gcRand(r, n, -1, 1), make([]float32, n), gcRand(r, n, -1, 1), make([]float32, n)
	c := make([]float32, s.C)
	gamma, beta := gcRand(r, s.C, 0.5, 1.5), gcRand(r, s.C, -1, 1)
	mean, variance, sd, sdx := make([]float32, s.C), make([]float32, s.C), make([]float32, s.C), make([]float32, s.C)
	stats := make([]float32, 2*s.C)
	batch := Dense(gcRand(r, 3*n, -1, 1), 3, s)
	dbatch := Dense(gcRand(r, 3*n, -1, 1), 3, s)
	xs := [][]float32{x, dy, y}
	mask := make([]float32, n)
	labels := []int{1, 3}
	logits := gcRand(r, 2*9, -1, 1)
	dlogits := make([]float32, len(logits))
	idx := make([]int, 5)
	rng := gcRNG(12)
	big := gcRand(r, 2000, -1, 1)
	bigY := make([]float32, 2000)
	bigXs := [][]float32{big, big, big}
	pool := Pool{KH: 3, KW: 3, Stride: 2, Same: true}
	avg1 := Pool{KH: 3, KW: 3, Stride: 1, Same: true}
	max1 := Pool{Max: true, KH: 3, KW: 3, Stride: 1, Same: true}
	pscratch := poolScratch(avg1, s)
	pout := make([]float32, pool.Out(s).Elems())
	pdy := gcRand(r, len(pout), -1, 1)
	cases := []struct {
		name string
		f    func()
	}{
		{"PoolForward/avg", func() { PoolForward(pool, x, s, pout, nil) }},
		{"PoolBackward/avg", func() { PoolBackward(pool, x, s, pout, pdy, dx, true, nil) }},
		{"PoolForward/avg_s1", func() { PoolForward(avg1, x, s, y, pscratch) }},
		{"PoolBackward/avg_s1", func() { PoolBackward(avg1, x, s, y, dy, dx, true, pscratch) }},
		{"PoolForward/max", func() { PoolForward(max1, x, s, y, nil) }},
		{"PoolBackward/max", func() { PoolBackward(max1, x, s, y, dy, dx, false, nil) }},
		{"BNStats", func() { BNStats(batch, 0, s.C, mean, variance) }},
		{"BNForward", func() { BNForward(x, s, mean, variance, gamma, beta, 1e-3, y) }},
		{"BNBackwardSums", func() { BNBackwardSums(batch, dbatch, mean, variance, 1e-3, 0, s.C, sd, sdx) }},
		{"BNBackward", func() { BNBackward(x, dy, s, mean, variance, gamma, 1e-3, sd, sdx, 3*36, dx, false) }},
		{"UpdateMoving", func() { UpdateMoving(c, mean, 0.9) }},
		{"UpdateMovingVariance", func() { UpdateMovingVariance(c, variance, 0.9, 108) }},
		{"LayerNormForward", func() { LayerNormForward(x, s, gamma, beta, 1e-3, y, stats[:2]) }},
		{"LayerNormBackward", func() { LayerNormBackward(x, s, gamma, dy, stats[:2], dx, true, sd, sdx) }},
		{"InstanceNormForward", func() { InstanceNormForward(x, s, gamma, beta, 1e-3, y, stats) }},
		{"InstanceNormBackward", func() { InstanceNormBackward(x, s, gamma, dy, stats, dx, false, sd, sdx) }},
		{"ReLUForward", func() { ReLUForward(x, y) }},
		{"ReLUBackward", func() { ReLUBackward(y, dy, dx, true) }},
		{"Add2", func() { Add2(x, dy, y) }},
		{"AddN/3", func() { AddN(y, xs) }},
		{"AddN/big", func() { AddN(bigY, bigXs) }},
		{"Copy", func() { Copy(x, y) }},
		{"AddInto", func() { AddInto(dx, dy) }},
		{"Scale", func() { Scale(x, y, 0.5) }},
		{"AddScaled", func() { AddScaled(dx, dy, 0.5) }},
		{"Zero", func() { Zero(y) }},
		{"Mul", func() { Mul(x, mask, y) }},
		{"MulBackward", func() { MulBackward(dy, mask, dx, true) }},
		{"ShiftForward", func() { ShiftForward(x, s, y) }},
		{"ShiftBackward", func() { ShiftBackward(dy, s, dx, true) }},
		{"GAPForward", func() { GAPForward(x, s, c) }},
		{"GAPBackward", func() { GAPBackward(c, s, dx, false) }},
		{"DropPathMask", func() { c[0] = DropPathMask(0.7, rng.Float32()) }},
		{"DropoutMask", func() { DropoutMask(mask, 0.5, rng) }},
		{"SoftmaxCrossEntropy", func() { SoftmaxCrossEntropy(logits, 2, 9, labels, 0.1, dlogits, 1) }},
		{"TopK", func() { TopK(logits[:9], 5, idx) }},
	}
	for _, tc := range cases {
		if a := testing.AllocsPerRun(20, tc.f); a != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tc.name, a)
		}
	}
}
