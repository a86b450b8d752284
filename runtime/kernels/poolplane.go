package kernels

// Stride-1 average pools (three in every NASNet-A normal cell) run as box
// sums on flat padded planes, the stride-1 depthwise machinery of
// dwplane.go with a kernel of ones, and then divide by the number of real
// pixels in each window. That count is a product of a row count and a
// column count (the window clipped to the image is a rectangle), worked out
// once per image into a plane of counts. The backward pass is the box
// sum of dy/count. Dividing (not multiplying by a reciprocal) keeps the
// average of a constant image exactly that constant.

// avgPlane reports whether the pool takes the flat-plane path.
func (p Pool) avgPlane() bool { return !p.Max && p.Stride == 1 && p.KH <= 7 && p.KW <= 7 }

// ScratchLen is the number of floats of scratch PoolForward and
// PoolBackward need for input shape in: nothing for pools on the direct
// paths; two padded planes and a plane of window counts for a
// stride-1 average.
func (p Pool) ScratchLen(in Shape) int {
	if !p.avgPlane() {
		return 0
	}
	g := p.boxGeom(in)
	n := 2 * dwPlaneOf(g).n
	if dwLanesFits(g) {
		n = max(n, dwLanesScratch(g)) // the forward's box sums through lanes
	}
	return n + g.oh*g.ow
}

// boxGeom is the pool's window as a stride-1 depthwise geometry.
func (p Pool) boxGeom(in Shape) convGeom {
	oh, ow, pt, pl := p.geometry(in)
	return convGeom{vec: loopVec(p.Vec), kh: p.KH, kw: p.KW, s: 1, d: 1, h: in.H, w: in.W, oh: max(oh, 0), ow: max(ow, 0), pt: pt, pl: pl}
}

// boxOnes is a kernel of ones for the box sums.
func boxOnes(g convGeom) []float32 {
	var ones [49]float32
	for i := range ones {
		ones[i] = 1
	}
	return ones[:g.kh*g.kw]
}

// boxCounts fills n (oh×ow) with the number of real pixels in each
// output's window.
func boxCounts(g convGeom, n []float32) {
	for i := range g.oh {
		h0, h1 := poolSpan(i, 1, g.pt, g.kh, g.h)
		row := n[i*g.ow : (i+1)*g.ow]
		for j := range row {
			w0, w1 := poolSpan(j, 1, g.pl, g.kw, g.w)
			row[j] = float32((h1 - h0) * (w1 - w0))
		}
	}
}

// avgPlaneForward is the stride-1 average pool's forward pass: the box
// sums sixteen channels to a vector where that pays (dwLanesBoxSums),
// else on flat planes, then the division by the counts.
func avgPlaneForward(p Pool, x []float32, in Shape, y, scratch []float32) {
	g := p.boxGeom(in)
	p2 := g.oh * g.ow
	if ls := dwLanesScratch(g); len(scratch) >= ls+p2 && dwLanesBoxSums(g, in.C, x, y, scratch[:ls]) {
		counts := scratch[ls : ls+p2]
		boxCounts(g, counts)
		for c := range in.C {
			yc := y[c*p2 : (c+1)*p2]
			Div(yc, counts, yc)
		}
		return
	}
	pl := dwPlaneOf(g)
	xp, yf := scratch[:pl.n], scratch[pl.n:2*pl.n]
	counts := scratch[2*pl.n : 2*pl.n+p2]
	boxCounts(g, counts)
	hw := g.h * g.w
	l := flatLen(g.oh, g.ow, pl.wp)
	ones := boxOnes(g)
	for c := range in.C {
		yc := y[c*p2 : (c+1)*p2]
		padPlane(xp, x[c*hw:(c+1)*hw], g.h, g.w, g.pt, g.pl, pl.wp, false, c > 0)
		dwTaps(g, yf[:vecLen(l)], xp, ones, pl.wp, false, 0)
		unpadRows(yc, yf, g.oh, g.ow, pl.wp, false)
		Div(yc, counts, yc)
	}
}

// avgPlaneBackward adds (or writes) the stride-1 average pool's input
// gradient: the box sum of dy/count, read through the padded plane as the
// depthwise input gradient is.
func avgPlaneBackward(p Pool, in Shape, dy, dx []float32, accumulate bool, scratch []float32) {
	g := p.boxGeom(in)
	pl := dwPlaneOf(g)
	a, b := scratch[:pl.n], scratch[pl.n:2*pl.n]
	p2 := g.oh * g.ow
	counts := scratch[2*pl.n : 2*pl.n+p2]
	boxCounts(g, counts)
	hw := g.h * g.w
	li := flatLen(g.h, g.w, pl.wp)
	ones := boxOnes(g)
	if !accumulate {
		clear(dx[:in.C*hw])
	}
	for c := range in.C {
		// dy/count goes into b's first p2 floats, then into the padded
		// plane a; b is free again for the flat sums.
		Div(dy[c*p2:(c+1)*p2], counts, b[:p2])
		padPlane(a, b[:p2], g.oh, g.ow, g.kh-1-g.pt, g.kw-1-g.pl, pl.wp, false, c > 0)
		dwTaps(g, b[:vecLen(li)], a, ones, pl.wp, true, 0)
		unpadRows(dx[c*hw:(c+1)*hw], b, g.h, g.w, pl.wp, true)
	}
}
