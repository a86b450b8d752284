//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"

	"cellc/runtime/kernels/internal/tile"
)

// dwLanesForward is the stride-1 depthwise forward pass with sixteen
// channels to a vector, on AVX-512 where the output has the input's size;
// it reports false, having done nothing, elsewhere.
//
// One channel's plane is too small a loop for the flat planes (an 8×8
// plane padded for a 5×5 kernel is 144 values for 64 outputs, and every
// channel pays its own setup), so each group of 16 channels is transposed
// into one zero-padded plane of 16-channel pixels. There every tap of
// every output pixel is one vector multiply-add of that tap's 16 weights,
// with no masks and no per-channel loops; four neighbouring pixels share
// each weight load. Each 16 output pixels are transposed back, straight
// into the 1×1 conv's strips or into y.
func dwLanesForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) bool {
	if !dwLanesFits(g) || ch == 0 {
		return false
	}
	hw, kk := g.h*g.w, g.kh*g.kw
	if len(scratch) < dwLanesScratch(g) || len(x) < ch*hw || len(w) < ch*kk || bias != nil && len(bias) < ch {
		return false
	}
	if y.strips && len(y.y) < stripsLen(ch, hw) || !y.strips && len(y.y) < ch*hw {
		return false
	}
	hp, wp := dwLanesPlane(g)
	plane := scratch[:hp*wp*16]
	block := scratch[len(plane) : len(plane)+256]
	out := scratch[len(plane)+256 : len(plane)+512]
	taps := scratch[len(plane)+512 : len(plane)+512+kk*16]
	// The padding stays zero from group to group: only the pixels are
	// written.
	clear(plane)
	var bv [16]float32
	var off [16]int
	idx := tile.TransposeIndices()
	for c0 := 0; c0 < ch; c0 += 16 {
		nc := min(16, ch-c0)
		for t := range kk {
			tw := taps[t*16 : t*16+16]
			for j := range nc {
				tw[j] = w[(c0+j)*kk+t]
			}
			clear(tw[nc:])
		}
		for j := range 16 {
			bv[j] = 0
			if bias != nil && j < nc {
				bv[j] = bias[c0+j]
			}
		}
		// In: each 16 pixels of the group's planes, transposed into the
		// padded plane at their rows and columns (pixels past the plane
		// into out, which is free until the pass below).
		r, col := 0, 0
		for p0 := 0; p0 < hw; p0 += 16 {
			np := min(16, hw-p0)
			src, stride := unsafe.Pointer(nil), hw
			if nc == 16 && np == 16 {
				src = unsafe.Pointer(&x[c0*hw+p0])
			} else {
				clear(block)
				for j := range nc {
					copy(block[j*16:j*16+np], x[(c0+j)*hw+p0:(c0+j)*hw+p0+np])
				}
				src, stride = unsafe.Pointer(&block[0]), 16
			}
			if o0 := ((r+g.pt)*wp + col + g.pl) * 16; np == 16 && col+16 <= g.w {
				// All in one row.
				for i := range off {
					off[i] = o0 + 16*i
				}
				if col += 16; col == g.w {
					r, col = r+1, 0
				}
			} else {
				for i := range off {
					off[i] = len(plane) + 256 // out
					if i < np {
						off[i] = ((r+g.pt)*wp + col + g.pl) * 16
						if col++; col == g.w {
							r, col = r+1, 0
						}
					}
				}
			}
			tile.Transpose16((*float32)(src), stride, &scratch[0], &off, b2i(relu), &idx)
		}
		// Out: each 16 pixels in runs along their rows, eight, four or
		// one pixels at a time, then back to channel-major order.
		dstBase, dstStride := 0, 0 // where channel c0's s-th 16 pixels go: dstBase + s·dstStride
		if y.strips {
			k0 := c0 / tileK * tileK
			base, stride := stripBlock(k0, min(tileK, ch-k0), hw)
			dstBase, dstStride = base+(c0-k0)*tileCols, stride
		} else {
			dstBase, dstStride = c0*hw, 16
		}
		tp, bp := &taps[0], &bv[0]
		rowStep, tapStep := 4*wp*16*g.d, 4*16*g.d
		for s := 0; s*16 < hw; s++ {
			np := min(16, hw-s*16)
			for i := 0; i < np; {
				p := s*16 + i
				r, x0 := p/g.w, p%g.w
				run := min(np-i, g.w-x0)
				// Pixel (r, x0)'s window starts at padded (r, x0).
				win, o := &plane[(r*wp+x0)*16], &out[i*16]
				switch {
				case run >= 8:
					tile.DWTaps8(o, win, tp, bp, g.kh, g.kw, rowStep, tapStep)
					i += 8
				case run >= 4:
					dwLanesQuad(unsafe.Pointer(o), unsafe.Pointer(win), unsafe.Pointer(tp), unsafe.Pointer(bp), g.kh, g.kw, rowStep, tapStep)
					i += 4
				default:
					dwLanesOne(unsafe.Pointer(o), unsafe.Pointer(win), unsafe.Pointer(tp), unsafe.Pointer(bp), g.kh, g.kw, rowStep, tapStep)
					i++
				}
			}
			dwLanesStore(y, out, block, s, dstBase, dstStride, hw, nc, &idx)
		}
	}
	return true
}

// dwLanesStore transposes out (pixels 16s.. of channels c0..c0+nc-1, one
// pixel a row) and stores each channel's 16 pixels at dstBase +
// s·dstStride + j·16 (strips) or + j·hw (C×H×W): in strips, the lanes past
// the last pixel as zeros; in C×H×W, not at all. A partial group or the
// last few pixels go through block.
func dwLanesStore(y dwDest, out, block []float32, s, dstBase, dstStride, hw, nc int, idx *[8][16]uint32) {
	np := min(16, hw-s*16)
	base := dstBase + s*dstStride
	rowStep := hw
	if y.strips {
		rowStep = 16
	}
	var off [16]int
	if nc == 16 && np == 16 {
		for j := range off {
			off[j] = base + j*rowStep
		}
		_ = y.y[base+15*rowStep+15] // bounds every store
		tile.Transpose16(&out[0], 16, &y.y[0], &off, 0, idx)
		return
	}
	for j := range off {
		off[j] = j * 16
	}
	tile.Transpose16(&out[0], 16, &block[0], &off, 0, idx)
	for j := range nc {
		row := block[j*16 : j*16+16]
		if y.strips {
			dst := y.y[base+j*16 : base+j*16+16]
			copy(dst, row[:np])
			clear(dst[np:])
		} else {
			copy(y.y[base+j*hw:base+j*hw+np], row[:np])
		}
	}
}

// dwLanesQuad writes to out four pixels' 16 channels: b plus the taps of
// the kh×kw kernel (16 weights a tap, tap after tap at tp) over the
// padded plane from win (the first pixel's window's corner), whose rows
// are rowStep bytes apart at the dilation and whose taps are tapStep
// bytes apart; the four pixels are neighbours, 64 bytes apart.
//
//go:noinline
func dwLanesQuad(out, win, tp, bp unsafe.Pointer, kh, kw, rowStep, tapStep int) {
	b := archsimd.LoadFloat32x16((*[16]float32)(bp))
	a0, a1, a2, a3 := b, b, b, b
	for range kh {
		q := win
		for range kw {
			wt := archsimd.LoadFloat32x16((*[16]float32)(tp))
			a0 = zload(q, 0).MulAdd(wt, a0)
			a1 = zload(q, 16).MulAdd(wt, a1)
			a2 = zload(q, 32).MulAdd(wt, a2)
			a3 = zload(q, 48).MulAdd(wt, a3)
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

// b2i is 1 for true, the assembly kernels' flag.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
