//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// The AVX-512 forms of the depthwise tap loops (and so of the stride-1
// average pools, which run on them): the AVX2 loops of vec_simd.go at 16
// lanes. Each does whole 16-float vectors and leaves the rest, at most 15
// floats, to its AVX2 form: the flat planes are sized in 8-float vectors
// (vecLen), so the rest is most often one 8-float vector, which AVX2 does
// in one step where plain Go would take eight. Below min512 floats (an
// 8×8 plane's 80) the AVX2 loops are as fast or faster: the 16-lane loop
// runs four or five times and its setup and the AVX2 rest cost as much.
const min512 = 128

// fusedTaps512 is fusedTaps with AVX-512 loops.
func fusedTaps512(y, x, w []float32, d int, set bool, b float32) {
	n := len(y) &^ 15
	if len(y) < min512 {
		fusedTaps(VecAVX2, y, x, w, d, set, b)
		return
	}
	x = x[:len(y)+(len(w)-1)*d] // bounds every load below
	py, px := unsafe.Pointer(&y[0]), unsafe.Pointer(&x[0])
	var bv [16]float32
	yin, ymask := tapsInput16(py, set, b, &bv)
	// One noinline function per tap count, as for AVX2 (fusedTaps).
	switch len(w) {
	case 1:
		taps1x16(py, px, n, w[0], yin, ymask)
	case 2:
		taps2x16(py, px, n, d, w[0], w[1], yin, ymask)
	case 3:
		taps3x16(py, px, n, d, w[0], w[1], w[2], yin, ymask)
	case 4:
		taps4x16(py, px, n, d, w[0], w[1], w[2], w[3], yin, ymask)
	case 5:
		taps5x16(py, px, n, d, w[0], w[1], w[2], w[3], w[4], yin, ymask)
	}
	if n < len(y) {
		fusedTaps(VecAVX2, y[n:], x[n:], w, d, set, b)
	}
}

// tapsInput16 is tapsInput for 16 lanes.
func tapsInput16(py unsafe.Pointer, set bool, b float32, bv *[16]float32) (unsafe.Pointer, int) {
	if !set {
		return py, -1
	}
	for i := range bv {
		bv[i] = b
	}
	return unsafe.Pointer(bv), 0
}

// fusedTaps9x512 is fusedTaps9 with AVX-512 loops.
func fusedTaps9x512(y, x []float32, w *[9]float32, wp, d int, set bool, b float32) {
	n := len(y) &^ 15
	if len(y) < min512 {
		fusedTaps9(VecAVX2, y, x, w, wp, d, set, b)
		return
	}
	x = x[:len(y)+2*d*wp+2*d] // bounds every load below
	py := unsafe.Pointer(&y[0])
	var bv [16]float32
	yin, ymask := tapsInput16(py, set, b, &bv)
	taps9x16(py, unsafe.Pointer(&x[0]), n, wp*d, d, w, yin, ymask)
	if n < len(y) {
		fusedTaps9(VecAVX2, y[n:], x[n:], w, wp, d, set, b)
	}
}

// taps9x16 is taps9 over n floats, a multiple of 16.
//
//go:noinline
func taps9x16(py, px unsafe.Pointer, n, row, d int, w *[9]float32, yin unsafe.Pointer, ymask int) {
	v0, v1, v2 := archsimd.BroadcastFloat32x16(w[0]), archsimd.BroadcastFloat32x16(w[1]), archsimd.BroadcastFloat32x16(w[2])
	v3, v4, v5 := archsimd.BroadcastFloat32x16(w[3]), archsimd.BroadcastFloat32x16(w[4]), archsimd.BroadcastFloat32x16(w[5])
	v6, v7, v8 := archsimd.BroadcastFloat32x16(w[6]), archsimd.BroadcastFloat32x16(w[7]), archsimd.BroadcastFloat32x16(w[8])
	r1, r2 := unsafe.Add(px, 4*row), unsafe.Add(px, 8*row)
	d2 := 2 * d
	for i := 0; i < n; i += 16 {
		// Two chains halve the dependent FMA latency per vector.
		a := zload(px, i).MulAdd(v0, zload(yin, i&ymask))
		b := zload(px, i+d).Mul(v1)
		a = zload(px, i+d2).MulAdd(v2, a)
		b = zload(r1, i).MulAdd(v3, b)
		a = zload(r1, i+d).MulAdd(v4, a)
		b = zload(r1, i+d2).MulAdd(v5, b)
		a = zload(r2, i).MulAdd(v6, a)
		b = zload(r2, i+d).MulAdd(v7, b)
		a = zload(r2, i+d2).MulAdd(v8, a)
		zstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

// tapsKx16 is tapsK over n floats, a multiple of 16.

//go:noinline
func taps1x16(py, px unsafe.Pointer, n int, w0 float32, yin unsafe.Pointer, ymask int) {
	v0 := archsimd.BroadcastFloat32x16(w0)
	for i := 0; i < n; i += 16 {
		zstore(py, i, zload(px, i).MulAdd(v0, zload(yin, i&ymask)))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps2x16(py, px unsafe.Pointer, n, d int, w0, w1 float32, yin unsafe.Pointer, ymask int) {
	v0, v1 := archsimd.BroadcastFloat32x16(w0), archsimd.BroadcastFloat32x16(w1)
	p1 := unsafe.Add(px, 4*d)
	for i := 0; i < n; i += 16 {
		a := zload(px, i).MulAdd(v0, zload(yin, i&ymask))
		zstore(py, i, zload(p1, i).MulAdd(v1, a))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps3x16(py, px unsafe.Pointer, n, d int, w0, w1, w2 float32, yin unsafe.Pointer, ymask int) {
	v0, v1, v2 := archsimd.BroadcastFloat32x16(w0), archsimd.BroadcastFloat32x16(w1), archsimd.BroadcastFloat32x16(w2)
	p1, p2 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d)
	for i := 0; i < n; i += 16 {
		a := zload(px, i).MulAdd(v0, zload(yin, i&ymask))
		b := zload(p1, i).Mul(v1)
		a = zload(p2, i).MulAdd(v2, a)
		zstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps4x16(py, px unsafe.Pointer, n, d int, w0, w1, w2, w3 float32, yin unsafe.Pointer, ymask int) {
	v0, v1 := archsimd.BroadcastFloat32x16(w0), archsimd.BroadcastFloat32x16(w1)
	v2, v3 := archsimd.BroadcastFloat32x16(w2), archsimd.BroadcastFloat32x16(w3)
	p1, p2, p3 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d)
	for i := 0; i < n; i += 16 {
		a := zload(px, i).MulAdd(v0, zload(yin, i&ymask))
		b := zload(p1, i).Mul(v1)
		a = zload(p2, i).MulAdd(v2, a)
		b = zload(p3, i).MulAdd(v3, b)
		zstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps5x16(py, px unsafe.Pointer, n, d int, w0, w1, w2, w3, w4 float32, yin unsafe.Pointer, ymask int) {
	v0, v1 := archsimd.BroadcastFloat32x16(w0), archsimd.BroadcastFloat32x16(w1)
	v2, v3 := archsimd.BroadcastFloat32x16(w2), archsimd.BroadcastFloat32x16(w3)
	v4 := archsimd.BroadcastFloat32x16(w4)
	p1, p2, p3, p4 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d), unsafe.Add(px, 16*d)
	for i := 0; i < n; i += 16 {
		a := zload(px, i).MulAdd(v0, zload(yin, i&ymask))
		b := zload(p1, i).Mul(v1)
		a = zload(p2, i).MulAdd(v2, a)
		b = zload(p3, i).MulAdd(v3, b)
		a = zload(p4, i).MulAdd(v4, a)
		zstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

// zload loads the 16 floats at float index i from p; zstore stores them.
// Callers bound i by slicing first: these do no checks.
func zload(p unsafe.Pointer, i int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(p, 4*i)))
}

func zstore(p unsafe.Pointer, i int, v archsimd.Float32x16) {
	v.Store((*[16]float32)(unsafe.Add(p, 4*i)))
}

// fusedTapDots512 is fusedTapDots with AVX-512 loops.
func fusedTapDots512(dy, x, dw []float32, d int) {
	n := len(dy) &^ 15
	if len(dy) < min512 {
		fusedTapDots(VecAVX2, dy, x, dw, d)
		return
	}
	x = x[:len(dy)+(len(dw)-1)*d] // bounds every load below
	var lanes [5][8]float32       // the accumulators' halves added, summed once the vector work is done
	dots16(unsafe.Pointer(&dy[0]), unsafe.Pointer(&x[0]), n, d, len(dw), &lanes)
	for t := range dw {
		l := &lanes[t]
		dw[t] += ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
	}
	if n < len(dy) {
		fusedTapDots(VecAVX2, dy[n:], x[n:], dw, d)
	}
}

// fold stores the sum of a's two halves in l: eight floats, as the AVX2
// loops leave them. Reading single floats back from a whole 64-byte
// store was slower than the loop itself on short planes (8×8: 65 against
// 38 ns for five taps), so the halves are added in registers first.
func fold(a archsimd.Float32x16, l *[8]float32) { a.GetLo().Add(a.GetHi()).Store(l) }

// dots16 stores into lanes[t] the lane sums of dy·x[t*d:] over n floats
// (a multiple of 16), for taps taps, folded to eight lanes. Like dots, it holds nothing but its
// loops; it leaves AVX state clear.
//
//go:noinline
func dots16(pd, px unsafe.Pointer, n, d, taps int, lanes *[5][8]float32) {
	// Tap t's pointer is made only where it has taps: past them it
	// could point outside x.
	switch taps {
	case 1:
		var a0, a1 archsimd.Float32x16 // two chains hide the FMA latency
		i := 0
		for ; i+32 <= n; i += 32 {
			a0 = zload(px, i).MulAdd(zload(pd, i), a0)
			a1 = zload(px, i+16).MulAdd(zload(pd, i+16), a1)
		}
		if i < n {
			a0 = zload(px, i).MulAdd(zload(pd, i), a0)
		}
		fold(a0.Add(a1), &lanes[0])
	case 2:
		var a0, a1 archsimd.Float32x16
		p1 := unsafe.Add(px, 4*d)
		for i := 0; i < n; i += 16 {
			v := zload(pd, i)
			a0 = zload(px, i).MulAdd(v, a0)
			a1 = zload(p1, i).MulAdd(v, a1)
		}
		fold(a0, &lanes[0])
		fold(a1, &lanes[1])
	case 3:
		var a0, a1, a2 archsimd.Float32x16
		p1, p2 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d)
		for i := 0; i < n; i += 16 {
			v := zload(pd, i)
			a0 = zload(px, i).MulAdd(v, a0)
			a1 = zload(p1, i).MulAdd(v, a1)
			a2 = zload(p2, i).MulAdd(v, a2)
		}
		fold(a0, &lanes[0])
		fold(a1, &lanes[1])
		fold(a2, &lanes[2])
	case 4:
		var a0, a1, a2, a3 archsimd.Float32x16
		p1, p2, p3 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d)
		for i := 0; i < n; i += 16 {
			v := zload(pd, i)
			a0 = zload(px, i).MulAdd(v, a0)
			a1 = zload(p1, i).MulAdd(v, a1)
			a2 = zload(p2, i).MulAdd(v, a2)
			a3 = zload(p3, i).MulAdd(v, a3)
		}
		fold(a0, &lanes[0])
		fold(a1, &lanes[1])
		fold(a2, &lanes[2])
		fold(a3, &lanes[3])
	case 5:
		var a0, a1, a2, a3, a4 archsimd.Float32x16
		p1, p2, p3, p4 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d), unsafe.Add(px, 16*d)
		for i := 0; i < n; i += 16 {
			v := zload(pd, i)
			a0 = zload(px, i).MulAdd(v, a0)
			a1 = zload(p1, i).MulAdd(v, a1)
			a2 = zload(p2, i).MulAdd(v, a2)
			a3 = zload(p3, i).MulAdd(v, a3)
			a4 = zload(p4, i).MulAdd(v, a4)
		}
		fold(a0, &lanes[0])
		fold(a1, &lanes[1])
		fold(a2, &lanes[2])
		fold(a3, &lanes[3])
		fold(a4, &lanes[4])
	}
	archsimd.ClearAVXUpperBits()
}

// rows512 is vecRows for rows whose width w (at most 64) is not a whole
// number of 8-float vectors: the small images' 7-, 14- and 28-wide rows,
// which the AVX2 loop leaves to plain Go, value by value. Each row is
// whole 16-float vectors and then one vector under the mask of its last
// w%16 lanes, whose masked loads and stores touch nothing past the row.
//
//go:noinline
func rows512(pd, ps unsafe.Pointer, rows, w, dstStride, srcStride int, op rowOp) {
	n := w &^ 15
	m := archsimd.Mask32x16FromBits(uint16(1)<<(w-n) - 1)
	var zero archsimd.Float32x16
	for r := range rows {
		d, s := unsafe.Add(pd, 4*r*dstStride), unsafe.Add(ps, 4*r*srcStride)
		for i := 0; i < n; i += 16 {
			v := zload(s, i)
			switch op {
			case rowAdd:
				v = v.Add(zload(d, i))
			case rowReLU:
				v = zero.Max(v)
			}
			zstore(d, i, v)
		}
		if n < w {
			dt, st := (*[16]float32)(unsafe.Add(d, 4*n)), (*[16]float32)(unsafe.Add(s, 4*n))
			v := archsimd.LoadMaskedFloat32x16(st, m)
			switch op {
			case rowAdd:
				v = v.Add(archsimd.LoadMaskedFloat32x16(dt, m))
			case rowReLU:
				v = zero.Max(v)
			}
			v.StoreMasked(dt, m)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// maskRows512 is vecMaskRows for widths that are not a whole number of
// 8-float vectors, as rows512 (dst and mask rows dstStride apart).
//
//go:noinline
func maskRows512(pd, ps, pm unsafe.Pointer, rows, w, dstStride, srcStride int, accumulate bool) {
	n := w &^ 15
	m := archsimd.Mask32x16FromBits(uint16(1)<<(w-n) - 1)
	var zero archsimd.Float32x16
	for r := range rows {
		d, s, k := unsafe.Add(pd, 4*r*dstStride), unsafe.Add(ps, 4*r*srcStride), unsafe.Add(pm, 4*r*dstStride)
		for i := 0; i < n; i += 16 {
			g := zload(s, i).Masked(zload(k, i).Greater(zero))
			if accumulate {
				g = g.Add(zload(d, i))
			}
			zstore(d, i, g)
		}
		if n < w {
			dt := (*[16]float32)(unsafe.Add(d, 4*n))
			st, kt := (*[16]float32)(unsafe.Add(s, 4*n)), (*[16]float32)(unsafe.Add(k, 4*n))
			g := archsimd.LoadMaskedFloat32x16(st, m).Masked(archsimd.LoadMaskedFloat32x16(kt, m).Greater(zero))
			if accumulate {
				g = g.Add(archsimd.LoadMaskedFloat32x16(dt, m))
			}
			g.StoreMasked(dt, m)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// poolKey16 is poolKey on 16 lanes, as poolKey8.
func poolKey16(v archsimd.Float32x16, zero archsimd.Float32x16, mag archsimd.Int32x16) archsimd.Int32x16 {
	b := v.Add(zero).AsInt32x16()
	return b.Xor(b.ShiftAllRight(31).And(mag))
}

// poolColMax16 is vecPoolColMax's AVX-512 loop over all w columns: whole
// 16-float vectors, then one under the mask of the last w%16 lanes,
// whose masked loads and stores touch nothing past the row.
//
//go:noinline
func poolColMax16(pk, px unsafe.Pointer, rows, w int) {
	var zero archsimd.Float32x16
	mag := archsimd.BroadcastInt32x16(0x7fffffff)
	n := w &^ 15
	for i := 0; i < n; i += 16 {
		m := poolKey16(zload(px, i), zero, mag)
		for r := 1; r < rows; r++ {
			m = m.Max(poolKey16(zload(px, r*w+i), zero, mag))
		}
		m.Store((*[16]int32)(unsafe.Add(pk, 4*i)))
	}
	if n < w {
		mk := archsimd.Mask32x16FromBits(uint16(1)<<(w-n) - 1)
		m := poolKey16(archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(px, 4*n)), mk), zero, mag)
		for r := 1; r < rows; r++ {
			m = m.Max(poolKey16(archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(px, 4*(r*w+n))), mk), zero, mag))
		}
		m.StoreMasked((*[16]int32)(unsafe.Add(pk, 4*n)), mk)
	}
	archsimd.ClearAVXUpperBits()
}

// poolRowMax16 is vecPoolRowMax's AVX-512 loop over all n outputs, the
// last vector masked as in poolColMax16.
//
//go:noinline
func poolRowMax16(py, pk unsafe.Pointer, n, k int) {
	mag := archsimd.BroadcastInt32x16(0x7fffffff)
	e := n &^ 15
	for i := 0; i < e; i += 16 {
		m := archsimd.LoadInt32x16((*[16]int32)(unsafe.Add(pk, 4*i)))
		for t := 1; t < k; t++ {
			m = m.Max(archsimd.LoadInt32x16((*[16]int32)(unsafe.Add(pk, 4*(i+t)))))
		}
		zstore(py, i, m.Xor(m.ShiftAllRight(31).And(mag)).AsFloat32x16())
	}
	if e < n {
		mk := archsimd.Mask32x16FromBits(uint16(1)<<(n-e) - 1)
		m := archsimd.LoadMaskedInt32x16((*[16]int32)(unsafe.Add(pk, 4*e)), mk)
		for t := 1; t < k; t++ {
			m = m.Max(archsimd.LoadMaskedInt32x16((*[16]int32)(unsafe.Add(pk, 4*(e+t))), mk))
		}
		m.Xor(m.ShiftAllRight(31).And(mag)).AsFloat32x16().StoreMasked((*[16]float32)(unsafe.Add(py, 4*e)), mk)
	}
	archsimd.ClearAVXUpperBits()
}

// poolColSum16 is vecPoolColSum's AVX-512 loop over all w columns, the
// last vector masked as in poolColMax16.
//
//go:noinline
func poolColSum16(pc, px unsafe.Pointer, rows, w int) {
	n := w &^ 15
	for i := 0; i < n; i += 16 {
		s := zload(px, i)
		for r := 1; r < rows; r++ {
			s = s.Add(zload(px, r*w+i))
		}
		zstore(pc, i, s)
	}
	if n < w {
		mk := archsimd.Mask32x16FromBits(uint16(1)<<(w-n) - 1)
		s := archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(px, 4*n)), mk)
		for r := 1; r < rows; r++ {
			s = s.Add(archsimd.LoadMaskedFloat32x16((*[16]float32)(unsafe.Add(px, 4*(r*w+n))), mk))
		}
		s.StoreMasked((*[16]float32)(unsafe.Add(pc, 4*n)), mk)
	}
	archsimd.ClearAVXUpperBits()
}

// poolRowMax2x16 is vecPoolRowMax's AVX-512 loop for stride 2 over all n
// outputs: for each tap, the 32 keys under 16 outputs are two loads, and
// a two-source permute picks their even lanes. Each load is masked to the
// keys the outputs need (so nothing past kcol is read), the last vector's
// store to its outputs.
//
//go:noinline
func poolRowMax2x16(py, pk unsafe.Pointer, n, k int) {
	mag := archsimd.BroadcastInt32x16(0x7fffffff)
	var ev [16]uint32
	for l := range ev {
		ev[l] = uint32(2 * l)
	}
	evens := archsimd.LoadUint32x16(&ev)
	for i := 0; i < n; i += 16 {
		r := min(n-i, 16)
		// Output lane l, tap t reads key 2l+t past the block's start:
		// the low load's lane 2l, the high load's lane 2l-16.
		lo := archsimd.Mask32x16FromBits(uint16(uint32(1)<<min(2*r-1, 16) - 1))
		hi := archsimd.Mask32x16FromBits(uint16(uint32(1)<<max(2*r-17, 0) - 1))
		base := 2 * i
		var m archsimd.Int32x16
		for t := range k {
			a := archsimd.LoadMaskedInt32x16((*[16]int32)(unsafe.Add(pk, 4*(base+t))), lo)
			b := archsimd.LoadMaskedInt32x16((*[16]int32)(unsafe.Add(pk, 4*(base+t+16))), hi)
			e := a.ConcatPermute(b, evens)
			if t == 0 {
				m = e
			} else {
				m = m.Max(e)
			}
		}
		out := m.Xor(m.ShiftAllRight(31).And(mag)).AsFloat32x16()
		if r == 16 {
			zstore(py, i, out)
		} else {
			out.StoreMasked((*[16]float32)(unsafe.Add(py, 4*i)), archsimd.Mask32x16FromBits(uint16(1)<<r-1))
		}
	}
	archsimd.ClearAVXUpperBits()
}
