package kernels

// Stride-1 depthwise convolutions (most of a NASNet's depthwise work: the
// second conv of every separable op, and all of those in normal cells) run
// on flat, zero-padded copies of each channel plane. With the padding in
// memory and the output computed at the padded row width, every tap of a
// kernel row is one long contiguous multiply-add over the whole plane
// (convDWFused and convDWFusedDW with stride 1, vectorised in vec_simd.go)
// instead of a short loop per output row with border tests; the columns
// that fall in the padding are computed and dropped. The input gradient is
// the same forward loop run over the padded output gradient with the
// kernel rotated by 180°, and the weight gradient is a dot product per
// tap. Strided depthwise convolutions split the input into phase planes
// first (dwphase.go) and then run the same loops.

// dwPlane sizes the flat planes for a stride-1 depthwise conv. The forward
// pass reads x padded to (OH+(KH-1)d) × (OW+(KW-1)d); the input-gradient
// pass reads dy padded to (H+(KH-1)d) × (W+(KW-1)d). Both use the larger
// row width wp, so one size n fits every plane either pass needs.
type dwPlane struct {
	hp, wp int
	n      int
}

func dwPlaneOf(g convGeom) dwPlane {
	hp := max(g.oh, g.h) + (g.kh-1)*g.d
	wp := max(g.ow, g.w) + (g.kw-1)*g.d
	return dwPlane{hp: hp, wp: wp, n: hp*wp + vecSlack}
}

// vecSlack is the floats every flat plane has past its last row, so that
// the vector loops run over whole vectors (vecLen): they compute up to
// seven values past a flat output's last one, which unpadRows drops,
// instead of finishing each pass with a scalar loop (which had cost a
// third as much as the vector loops on 8×8 planes).
const vecSlack = 8

// vecLen is l rounded up to whole vectors of eight floats.
func vecLen(l int) int { return (l + 7) &^ 7 }

// scratch is the floats ConvForward and ConvBackward need: three planes
// (the backward's padded x, padded dy and flat input gradient).
func (pl dwPlane) scratch() int { return 3 * pl.n }

// rowOp says what vecRows does with each value: copy, add or rectify.
type rowOp int

const (
	rowCopy rowOp = iota
	rowAdd
	rowReLU
)

// padPlane writes src (h×w) into dst as a plane of row width wp, top rows
// down and left columns across, with zeros everywhere else in dst; relu
// rectifies src on the way. With padded, dst already holds such a plane
// of the same geometry (the previous channel's: only its values are
// written, never its padding), and the padding is not cleared again.
func padPlane(dst, src []float32, h, w, top, left, wp int, relu, padded bool) {
	if h == 0 || w == 0 {
		clear(dst)
		return
	}
	// One memclr of the whole plane is faster than clearing only the
	// padding: its gaps between rows are 2–6 floats.
	if !padded {
		clear(dst)
	}
	first := top*wp + left
	op := rowCopy
	if relu {
		op = rowReLU
	}
	if vecRows(dst[first:], src, h, w, wp, w, op) {
		return
	}
	for r := range h {
		row := dst[(top+r)*wp+left:][:w]
		if relu {
			ReLUForward(src[r*w:(r+1)*w], row)
		} else {
			copy(row, src[r*w:(r+1)*w])
		}
	}
}

// unpadRows copies the first w columns of each of h rows of the flat plane
// src (row width wp) into dst (h×w), or adds them when accumulate.
func unpadRows(dst, src []float32, h, w, wp int, accumulate bool) {
	op := rowCopy
	if accumulate {
		op = rowAdd
	}
	if h == 0 || vecRows(dst, src, h, w, w, wp, op) {
		return
	}
	for r := range h {
		d, s := dst[r*w:(r+1)*w], src[r*wp:r*wp+w]
		if accumulate {
			AddInto(d, s)
		} else {
			copy(d, s)
		}
	}
}

// dwTaps writes into the flat output yf (row width wp, l values) b plus
// the convolution of the flat padded plane xp with the channel's kernel
// wk, read in row-major tap order, or rotated by 180° when flipped: one
// fused pass per group of up to five taps of a kernel row, the first of
// which writes yf without reading it.
func dwTaps(g convGeom, yf, xp, wk []float32, wp int, flipped bool, b float32) {
	if g.kh == 3 && g.kw == 3 {
		// The common 3×3: all nine taps in one pass (one load and store
		// of yf instead of three).
		var w9 [9]float32
		for t := range w9 {
			if flipped {
				w9[t] = wk[8-t]
			} else {
				w9[t] = wk[t]
			}
		}
		fusedTaps9(g.vec, yf, xp, &w9, wp, g.d, true, b)
		return
	}
	var wb [5]float32
	for kh := range g.kh {
		for t0 := 0; t0 < g.kw; {
			n := min(g.kw-t0, 5)
			if g.kw-t0 > 5 {
				n = 4 // 7 = 4 + 3
			}
			off := kh*g.d*wp + t0*g.d
			wr := wk[kh*g.kw+t0 : kh*g.kw+t0+n]
			if flipped {
				// Tap (kh, t) of the rotated kernel is w[KH-1-kh][KW-1-t].
				base := (g.kh-1-kh)*g.kw + g.kw - 1 - t0
				for i := range n {
					wb[i] = wk[base-i]
				}
				wr = wb[:n]
			}
			fusedTaps(g.vec, yf, xp[off:], wr, g.d, kh == 0 && t0 == 0, b)
			t0 += n
		}
	}
}

// convDWPlaneForward is the stride-1 depthwise forward pass: on AVX-512
// from 16 channels on, sixteen channels to a vector (dwLanesForward);
// otherwise on flat padded planes.
func convDWPlaneForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) {
	if dwLanesForward(g, ch, x, w, bias, y, scratch, relu) {
		return
	}
	convDWFlatForward(g, ch, x, w, bias, y, scratch, relu)
}

// convDWFlatForward is the stride-1 depthwise forward pass on flat padded
// planes.
func convDWFlatForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) {
	pl := dwPlaneOf(g)
	xp, yf := scratch[:pl.n], scratch[pl.n:2*pl.n]
	hw, kk := g.h*g.w, g.kh*g.kw
	l := flatLen(g.oh, g.ow, pl.wp)
	for c := range ch {
		if l == 0 {
			continue
		}
		b := float32(0)
		if bias != nil {
			b = bias[c]
		}
		padPlane(xp, x[c*hw:(c+1)*hw], g.h, g.w, g.pt, g.pl, pl.wp, relu, c > 0)
		dwTaps(g, yf[:vecLen(l)], xp, w[c*kk:(c+1)*kk], pl.wp, false, b)
		y.put(c, ch, yf, g.oh, g.ow, pl.wp)
	}
}

// dwDest is where a depthwise forward pass puts each channel's output:
// into y (C×H×W), or, with strips, into the 16-pixel strips that
// tileGemm reads as its B (stripBlock's layout: for C ≤ 256, pixel 16s+j
// of channel c at (s·C + c)·16 + j; zeros past the last pixel), which
// saves the 1×1 conv after it a pass over its input (DWPointwise). The
// lanes pass (dwLanesBackward) also puts input gradients through it:
// added to y with add, and with mask only where mask > 0 (the ReLU's
// input x, zero elsewhere); put itself does neither.
type dwDest struct {
	y      []float32
	strips bool
	add    bool
	mask   []float32
}

// put writes channel c (of ch) from the flat plane yf (oh rows of ow
// values at row width wp).
func (d dwDest) put(c, ch int, yf []float32, oh, ow, wp int) {
	p := oh * ow
	if !d.strips {
		unpadRows(d.y[c*p:(c+1)*p], yf, oh, ow, wp, false)
		return
	}
	// The channel is row c of B, in the block of tileK rows it falls in;
	// stride is from one of its strips to the next.
	k0 := c / tileK * tileK
	base, stride := stripBlock(k0, min(tileK, ch-k0), p)
	dst := d.y[base+(c-k0)*tileCols:]
	switch {
	case ow%tileCols == 0:
		// Each row is ow/16 strips: run t of every row at once.
		runs := ow / tileCols
		for t := range runs {
			stripRows(dst[t*stride:], yf[t*tileCols:], oh, tileCols, runs*stride, wp)
		}
	case tileCols%ow == 0 && oh%(tileCols/ow) == 0:
		// Each strip is m = 16/ow whole rows: row q of every strip.
		m := tileCols / ow
		for q := range m {
			stripRows(dst[q*ow:], yf[q*wp:], oh/m, ow, stride, m*wp)
		}
	default:
		// Row by row, each cut where it crosses into the next strip
		// (pixel 16i starts strip i): two or three copies a row for 7- to
		// 28-wide rows, where a division per pixel (ow is not a constant)
		// had taken 5.7 % of a Fashion-MNIST child's training profile.
		for r := range oh {
			pos, src := r*ow, yf[r*wp:r*wp+ow]
			for len(src) > 0 {
				i, j := pos/tileCols, pos%tileCols
				n := copy(dst[i*stride+j:i*stride+tileCols], src)
				pos, src = pos+n, src[n:]
			}
		}
		if j := p % tileCols; j != 0 {
			i := p / tileCols
			clear(dst[i*stride+j : i*stride+tileCols])
		}
	}
}

// stripRows copies rows rows of w floats, srcStride apart in src, to
// dst, dstStride apart.
func stripRows(dst, src []float32, rows, w, dstStride, srcStride int) {
	if rows == 0 || vecRows(dst, src, rows, w, dstStride, srcStride, rowCopy) {
		return
	}
	for r := range rows {
		copy(dst[r*dstStride:r*dstStride+w], src[r*srcStride:r*srcStride+w])
	}
}

// stripsLen is the floats of ch channels of p pixels in strips of 16.
func stripsLen(ch, p int) int { return ch * ((p + tileCols - 1) / tileCols * tileCols) }

// flatLen is the length of a flat plane of h rows of w values at row width
// wp, up to the last value used: (h-1)·wp + w, 0 when empty.
func flatLen(h, w, wp int) int {
	if h == 0 || w == 0 {
		return 0
	}
	return (h-1)*wp + w
}

// convDWPlaneBackward is the stride-1 depthwise backward pass.
//
// With relu, x is taken through a fused ReLU: the weight gradient reads
// max(x, 0), and each channel's input gradient is masked by x > 0 on its
// way into dx.
func convDWPlaneBackward(g convGeom, ch int, x, w, dy, dx []float32, accumulateDX bool, dw, dbias, scratch []float32, relu bool) {
	if dwLanesBackward(g, ch, x, w, dy, dx, accumulateDX, dw, scratch, relu) {
		if dbias != nil {
			p := g.oh * g.ow
			for c := range ch {
				dbias[c] += convSum(dy[c*p : (c+1)*p])
			}
		}
		return
	}
	pl := dwPlaneOf(g)
	xp, dq, out := scratch[:pl.n], scratch[pl.n:2*pl.n], scratch[2*pl.n:3*pl.n]
	hw, p, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	lo, li := flatLen(g.oh, g.ow, pl.wp), flatLen(g.h, g.w, pl.wp)
	// dy sits in its padded plane dq where the rotated kernel's taps meet
	// it for the input gradient: (KH-1)d - pt rows down, (KW-1)d - pl
	// across. From that corner on, dq is also dy at the padded row width
	// with zeros in the padding columns, as the weight gradient's dot
	// products want it: one copy serves both.
	top, left := (g.kh-1)*g.d-g.pt, (g.kw-1)*g.d-g.pl
	dyf := dq[top*pl.wp+left:]
	// Without the ReLU, each channel adds into dx; with it, each channel
	// writes dx through the mask (unless nothing reaches it at all).
	if dx != nil && !accumulateDX && (!relu || lo == 0) {
		clear(dx[:ch*hw])
	}
	// The planes' padding, once cleared, stays zero from channel to
	// channel: only their values are written.
	xpPadded, dqPadded := false, false
	for c := range ch {
		dyp := dy[c*p : (c+1)*p]
		if dbias != nil {
			dbias[c] += convSum(dyp)
		}
		if lo == 0 || dw == nil && dx == nil {
			continue
		}
		padPlane(dq, dyp, g.oh, g.ow, top, left, pl.wp, false, dqPadded)
		dqPadded = true
		if dw != nil {
			// dw[t] = Σ dy · (x under tap t), against the padded x.
			padPlane(xp, x[c*hw:(c+1)*hw], g.h, g.w, g.pt, g.pl, pl.wp, relu, xpPadded)
			xpPadded = true
			dwk := dw[c*kk : (c+1)*kk]
			for kh := range g.kh {
				for t0 := 0; t0 < g.kw; {
					n := min(g.kw-t0, 5)
					if g.kw-t0 > 5 {
						n = 4
					}
					// Past lo, dyf is zeros (the padding after dy's
					// last row): whole vectors add nothing there.
					fusedTapDots(g.vec, dyf[:vecLen(lo)], xp[kh*g.d*pl.wp+t0*g.d:], dwk[kh*g.kw+t0:kh*g.kw+t0+n], g.d)
					t0 += n
				}
			}
		}
		if dx != nil && li > 0 {
			dwTaps(g, out[:vecLen(li)], dq, w[c*kk:(c+1)*kk], pl.wp, true, 0)
			dxc := dx[c*hw : (c+1)*hw]
			if relu {
				// Through the ReLU's mask x > 0 as it is unpadded.
				xc := x[c*hw : (c+1)*hw]
				if !vecMaskRows(dxc, out, xc, g.h, g.w, g.w, pl.wp, accumulateDX) {
					t := scratch[3*pl.n : 3*pl.n+hw]
					unpadRows(t, out, g.h, g.w, pl.wp, false)
					ReLUBackward(xc, t, dxc, accumulateDX)
				}
			} else {
				unpadRows(dxc, out, g.h, g.w, pl.wp, true)
			}
		}
	}
}

// fusedTaps9Go is fusedTaps9 in plain Go: one fused pass per kernel row.
func fusedTaps9Go(y, x []float32, w *[9]float32, wp, d int, set bool, b float32) {
	for r := range 3 {
		fusedTapsGo(y, x[r*d*wp:], w[3*r:3*r+3], d, set && r == 0, b)
	}
}

// fusedTapsGo is fusedTaps in plain Go.
func fusedTapsGo(y, x, w []float32, d int, set bool, b float32) {
	if set {
		convFill(y, b)
	}
	convDWFused(y, x, w, d)
}

// dwLanesFits reports whether the lanes passes can run g (forward: any
// stride and padding; backward: stride 1 with the output the input's
// size, see lanesBackward): on AVX-512, with an output.
func dwLanesFits(g convGeom) bool {
	return g.vec == VecAVX512 && g.oh > 0 && g.ow > 0
}

// dwLanesPlane is the padded plane of the lanes passes: hp rows of wp
// pixels, each pixel 16 channels, enough for every output's window and
// for the input at its padding's offset.
func dwLanesPlane(g convGeom) (hp, wp int) {
	hp = max((g.oh-1)*g.s+(g.kh-1)*g.d+1, g.pt+g.h)
	wp = max((g.ow-1)*g.s+(g.kw-1)*g.d+1, g.pl+g.w)
	return hp, wp
}

// dwLanesScratch is the floats the lanes passes need: two 16×16 blocks,
// the kernel's taps and its weight gradients for 16 channels, and two
// padded planes (the backward's x and dy).
func dwLanesScratch(g convGeom) int {
	hp, wp := dwLanesPlane(g)
	return (2*16 + 2*g.kh*g.kw + 2*hp*wp) * 16
}
