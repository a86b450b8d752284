//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// With GOEXPERIMENT=simd on amd64, the vector loops use AVX2 with FMA
// (8 float32 lanes) when the CPU has them, and plain Go otherwise; the
// depthwise tap loops also have AVX-512 forms (vec512_simd.go). Each
// loop does whole vectors and leaves the tail to the plain-Go kernel. Each
// clears the AVX upper halves as soon as its vector work is done: the
// scalar SSE code around it (the tail, the caller's plain loops) runs
// about twice as slow while they are dirty.

// haveAVX2 reports whether the CPU runs the AVX2+FMA loops.
func haveAVX2() bool { return archsimd.X86.AVX2() && archsimd.X86.FMA() }

// loopHave is the widest vector loops this CPU runs: AVX-512 needs the
// F, CD, BW, DQ and VL extensions together (archsimd allows no AVX-512
// without all five) and FMA.
func loopHave() Vec {
	switch {
	case archsimd.X86.AVX512() && haveAVX2():
		return VecAVX512
	case haveAVX2():
		return VecAVX2
	}
	return VecGo
}

// fusedTaps adds Σ_t w[t]·x[i + t*d] to y[i], for up to five taps; with
// set it writes b + Σ instead and never reads y, which saves filling y
// first. v is the widest loops it may use (loopVec).
func fusedTaps(v Vec, y, x, w []float32, d int, set bool, b float32) {
	if v == VecAVX512 {
		fusedTaps512(y, x, w, d, set, b)
		return
	}
	n := len(y) &^ 7
	if v != VecAVX2 || n == 0 {
		fusedTapsGo(y, x, w, d, set, b)
		return
	}
	x = x[:len(y)+(len(w)-1)*d] // bounds every load below
	py, px := unsafe.Pointer(&y[0]), unsafe.Pointer(&x[0])
	var bv [8]float32
	yin, ymask := tapsInput(py, set, b, &bv)
	// One small function per tap count, never inlined: with nothing else
	// live, the register allocator keeps the loop index out of memory
	// (inlined here, the loops spill). Each clears the upper AVX state
	// itself before it returns: the caller reloads its spilled float
	// arguments with SSE instructions, and one such load between the
	// loop and a VZEROUPPER here made the whole 5×5 conv 1.2–1.6× slower.
	switch len(w) {
	case 1:
		taps1(py, px, n, w[0], yin, ymask)
	case 2:
		taps2(py, px, n, d, w[0], w[1], yin, ymask)
	case 3:
		taps3(py, px, n, d, w[0], w[1], w[2], yin, ymask)
	case 4:
		taps4(py, px, n, d, w[0], w[1], w[2], w[3], yin, ymask)
	case 5:
		taps5(py, px, n, d, w[0], w[1], w[2], w[3], w[4], yin, ymask)
	}
	if n < len(y) {
		fusedTapsGo(y[n:], x[n:], w, d, set, b)
	}
}

// tapsInput says where the taps loops read the values they add to: y
// itself (index mask -1), or with set the vector bv, filled with b and
// read at index 0 for every i (mask 0), which keeps one loop per tap
// count for both.
func tapsInput(py unsafe.Pointer, set bool, b float32, bv *[8]float32) (unsafe.Pointer, int) {
	if !set {
		return py, -1
	}
	*bv = [8]float32{b, b, b, b, b, b, b, b}
	return unsafe.Pointer(bv), 0
}

// fusedTaps9 adds the 3×3 kernel w (row-major) to y: y[i] +=
// Σ w[3r+c]·x[i + r·d·wp + c·d]; with set it writes b + Σ instead.
func fusedTaps9(v Vec, y, x []float32, w *[9]float32, wp, d int, set bool, b float32) {
	if v == VecAVX512 {
		fusedTaps9x512(y, x, w, wp, d, set, b)
		return
	}
	n := len(y) &^ 7
	if v != VecAVX2 || n == 0 {
		fusedTaps9Go(y, x, w, wp, d, set, b)
		return
	}
	x = x[:len(y)+2*d*wp+2*d] // bounds every load below
	py := unsafe.Pointer(&y[0])
	var bv [8]float32
	yin, ymask := tapsInput(py, set, b, &bv)
	taps9(py, unsafe.Pointer(&x[0]), n, wp*d, d, w, yin, ymask)
	if n < len(y) {
		fusedTaps9Go(y[n:], x[n:], w, wp, d, set, b)
	}
}

// taps9 stores into the n (a multiple of 8) floats at py nine taps plus
// the values at yin (index i&ymask): rows of the kernel are row floats
// apart in x, columns d apart.
//
//go:noinline
func taps9(py, px unsafe.Pointer, n, row, d int, w *[9]float32, yin unsafe.Pointer, ymask int) {
	v0, v1, v2 := archsimd.BroadcastFloat32x8(w[0]), archsimd.BroadcastFloat32x8(w[1]), archsimd.BroadcastFloat32x8(w[2])
	v3, v4, v5 := archsimd.BroadcastFloat32x8(w[3]), archsimd.BroadcastFloat32x8(w[4]), archsimd.BroadcastFloat32x8(w[5])
	v6, v7, v8 := archsimd.BroadcastFloat32x8(w[6]), archsimd.BroadcastFloat32x8(w[7]), archsimd.BroadcastFloat32x8(w[8])
	r1, r2 := unsafe.Add(px, 4*row), unsafe.Add(px, 8*row)
	d2 := 2 * d
	for i := 0; i < n; i += 8 {
		// Two chains halve the dependent FMA latency per vector.
		a := vload(px, i).MulAdd(v0, vload(yin, i&ymask))
		b := vload(px, i+d).Mul(v1)
		a = vload(px, i+d2).MulAdd(v2, a)
		b = vload(r1, i).MulAdd(v3, b)
		a = vload(r1, i+d).MulAdd(v4, a)
		b = vload(r1, i+d2).MulAdd(v5, b)
		a = vload(r2, i).MulAdd(v6, a)
		b = vload(r2, i+d).MulAdd(v7, b)
		a = vload(r2, i+d2).MulAdd(v8, a)
		vstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

// tapsK stores into the n (a multiple of 8) floats at py K taps, reading
// x at px + t·d floats for tap t, plus the values at yin (index i&ymask).

//go:noinline
func taps1(py, px unsafe.Pointer, n int, w0 float32, yin unsafe.Pointer, ymask int) {
	v0 := archsimd.BroadcastFloat32x8(w0)
	for i := 0; i < n; i += 8 {
		vstore(py, i, vload(px, i).MulAdd(v0, vload(yin, i&ymask)))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps2(py, px unsafe.Pointer, n, d int, w0, w1 float32, yin unsafe.Pointer, ymask int) {
	v0, v1 := archsimd.BroadcastFloat32x8(w0), archsimd.BroadcastFloat32x8(w1)
	p1 := unsafe.Add(px, 4*d)
	for i := 0; i < n; i += 8 {
		a := vload(px, i).MulAdd(v0, vload(yin, i&ymask))
		vstore(py, i, vload(p1, i).MulAdd(v1, a))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps3(py, px unsafe.Pointer, n, d int, w0, w1, w2 float32, yin unsafe.Pointer, ymask int) {
	v0, v1, v2 := archsimd.BroadcastFloat32x8(w0), archsimd.BroadcastFloat32x8(w1), archsimd.BroadcastFloat32x8(w2)
	p1, p2 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d)
	for i := 0; i < n; i += 8 {
		a := vload(px, i).MulAdd(v0, vload(yin, i&ymask))
		b := vload(p1, i).Mul(v1)
		a = vload(p2, i).MulAdd(v2, a)
		vstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps4(py, px unsafe.Pointer, n, d int, w0, w1, w2, w3 float32, yin unsafe.Pointer, ymask int) {
	v0, v1 := archsimd.BroadcastFloat32x8(w0), archsimd.BroadcastFloat32x8(w1)
	v2, v3 := archsimd.BroadcastFloat32x8(w2), archsimd.BroadcastFloat32x8(w3)
	p1, p2, p3 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d)
	for i := 0; i < n; i += 8 {
		a := vload(px, i).MulAdd(v0, vload(yin, i&ymask))
		b := vload(p1, i).Mul(v1)
		a = vload(p2, i).MulAdd(v2, a)
		b = vload(p3, i).MulAdd(v3, b)
		vstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

//go:noinline
func taps5(py, px unsafe.Pointer, n, d int, w0, w1, w2, w3, w4 float32, yin unsafe.Pointer, ymask int) {
	v0, v1 := archsimd.BroadcastFloat32x8(w0), archsimd.BroadcastFloat32x8(w1)
	v2, v3 := archsimd.BroadcastFloat32x8(w2), archsimd.BroadcastFloat32x8(w3)
	v4 := archsimd.BroadcastFloat32x8(w4)
	p1, p2, p3, p4 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d), unsafe.Add(px, 16*d)
	for i := 0; i < n; i += 8 {
		// Two chains halve the dependent FMA latency per vector.
		a := vload(px, i).MulAdd(v0, vload(yin, i&ymask))
		b := vload(p1, i).Mul(v1)
		a = vload(p2, i).MulAdd(v2, a)
		b = vload(p3, i).MulAdd(v3, b)
		a = vload(p4, i).MulAdd(v4, a)
		vstore(py, i, a.Add(b))
	}
	archsimd.ClearAVXUpperBits()
}

// vload loads the 8 floats at float index i from p; vstore stores them.
// Callers bound i by slicing first: these do no checks.
func vload(p unsafe.Pointer, i int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 4*i)))
}

func vstore(p unsafe.Pointer, i int, v archsimd.Float32x8) {
	v.Store((*[8]float32)(unsafe.Add(p, 4*i)))
}

// fusedTapDots adds Σ_i dy[i]·x[i + t*d] to dw[t], for up to five taps.
func fusedTapDots(v Vec, dy, x, dw []float32, d int) {
	if v == VecAVX512 {
		fusedTapDots512(dy, x, dw, d)
		return
	}
	n := len(dy) &^ 7
	if v != VecAVX2 || n == 0 {
		convDWFusedDW(dy, x, dw, d)
		return
	}
	x = x[:len(dy)+(len(dw)-1)*d] // bounds every load below
	var lanes [5][8]float32       // the accumulators, summed once the vector work is done
	dots(unsafe.Pointer(&dy[0]), unsafe.Pointer(&x[0]), n, d, len(dw), &lanes)
	archsimd.ClearAVXUpperBits()
	for t := range dw {
		l := &lanes[t]
		dw[t] += ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
	}
	if n < len(dy) {
		convDWFusedDW(dy[n:], x[n:], dw, d)
	}
}

// dots stores into lanes[t] the lane sums of dy·x[t*d:] over n floats (a
// multiple of 8), for taps taps. It holds nothing but its loop, so the
// loop's index and accumulators stay in registers.
func dots(pd, px unsafe.Pointer, n, d, taps int, lanes *[5][8]float32) {
	switch taps {
	case 1:
		var a0, a1 archsimd.Float32x8 // two chains hide the FMA latency
		i := 0
		for ; i+16 <= n; i += 16 {
			a0 = vload(px, i).MulAdd(vload(pd, i), a0)
			a1 = vload(px, i+8).MulAdd(vload(pd, i+8), a1)
		}
		if i < n {
			a0 = vload(px, i).MulAdd(vload(pd, i), a0)
		}
		a0.Add(a1).Store(&lanes[0])
	case 2:
		var a0, a1 archsimd.Float32x8
		p1 := unsafe.Add(px, 4*d)
		for i := 0; i < n; i += 8 {
			v := vload(pd, i)
			a0 = vload(px, i).MulAdd(v, a0)
			a1 = vload(p1, i).MulAdd(v, a1)
		}
		a0.Store(&lanes[0])
		a1.Store(&lanes[1])
	case 3:
		dots3(pd, px, n, d, lanes)
	case 4:
		dots4(pd, px, n, d, lanes)
	case 5:
		dots5(pd, px, n, d, lanes)
	}
}

func dots3(pd, px unsafe.Pointer, n, d int, lanes *[5][8]float32) {
	var a0, a1, a2 archsimd.Float32x8
	p1, p2 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d)
	for i := 0; i < n; i += 8 {
		v := vload(pd, i)
		a0 = vload(px, i).MulAdd(v, a0)
		a1 = vload(p1, i).MulAdd(v, a1)
		a2 = vload(p2, i).MulAdd(v, a2)
	}
	a0.Store(&lanes[0])
	a1.Store(&lanes[1])
	a2.Store(&lanes[2])
}

func dots4(pd, px unsafe.Pointer, n, d int, lanes *[5][8]float32) {
	var a0, a1, a2, a3 archsimd.Float32x8
	p1, p2, p3 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d)
	for i := 0; i < n; i += 8 {
		v := vload(pd, i)
		a0 = vload(px, i).MulAdd(v, a0)
		a1 = vload(p1, i).MulAdd(v, a1)
		a2 = vload(p2, i).MulAdd(v, a2)
		a3 = vload(p3, i).MulAdd(v, a3)
	}
	a0.Store(&lanes[0])
	a1.Store(&lanes[1])
	a2.Store(&lanes[2])
	a3.Store(&lanes[3])
}

func dots5(pd, px unsafe.Pointer, n, d int, lanes *[5][8]float32) {
	var a0, a1, a2, a3, a4 archsimd.Float32x8
	p1, p2, p3, p4 := unsafe.Add(px, 4*d), unsafe.Add(px, 8*d), unsafe.Add(px, 12*d), unsafe.Add(px, 16*d)
	for i := 0; i < n; i += 8 {
		v := vload(pd, i)
		a0 = vload(px, i).MulAdd(v, a0)
		a1 = vload(p1, i).MulAdd(v, a1)
		a2 = vload(p2, i).MulAdd(v, a2)
		a3 = vload(p3, i).MulAdd(v, a3)
		a4 = vload(p4, i).MulAdd(v, a4)
	}
	a0.Store(&lanes[0])
	a1.Store(&lanes[1])
	a2.Store(&lanes[2])
	a3.Store(&lanes[3])
	a4.Store(&lanes[4])
}

// The vec* functions do the whole-vector prefix of an elementwise kernel
// and return its length; the caller's plain loop does the rest. Slicing
// to that length first bounds every load and store.

// vecReLU writes y = max(x, 0). A NaN in x stays NaN (VMAXPS returns its
// second operand when either is NaN), as in the plain loop.
func vecReLU(x, y []float32) int {
	n := len(x) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	x, y = x[:n], y[:n]
	px, py := unsafe.Pointer(&x[0]), unsafe.Pointer(&y[0])
	var zero archsimd.Float32x8
	for i := 0; i < n; i += 8 {
		vstore(py, i, zero.Max(vload(px, i)))
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecReLUGrad writes (or adds) dx = dy where y > 0, else 0.
func vecReLUGrad(y, dy, dx []float32, accumulate bool) int {
	n := len(y) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	y, dy, dx = y[:n], dy[:n], dx[:n]
	py, pd, px := unsafe.Pointer(&y[0]), unsafe.Pointer(&dy[0]), unsafe.Pointer(&dx[0])
	var zero archsimd.Float32x8
	if accumulate {
		for i := 0; i < n; i += 8 {
			g := vload(pd, i).Masked(vload(py, i).Greater(zero))
			vstore(px, i, vload(px, i).Add(g))
		}
	} else {
		for i := 0; i < n; i += 8 {
			vstore(px, i, vload(pd, i).Masked(vload(py, i).Greater(zero)))
		}
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecAdd writes y = a + b.
func vecAdd(a, b, y []float32) int {
	n := len(a) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	a, b, y = a[:n], b[:n], y[:n]
	pa, pb, py := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&y[0])
	for i := 0; i < n; i += 8 {
		vstore(py, i, vload(pa, i).Add(vload(pb, i)))
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecMul writes y = a*b.
func vecMul(a, b, y []float32) int {
	n := len(a) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	a, b, y = a[:n], b[:n], y[:n]
	pa, pb, py := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&y[0])
	for i := 0; i < n; i += 8 {
		vstore(py, i, vload(pa, i).Mul(vload(pb, i)))
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecDiv writes y = a/b.
func vecDiv(a, b, y []float32) int {
	n := len(a) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	a, b, y = a[:n], b[:n], y[:n]
	pa, pb, py := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&y[0])
	for i := 0; i < n; i += 8 {
		vstore(py, i, vload(pa, i).Div(vload(pb, i)))
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecScale writes y = s*x.
func vecScale(x, y []float32, s float32) int {
	n := len(x) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	x, y = x[:n], y[:n]
	px, py := unsafe.Pointer(&x[0]), unsafe.Pointer(&y[0])
	sv := archsimd.BroadcastFloat32x8(s)
	for i := 0; i < n; i += 8 {
		vstore(py, i, vload(px, i).Mul(sv))
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecAffine writes y = (x-m)*a + b.
func vecAffine(x []float32, m, a, b float32, y []float32) int {
	n := len(x) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	x, y = x[:n], y[:n]
	px, py := unsafe.Pointer(&x[0]), unsafe.Pointer(&y[0])
	mv, av, bv := archsimd.BroadcastFloat32x8(m), archsimd.BroadcastFloat32x8(a), archsimd.BroadcastFloat32x8(b)
	for i := 0; i < n; i += 8 {
		vstore(py, i, vload(px, i).Sub(mv).MulAdd(av, bv))
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecMaskRows writes to dst, or adds to it when accumulate, each value of
// src where mask > 0 and 0 elsewhere, for rows rows of w floats (dst and
// mask rows dstStride apart, src rows srcStride apart) when w is a whole
// number of vectors, or, on AVX-512 CPUs, any w up to 64 (maskRows512),
// and reports whether it did: a ReLU's backward pass fused with unpadding
// a depthwise conv's input gradient.
func vecMaskRows(dst, src, mask []float32, rows, w, dstStride, srcStride int, accumulate bool) bool {
	if rows > 0 && w&7 != 0 && w <= 64 && loopHave() == VecAVX512 {
		dst = dst[:(rows-1)*dstStride+w]
		mask = mask[:(rows-1)*dstStride+w]
		src = src[:(rows-1)*srcStride+w]
		maskRows512(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), unsafe.Pointer(&mask[0]), rows, w, dstStride, srcStride, accumulate)
		return true
	}
	if !haveAVX2() || w&7 != 0 || w > 64 || rows == 0 {
		return false
	}
	dst = dst[:(rows-1)*dstStride+w]
	mask = mask[:(rows-1)*dstStride+w]
	src = src[:(rows-1)*srcStride+w]
	maskRows(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), unsafe.Pointer(&mask[0]), rows, w, dstStride, srcStride, accumulate)
	return true
}

//go:noinline
func maskRows(pd, ps, pm unsafe.Pointer, rows, w, dstStride, srcStride int, accumulate bool) {
	var zero archsimd.Float32x8
	for r := range rows {
		d, s := r*dstStride, r*srcStride
		for i := 0; i < w; i += 8 {
			g := vload(ps, s+i).Masked(vload(pm, d+i).Greater(zero))
			if accumulate {
				g = g.Add(vload(pd, d+i))
			}
			vstore(pd, d+i, g)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// vecStride2 writes dst[i] = src[2i], rectified (max(v, 0)) when relu,
// for a prefix of whole vectors, and returns its length: the even or odd
// columns of a row for a stride-2 depthwise conv's phase planes, two
// loads and three shuffles per eight values.
func vecStride2(dst, src []float32, relu bool) int {
	n := min(len(dst), len(src)/2) &^ 7
	if !haveAVX2() || n <= 0 {
		return 0
	}
	stride2(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), n, relu)
	return n
}

//go:noinline
func stride2(pd, ps unsafe.Pointer, n int, relu bool) {
	var zero archsimd.Float32x8
	for i := 0; i < n; i += 8 {
		// Constant shuffles only (an index vector built here stalled
		// on its stores): the 128-bit quarters a0-3 b0-3 and a4-7 b4-7,
		// then the even elements of each pair of halves.
		a, b := vload(ps, 2*i), vload(ps, 2*i+8)
		lo := a.Select128FromPair(0, 2, b)
		hi := a.Select128FromPair(1, 3, b)
		v := lo.SelectFromPairGrouped(0, 2, 4, 6, hi)
		if relu {
			v = zero.Max(v)
		}
		vstore(pd, i, v)
	}
	archsimd.ClearAVXUpperBits()
}

// vecRows copies rows rows of w floats from src, rows srcStride apart, to
// dst, rows dstStride apart, when w is a whole number of vectors, or, on
// AVX-512 CPUs, any w up to 64 (rows512), and reports whether it did; op
// rowAdd adds them instead, rowReLU rectifies
// them on the way. Short rows are the common case (a 32×32 plane's rows
// are four vectors), where memmove's call and dispatch cost more than the
// copy.
func vecRows(dst, src []float32, rows, w, dstStride, srcStride int, op rowOp) bool {
	if rows > 0 && w&7 != 0 && w <= 64 && loopHave() == VecAVX512 {
		dst = dst[:(rows-1)*dstStride+w]
		src = src[:(rows-1)*srcStride+w]
		rows512(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), rows, w, dstStride, srcStride, op)
		return true
	}
	if !haveAVX2() || w&7 != 0 || w > 64 || rows == 0 {
		return false
	}
	dst = dst[:(rows-1)*dstStride+w]
	src = src[:(rows-1)*srcStride+w]
	pd, ps := unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0])
	var zero archsimd.Float32x8
	for r := range rows {
		d, s := r*dstStride, r*srcStride
		switch op {
		case rowCopy:
			for i := 0; i < w; i += 8 {
				vstore(pd, d+i, vload(ps, s+i))
			}
		case rowAdd:
			for i := 0; i < w; i += 8 {
				vstore(pd, d+i, vload(ps, s+i).Add(vload(pd, d+i)))
			}
		case rowReLU:
			for i := 0; i < w; i += 8 {
				vstore(pd, d+i, zero.Max(vload(ps, s+i)))
			}
		}
	}
	archsimd.ClearAVXUpperBits()
	return true
}

// The normalisation sums run in float32 vectors over blocks of normBlock
// floats, each block's lanes widened into float64 accumulators, so the
// rounding error stays that of a short float32 sum.
const normBlock = 256

// widen adds a's eight lanes to the four float64 lanes of acc.
func widen(acc archsimd.Float64x4, a archsimd.Float32x8) archsimd.Float64x4 {
	return acc.Add(a.GetLo().ConvertToFloat64()).Add(a.GetHi().ConvertToFloat64())
}

// sum4 is the sum of acc's lanes, after leaving AVX state.
func sum4(acc archsimd.Float64x4) float64 {
	var l [4]float64
	acc.Store(&l)
	archsimd.ClearAVXUpperBits()
	return (l[0] + l[1]) + (l[2] + l[3])
}

// vecSum sums a whole-vector prefix of v, returning its length and sum.
func vecSum(v []float32) (int, float64) {
	n := len(v) &^ 7
	if !haveAVX2() || n == 0 {
		return 0, 0
	}
	v = v[:n]
	p := unsafe.Pointer(&v[0])
	var acc archsimd.Float64x4
	for lo := 0; lo < n; lo += normBlock {
		hi := min(lo+normBlock, n)
		var a archsimd.Float32x8
		for i := lo; i < hi; i += 8 {
			a = a.Add(vload(p, i))
		}
		acc = widen(acc, a)
	}
	return n, sum4(acc)
}

// vecSqDev sums (v-m)² over a whole-vector prefix of v.
func vecSqDev(v []float32, m float32) (int, float64) {
	n := len(v) &^ 7
	if !haveAVX2() || n == 0 {
		return 0, 0
	}
	v = v[:n]
	p := unsafe.Pointer(&v[0])
	mv := archsimd.BroadcastFloat32x8(m)
	var acc archsimd.Float64x4
	for lo := 0; lo < n; lo += normBlock {
		hi := min(lo+normBlock, n)
		var a archsimd.Float32x8
		for i := lo; i < hi; i += 8 {
			d := vload(p, i).Sub(mv)
			a = d.MulAdd(d, a)
		}
		acc = widen(acc, a)
	}
	return n, sum4(acc)
}

// vecShiftedSums sums v-shift and (v-shift)² over a whole-vector prefix
// of v.
func vecShiftedSums(v []float32, shift float32) (int, float64, float64) {
	n := len(v) &^ 7
	if !haveAVX2() || n == 0 {
		return 0, 0, 0
	}
	v = v[:n]
	p := unsafe.Pointer(&v[0])
	sv := archsimd.BroadcastFloat32x8(shift)
	var accS, accQ archsimd.Float64x4
	for lo := 0; lo < n; lo += normBlock {
		hi := min(lo+normBlock, n)
		// Two chains each: one add or FMA waits for the last (4–5
		// cycles), so a single chain ran at a quarter of the loads' pace.
		var a0, a1, b0, b1 archsimd.Float32x8
		i := lo
		for ; i+16 <= hi; i += 16 {
			d0, d1 := vload(p, i).Sub(sv), vload(p, i+8).Sub(sv)
			a0, a1 = a0.Add(d0), a1.Add(d1)
			b0, b1 = d0.MulAdd(d0, b0), d1.MulAdd(d1, b1)
		}
		if i < hi {
			d := vload(p, i).Sub(sv)
			a0, b0 = a0.Add(d), d.MulAdd(d, b0)
		}
		accS, accQ = widen(accS, a0.Add(a1)), widen(accQ, b0.Add(b1))
	}
	var l [4]float64
	accS.Store(&l)
	s := (l[0] + l[1]) + (l[2] + l[3])
	return n, s, sum4(accQ)
}

// vecDyDev sums dy and dy·(x-m) over a whole-vector prefix of x.
func vecDyDev(x, dy []float32, m float32) (int, float64, float64) {
	n := len(x) &^ 7
	if !haveAVX2() || n == 0 {
		return 0, 0, 0
	}
	x, dy = x[:n], dy[:n]
	px, pd := unsafe.Pointer(&x[0]), unsafe.Pointer(&dy[0])
	mv := archsimd.BroadcastFloat32x8(m)
	var accD, accX archsimd.Float64x4
	for lo := 0; lo < n; lo += normBlock {
		hi := min(lo+normBlock, n)
		var a0, a1, b0, b1 archsimd.Float32x8 // two chains, as in vecShiftedSums
		i := lo
		for ; i+16 <= hi; i += 16 {
			g0, g1 := vload(pd, i), vload(pd, i+8)
			a0, a1 = a0.Add(g0), a1.Add(g1)
			b0 = vload(px, i).Sub(mv).MulAdd(g0, b0)
			b1 = vload(px, i+8).Sub(mv).MulAdd(g1, b1)
		}
		if i < hi {
			g := vload(pd, i)
			a0, b0 = a0.Add(g), vload(px, i).Sub(mv).MulAdd(g, b0)
		}
		accD, accX = widen(accD, a0.Add(a1)), widen(accX, b0.Add(b1))
	}
	var l [4]float64
	accD.Store(&l)
	sd := (l[0] + l[1]) + (l[2] + l[3])
	return n, sd, sum4(accX)
}

// vecBackApply writes (or adds) dx = a*dy + b*(x-m) + c over a
// whole-vector prefix of x.
func vecBackApply(x, dy []float32, m, a, b, c float32, dx []float32, accumulate bool) int {
	n := len(x) &^ 7
	if !haveAVX2() || n == 0 {
		return 0
	}
	x, dy, dx = x[:n], dy[:n], dx[:n]
	px, pd, po := unsafe.Pointer(&x[0]), unsafe.Pointer(&dy[0]), unsafe.Pointer(&dx[0])
	mv, av, bv, cv := archsimd.BroadcastFloat32x8(m), archsimd.BroadcastFloat32x8(a), archsimd.BroadcastFloat32x8(b), archsimd.BroadcastFloat32x8(c)
	for i := 0; i < n; i += 8 {
		v := vload(pd, i).MulAdd(av, vload(px, i).Sub(mv).MulAdd(bv, cv))
		if accumulate {
			v = v.Add(vload(po, i))
		}
		vstore(po, i, v)
	}
	archsimd.ClearAVXUpperBits()
	return n
}

// vecPoolColMax sets kcol[c] to the largest poolKey of x[r*w+c] over
// rows r < rows, for a prefix of the columns c < w, and returns its
// length: whole 8-float vectors under AVX2, every column under AVX-512
// (a masked last vector). The keys are the integers poolKey makes, so
// the result is bitwise the plain-Go loop's.
func vecPoolColMax(v Vec, kcol []int32, x []float32, rows, w int) int {
	if v == VecAVX512 && w > 0 {
		x = x[:rows*w] // bounds every load below
		poolColMax16(unsafe.Pointer(&kcol[:w][0]), unsafe.Pointer(&x[0]), rows, w)
		return w
	}
	n := w &^ 7
	if v != VecAVX2 || n == 0 {
		return 0
	}
	x = x[:rows*w]
	poolColMax8(unsafe.Pointer(&kcol[:w][0]), unsafe.Pointer(&x[0]), n, rows, w)
	return n
}

// poolKey8 is poolKey on 8 lanes: -0 becomes +0 (adding zero), then the
// negative floats' magnitude bits are flipped.
func poolKey8(v archsimd.Float32x8, zero archsimd.Float32x8, mag archsimd.Int32x8) archsimd.Int32x8 {
	b := v.Add(zero).AsInt32x8()
	return b.Xor(b.ShiftAllRight(31).And(mag))
}

//go:noinline
func poolColMax8(pk, px unsafe.Pointer, n, rows, w int) {
	var zero archsimd.Float32x8
	mag := archsimd.BroadcastInt32x8(0x7fffffff)
	for i := 0; i < n; i += 8 {
		m := poolKey8(vload(px, i), zero, mag)
		for r := 1; r < rows; r++ {
			m = m.Max(poolKey8(vload(px, r*w+i), zero, mag))
		}
		m.Store((*[8]int32)(unsafe.Add(pk, 4*i)))
	}
	archsimd.ClearAVXUpperBits()
}

// vecPoolRowMax sets y[j] to poolUnkey of the largest of kcol[s*j :
// s*j+k], for a prefix of y, and returns its length: stride 1 in whole
// vectors under AVX2 and for all of y under AVX-512, stride 2 for all of
// y under AVX-512 (its two-source permutes pick the even lanes), other
// strides not at all. kcol must hold s*(len(y)-1)+k keys.
func vecPoolRowMax(v Vec, s int, y []float32, kcol []int32, k int) int {
	n := len(y)
	if n == 0 || k < 1 || s < 1 {
		return 0
	}
	kcol = kcol[:s*(n-1)+k] // bounds every load below
	if v == VecAVX512 {
		switch s {
		case 1:
			poolRowMax16(unsafe.Pointer(&y[0]), unsafe.Pointer(&kcol[0]), n, k)
			return n
		case 2:
			poolRowMax2x16(unsafe.Pointer(&y[0]), unsafe.Pointer(&kcol[0]), n, k)
			return n
		}
		return 0
	}
	n &^= 7
	if v != VecAVX2 || s != 1 || n == 0 {
		return 0
	}
	poolRowMax8(unsafe.Pointer(&y[0]), unsafe.Pointer(&kcol[0]), n, k)
	return n
}

//go:noinline
func poolRowMax8(py, pk unsafe.Pointer, n, k int) {
	mag := archsimd.BroadcastInt32x8(0x7fffffff)
	for i := 0; i < n; i += 8 {
		m := archsimd.LoadInt32x8((*[8]int32)(unsafe.Add(pk, 4*i)))
		for t := 1; t < k; t++ {
			m = m.Max(archsimd.LoadInt32x8((*[8]int32)(unsafe.Add(pk, 4*(i+t)))))
		}
		// poolUnkey: the same flip as poolKey.
		vstore(py, i, m.Xor(m.ShiftAllRight(31).And(mag)).AsFloat32x8())
	}
	archsimd.ClearAVXUpperBits()
}

// vecPoolColSum sets col[c] to the sum of x[r*w+c] over rows r < rows,
// added in row order as the plain-Go loop adds them (so the same bits),
// for a prefix of the columns c < w, and returns its length: whole
// 8-float vectors under AVX2, every column under AVX-512.
func vecPoolColSum(v Vec, col, x []float32, rows, w int) int {
	if v == VecAVX512 && w > 0 {
		x = x[:rows*w] // bounds every load below
		poolColSum16(unsafe.Pointer(&col[:w][0]), unsafe.Pointer(&x[0]), rows, w)
		return w
	}
	n := w &^ 7
	if v != VecAVX2 || n == 0 {
		return 0
	}
	x = x[:rows*w]
	poolColSum8(unsafe.Pointer(&col[:w][0]), unsafe.Pointer(&x[0]), n, rows, w)
	return n
}

//go:noinline
func poolColSum8(pc, px unsafe.Pointer, n, rows, w int) {
	for i := 0; i < n; i += 8 {
		s := vload(px, i)
		for r := 1; r < rows; r++ {
			s = s.Add(vload(px, r*w+i))
		}
		vstore(pc, i, s)
	}
	archsimd.ClearAVXUpperBits()
}
