//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"

	"cellc/runtime/kernels/internal/tile"
)

// Depthwise convolutions with sixteen channels to a vector, on AVX-512:
// the forward pass at any stride and padding, the backward pass at stride
// 1 with the output the input's size (SAME padding, as every odd kernel
// of the NAS cells).
//
// One channel's plane is too small a loop for the flat planes (an 8×8
// plane padded for a 5×5 kernel is 144 values for 64 outputs, and every
// channel pays its own setup), so each group of 16 channels is transposed
// into one zero-padded plane of 16-channel pixels. There every tap of
// every output pixel is one vector multiply-add of that tap's 16 weights,
// with no masks and no per-channel loops: sixteen pixels share each
// weight load (tile.DWTaps16; DWTaps8 where rows are not whole runs of
// eight). Each 16 output pixels are transposed back, straight into the
// 1×1 conv's strips or into y. The input gradient is the same pass over
// dy's plane with the kernel rotated by 180°, and the weight gradient
// multiplies dy's plane into x's under every tap (tile.DWGrad*).

// lanes is one such pass over an image. Every plane and buffer lies in
// scratch (dwLanesScratch), named by its offset there, so that the
// transposes can write into any of them.
type lanes struct {
	g          convGeom
	hw, kk, wp int // hw: input pixels
	ohw        int // output pixels
	s          []float32
	// Offsets in s: two 16×16 blocks, the kernel's taps and the weight
	// gradient's accumulators for 16 channels, and two padded planes.
	block, out, taps, acc, planeA, planeB int
	bias                                  [16]float32
}

func newLanes(g convGeom, scratch []float32) (lanes, bool) {
	if !dwLanesFits(g) || len(scratch) < dwLanesScratch(g) {
		return lanes{}, false
	}
	hp, wp := dwLanesPlane(g)
	kk := g.kh * g.kw
	l := lanes{g: g, hw: g.h * g.w, ohw: g.oh * g.ow, kk: kk, wp: wp, s: scratch, block: 0, out: 256, taps: 512}
	l.acc = l.taps + kk*16
	l.planeA = l.acc + kk*16
	l.planeB = l.planeA + hp*wp*16
	return l, true
}

// plane is the padded plane at offset at.
func (l *lanes) plane(at int) []float32 {
	hp, wp := dwLanesPlane(l.g)
	return l.s[at : at+hp*wp*16]
}

// clearPadding zeroes the plane at offset at except where load writes the
// input's pixels (at padded (pt, pl) on): the rows above and below them
// and the columns beside them. Clearing the whole plane had cost 1 % of
// an inference pass for 7×7 kernels' 38×38 planes.
func (l *lanes) clearPadding(at, pt, pl int) {
	g, wp := l.g, l.wp
	plane := l.plane(at)
	clear(plane[:pt*wp*16])
	clear(plane[(pt+g.h)*wp*16:])
	for r := pt; r < pt+g.h; r++ {
		row := plane[r*wp*16 : (r+1)*wp*16]
		clear(row[:pl*16])
		clear(row[(pl+g.w)*16:])
	}
}

// load transposes channels c0..c0+nc-1 of src (C×H×W) into the plane at
// offset at, pixel (r, c) at padded (r+pt, c+pl), rectified with relu.
// The plane's padding is never written: it stays as it was cleared.
func (l *lanes) load(at int, src []float32, c0, nc, pt, pl int, relu bool) {
	g, hw, wp := l.g, l.hw, l.wp
	var off [16]int
	r, col := 0, 0
	for p0 := 0; p0 < hw; p0 += 16 {
		np := min(16, hw-p0)
		var from *float32
		stride := hw
		if nc == 16 && np == 16 {
			from = &src[c0*hw+p0]
		} else {
			block := l.s[l.block : l.block+256]
			clear(block)
			for j := range nc {
				copy(block[j*16:j*16+np], src[(c0+j)*hw+p0:(c0+j)*hw+p0+np])
			}
			from, stride = &block[0], 16
		}
		flags := 0
		if relu {
			flags = tile.TransposeReLU
		}
		if o0 := at + ((r+pt)*wp+col+pl)*16; np == 16 && col+16 <= g.w {
			// All in one row: sixteen pixels one after another.
			_ = l.s[o0+255]
			tile.Transpose16(from, stride, &l.s[o0], nil, flags, nil)
			if col += 16; col == g.w {
				r, col = r+1, 0
			}
			continue
		}
		// Row by row: a run of pixels along each.
		for i := 0; i < np; {
			run := min(np-i, g.w-col)
			o := at + ((r+pt)*wp+col+pl)*16
			for j := range run {
				off[i+j] = o + 16*j
			}
			i += run
			if col += run; col == g.w {
				r, col = r+1, 0
			}
		}
		for i := np; i < 16; i++ {
			off[i] = l.out // pixels past the plane: out is free here
		}
		tile.Transpose16(from, stride, &l.s[0], &off, flags, nil)
	}
}

// setTaps lays out the kernels of channels c0..c0+nc-1 (of w, kh×kw
// each) tap by tap, 16 channels a tap, rotated by 180° with flip, and
// their biases (zero where bias is nil). A whole group's kernels are a
// 16×kk block of w, transposed 16 taps at a time (the rows past the last
// tap land in out, free here).
func (l *lanes) setTaps(w, bias []float32, c0, nc int, flip bool) {
	kk := l.kk
	if nc == 16 && (c0+15)*kk+(kk+15)/16*16 <= len(w) {
		var off [16]int
		for t0 := 0; t0 < kk; t0 += 16 {
			for i := range off {
				t := t0 + i
				switch {
				case t >= kk:
					off[i] = l.out
				case flip:
					off[i] = l.taps + (kk-1-t)*16
				default:
					off[i] = l.taps + t*16
				}
			}
			tile.Transpose16(&w[c0*kk+t0], kk, &l.s[0], &off, 0, nil)
		}
	} else {
		taps := l.s[l.taps : l.taps+kk*16]
		for t := range kk {
			src := t
			if flip {
				src = kk - 1 - t
			}
			tw := taps[t*16 : t*16+16]
			for j := range nc {
				tw[j] = w[(c0+j)*kk+src]
			}
			clear(tw[nc:])
		}
	}
	for j := range l.bias {
		l.bias[j] = 0
		if bias != nil && j < nc {
			l.bias[j] = bias[c0+j]
		}
	}
}

// conv convolves the plane at offset at with the taps (setTaps) and puts
// channels c0..c0+nc-1 of the result in dst.
func (l *lanes) conv(at int, dst dwDest, c0, nc, ch int) {
	g, ohw, wp := l.g, l.ohw, l.wp
	// Channel c0's s-th 16 pixels go to dstBase + s·dstStride.
	dstBase, dstStride := c0*ohw, 16
	if dst.strips {
		k0 := c0 / tileK * tileK
		base, stride := stripBlock(k0, min(tileK, ch-k0), ohw)
		dstBase, dstStride = base+(c0-k0)*tileCols, stride
	}
	tp, bp := &l.s[l.taps], &l.bias[0]
	rowStep, tapStep, pixStep := 4*wp*16*g.d, 4*16*g.d, 4*16*g.s
	// Output pixels 16s and 16s+8 are (r0, x0) and (r1, x1), stepped
	// along rather than divided out (four divisions per sixteen pixels
	// were 1–3 % of a 3×3 pass, BenchmarkDWLanes).
	r0, x0 := 0, 0
	r1, x1 := 8/g.ow, 8%g.ow
	for s := 0; s*16 < ohw; s++ {
		if s > 0 {
			r0, x0 = lanesStep(r0, x0, g.ow)
			r1, x1 = lanesStep(r1, x1, g.ow)
		}
		np := min(16, ohw-s*16)
		// Each 16 pixels as two runs of eight along their rows where
		// they are (rows of 8, 16 or 32), else in runs as they fall.
		if np == 16 && x0+8 <= g.ow && x1+8 <= g.ow {
			win0 := &l.s[at+(r0*wp+x0)*g.s*16]
			win1 := &l.s[at+(r1*wp+x1)*g.s*16]
			if at, step, ok := l.direct(dst, s, nc, dstBase+s*dstStride); ok {
				// Transposed by the kernel straight into dst.
				tile.DWTaps16(&dst.y[at], step, win0, win1, tp, bp, g.kh, g.kw, rowStep, tapStep, pixStep)
				continue
			}
			tile.DWTaps16(&l.s[l.out], 0, win0, win1, tp, bp, g.kh, g.kw, rowStep, tapStep, pixStep)
			l.store(dst, s, c0, nc, dstBase+s*dstStride)
			continue
		}
		for i := 0; i < np; {
			p := s*16 + i
			r, x0 := p/g.ow, p%g.ow
			run := min(np-i, g.ow-x0)
			// Output pixel (r, x0)'s window starts at padded (r·s, x0·s).
			win, o := &l.s[at+(r*wp+x0)*g.s*16], &l.s[l.out+i*16]
			switch {
			case run >= 8:
				tile.DWTaps8(o, win, tp, bp, g.kh, g.kw, rowStep, tapStep, pixStep)
				i += 8
			case run >= 4:
				dwLanesQuad(unsafe.Pointer(o), unsafe.Pointer(win), unsafe.Pointer(tp), unsafe.Pointer(bp), g.kh, g.kw, rowStep, tapStep, pixStep)
				i += 4
			default:
				dwLanesOne(unsafe.Pointer(o), unsafe.Pointer(win), unsafe.Pointer(tp), unsafe.Pointer(bp), g.kh, g.kw, rowStep, tapStep)
				i++
			}
		}
		l.store(dst, s, c0, nc, dstBase+s*dstStride)
	}
}

// lanesStep moves output pixel (r, x) sixteen pixels on along rows of
// ow pixels.
func lanesStep(r, x, ow int) (int, int) {
	for x += 16; x >= ow; x -= ow {
		r++
	}
	return r, x
}

// direct reports whether pixels 16s..16s+15 of a whole group of 16
// channels may be written to dst as plain rows, channel j's at at +
// j·step (base as for store): no partial group or last pixels, nothing
// added or masked.
func (l *lanes) direct(dst dwDest, s, nc, base int) (at, step int, ok bool) {
	step = l.ohw
	if dst.strips {
		step = 16
	}
	if nc != 16 || l.ohw-s*16 < 16 || dst.add || dst.mask != nil || base+15*step+15 >= len(dst.y) {
		return 0, 0, false
	}
	return base, step, true
}

// store transposes out (pixels 16s.. of channels c0..c0+nc-1, one pixel
// a row) and puts each channel's pixels in dst from base on, channel j at
// base + j·16 (strips, the lanes past the last pixel as zeros) or base +
// j·hw (C×H×W, nothing past the last pixel). A partial group, the last
// few pixels, or a dst that adds or masks go through block.
func (l *lanes) store(dst dwDest, s, c0, nc, base int) {
	hw := l.ohw
	np := min(16, hw-s*16)
	step := hw
	if dst.strips {
		step = 16
	}
	var off [16]int
	out := &l.s[l.out]
	if nc == 16 && np == 16 && (!dst.strips || !dst.add && dst.mask == nil) {
		for j := range off {
			off[j] = base + j*step
		}
		_ = dst.y[base+15*step+15] // bounds every store
		flags, mask := 0, (*float32)(nil)
		if dst.add {
			flags |= tile.TransposeAdd
		}
		if dst.mask != nil {
			_ = dst.mask[base+15*step+15]
			flags, mask = flags|tile.TransposeMask, &dst.mask[0]
		}
		tile.Transpose16(out, 16, &dst.y[0], &off, flags, mask)
		return
	}
	for j := range off {
		off[j] = l.block + j*16
	}
	tile.Transpose16(out, 16, &l.s[0], &off, 0, nil)
	for j := range nc {
		row := l.s[l.block+j*16 : l.block+j*16+16]
		if dst.strips {
			d := dst.y[base+j*16 : base+j*16+16]
			copy(d, row[:np])
			clear(d[np:])
			continue
		}
		d := dst.y[base+j*hw : base+j*hw+np]
		var m []float32
		if dst.mask != nil {
			m = dst.mask[(c0+j)*hw+s*16:][:np]
		}
		lanesPut(d, row[:np], m, dst.add)
	}
}

// lanesPut writes v to d, or adds it, and with m only where m > 0 (zero
// elsewhere, or nothing added): the input gradient through a ReLU.
func lanesPut(d, v, m []float32, add bool) {
	n := len(d)
	k := archsimd.Mask32x16FromBits(uint16(1)<<n - 1) // n = 16: all ones
	pd, pv := (*[16]float32)(unsafe.Pointer(&d[0])), (*[16]float32)(unsafe.Pointer(&v[0]))
	x := archsimd.LoadMaskedFloat32x16(pv, k)
	if m != nil {
		var zero archsimd.Float32x16
		x = x.Masked(archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Pointer(&m[0])), k).Greater(zero))
	}
	if add {
		x = x.Add(archsimd.LoadMaskedFloat32x16(pd, k))
	}
	x.StoreMasked(pd, k)
	archsimd.ClearAVXUpperBits()
}

// grads adds the weight gradients of channels c0..c0+nc-1 into dw (kh×kw
// a channel): the plane at xAt holds x as the forward pass read it, the
// one at dyAt dy with pixel (r, c) at padded (r+pt, c+pl). It reports
// false, having done nothing, for kernels other than 3×3, 5×5 and 7×7.
func (l *lanes) grads(xAt, dyAt, pt, pl int, dw []float32, c0, nc int) bool {
	g, wp := l.g, l.wp
	type part struct {
		row, tap int // first kernel row and tap
		f        func(acc, dy, win *float32, n, rowStep, tapStep int)
	}
	var parts [2]part
	switch {
	case g.kh == 3 && g.kw == 3:
		parts = [2]part{{0, 0, tile.DWGrad3x3}}
	case g.kh == 5 && g.kw == 5:
		parts = [2]part{{0, 0, tile.DWGrad5x5}}
	case g.kh == 7 && g.kw == 7:
		parts = [2]part{{0, 0, tile.DWGrad4x7}, {4, 28, tile.DWGrad3x7}}
	default:
		return false
	}
	acc := l.s[l.acc : l.acc+l.kk*16]
	clear(acc)
	rowStep, tapStep := 4*wp*16*g.d, 4*16*g.d
	for r := range g.h {
		dy := &l.s[dyAt+((r+pt)*wp+pl)*16]
		for _, pa := range parts {
			if pa.f != nil {
				// Output row r's windows start at padded (r, 0).
				pa.f(&acc[pa.tap*16], dy, &l.s[xAt+((r+pa.row*g.d)*wp)*16], g.w, rowStep, tapStep)
			}
		}
	}
	for t := range l.kk {
		for j := range nc {
			dw[(c0+j)*l.kk+t] += acc[t*16+j]
		}
	}
	return true
}

// dwLanesForward is the stride-1 depthwise forward pass, sixteen
// channels to a vector, where that pays (lanesPay); it reports false,
// having done nothing, elsewhere.
func dwLanesForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) bool {
	return lanesPay(ch) && lanesForward(g, ch, x, w, bias, y, scratch, relu)
}

// dwLanesBackward is the stride-1 depthwise backward pass without the
// bias gradient (convDWPlaneBackward's arguments), sixteen channels to a
// vector, where that pays (lanesPay); it reports false, having done
// nothing, elsewhere.
func dwLanesBackward(g convGeom, ch int, x, w, dy, dx []float32, accumulateDX bool, dw, scratch []float32, relu bool) bool {
	return lanesPay(ch) && lanesBackward(g, ch, x, w, dy, dx, accumulateDX, dw, scratch, relu)
}

// lanesPay reports whether ch channels are worth transposing: at least
// one whole group of 16. With fewer, the lanes a group leaves empty cost
// more than the flat planes' padding (BenchmarkDWLanes, Fashion-MNIST
// child shapes: 4 channels of 28×28 took 2–2.5× as long, 8 of 14×14
// 1.1–1.3×, 16 of 7×7 half as long).
func lanesPay(ch int) bool { return ch >= 16 }

// dwLanesBoxSums writes to y (C×OH×OW) the sums of each channel of x
// over g's windows (a kernel of ones, as the stride-1 average pools sum
// before they divide), sixteen channels to a vector, where that pays
// (lanesPay); it reports false, having done nothing, elsewhere.
func dwLanesBoxSums(g convGeom, ch int, x, y, scratch []float32) bool {
	hw, ohw := g.h*g.w, g.oh*g.ow
	if !lanesPay(ch) || len(x) < ch*hw || len(y) < ch*ohw {
		return false
	}
	l, ok := newLanes(g, scratch)
	if !ok {
		return false
	}
	taps := l.s[l.taps : l.taps+l.kk*16]
	for i := range taps {
		taps[i] = 1
	}
	clear(l.bias[:])
	l.clearPadding(l.planeA, g.pt, g.pl)
	for c0 := 0; c0 < ch; c0 += 16 {
		nc := min(16, ch-c0)
		l.load(l.planeA, x, c0, nc, g.pt, g.pl, false)
		l.conv(l.planeA, dwDest{y: y}, c0, nc, ch)
	}
	return true
}

// lanesForward is the forward pass through lanes; it reports false,
// having done nothing, where dwLanesFits does not hold.
func lanesForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) bool {
	hw, ohw, kk := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	if ch == 0 || len(x) < ch*hw || len(w) < ch*kk || bias != nil && len(bias) < ch ||
		y.strips && len(y.y) < stripsLen(ch, ohw) || !y.strips && len(y.y) < ch*ohw {
		return false
	}
	l, ok := newLanes(g, scratch)
	if !ok {
		return false
	}
	// The padding stays zero from group to group: only pixels are written.
	l.clearPadding(l.planeA, g.pt, g.pl)
	for c0 := 0; c0 < ch; c0 += 16 {
		nc := min(16, ch-c0)
		l.setTaps(w, bias, c0, nc, false)
		l.load(l.planeA, x, c0, nc, g.pt, g.pl, relu)
		l.conv(l.planeA, y, c0, nc, ch)
	}
	return true
}

// lanesBackward is the backward pass through lanes; it reports false,
// having done nothing, where dwLanesFits does not hold, the stride is not
// 1, the output is not the input's size or the weight gradient's kernel
// is not 3×3, 5×5 or 7×7.
func lanesBackward(g convGeom, ch int, x, w, dy, dx []float32, accumulateDX bool, dw, scratch []float32, relu bool) bool {
	hw, kk := g.h*g.w, g.kh*g.kw
	if ch == 0 || len(x) < ch*hw || len(w) < ch*kk || len(dy) < ch*hw ||
		dx != nil && len(dx) < ch*hw || dw != nil && len(dw) < ch*kk {
		return false
	}
	if g.s != 1 || g.oh != g.h || g.ow != g.w || dw != nil && !(g.kh == g.kw && (g.kh == 3 || g.kh == 5 || g.kh == 7)) {
		return false
	}
	l, ok := newLanes(g, scratch)
	if !ok {
		return false
	}
	// dy sits in its plane where the rotated kernel's taps meet it for
	// the input gradient: (KH-1)d - pt rows down, (KW-1)d - pl across.
	top, left := (g.kh-1)*g.d-g.pt, (g.kw-1)*g.d-g.pl
	l.clearPadding(l.planeA, g.pt, g.pl)
	l.clearPadding(l.planeB, top, left)
	dst := dwDest{y: dx, add: accumulateDX}
	if relu {
		dst.mask = x
	}
	for c0 := 0; c0 < ch; c0 += 16 {
		nc := min(16, ch-c0)
		l.load(l.planeB, dy, c0, nc, top, left, false)
		if dw != nil {
			l.load(l.planeA, x, c0, nc, g.pt, g.pl, relu)
			l.grads(l.planeA, l.planeB, top, left, dw, c0, nc)
		}
		if dx != nil {
			l.setTaps(w, nil, c0, nc, true)
			l.conv(l.planeB, dst, c0, nc, ch)
		}
	}
	return true
}

// dwLanesQuad writes to out four pixels' 16 channels: b plus the taps of
// the kh×kw kernel (16 weights a tap, tap after tap at tp) over the
// padded plane from win (the first pixel's window's corner), whose rows
// are rowStep bytes apart at the dilation and whose taps are tapStep
// bytes apart; the four pixels' windows are pixStep bytes apart.
//
//go:noinline
func dwLanesQuad(out, win, tp, bp unsafe.Pointer, kh, kw, rowStep, tapStep, pixStep int) {
	b := archsimd.LoadFloat32x16((*[16]float32)(bp))
	a0, a1, a2, a3 := b, b, b, b
	for range kh {
		q := win
		for range kw {
			wt := archsimd.LoadFloat32x16((*[16]float32)(tp))
			a0 = zload(q, 0).MulAdd(wt, a0)
			a1 = zload(unsafe.Add(q, pixStep), 0).MulAdd(wt, a1)
			a2 = zload(unsafe.Add(q, 2*pixStep), 0).MulAdd(wt, a2)
			a3 = zload(unsafe.Add(q, 3*pixStep), 0).MulAdd(wt, a3)
			q = unsafe.Add(q, tapStep)
			tp = unsafe.Add(tp, 64)
		}
		win = unsafe.Add(win, rowStep)
	}
	zstore(out, 0, a0)
	zstore(out, 16, a1)
	zstore(out, 32, a2)
	zstore(out, 48, a3)
	archsimd.ClearAVXUpperBits()
}

// dwLanesOne is dwLanesQuad for one pixel.
//
//go:noinline
func dwLanesOne(out, win, tp, bp unsafe.Pointer, kh, kw, rowStep, tapStep int) {
	a := archsimd.LoadFloat32x16((*[16]float32)(bp))
	for range kh {
		q := win
		for range kw {
			a = zload(q, 0).MulAdd(archsimd.LoadFloat32x16((*[16]float32)(tp)), a)
			q = unsafe.Add(q, tapStep)
			tp = unsafe.Add(tp, 64)
		}
		win = unsafe.Add(win, rowStep)
	}
	zstore(out, 0, a)
	archsimd.ClearAVXUpperBits()
}
