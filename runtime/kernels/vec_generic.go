//go:build !(goexperiment.simd && amd64)

package kernels

// Without GOEXPERIMENT=simd on amd64 the vector loops are plain Go.

// loopHave is the widest vector loops this build runs: none.
func loopHave() Vec { return VecGo }

// fusedTaps adds Σ_t w[t]·x[i + t*d] to y[i], for up to five taps; with
// set it writes b + Σ instead.
func fusedTaps(v Vec, y, x, w []float32, d int, set bool, b float32) {
	fusedTapsGo(y, x, w, d, set, b)
}

// fusedTaps9 adds the 3×3 kernel w (row-major) to y: y[i] +=
// Σ w[3r+c]·x[i + r·d·wp + c·d]; with set it writes b + Σ instead.
func fusedTaps9(v Vec, y, x []float32, w *[9]float32, wp, d int, set bool, b float32) {
	fusedTaps9Go(y, x, w, wp, d, set, b)
}

// fusedTapDots adds Σ_i dy[i]·x[i + t*d] to dw[t], for up to five taps.
func fusedTapDots(v Vec, dy, x, dw []float32, d int) { convDWFusedDW(dy, x, dw, d) }

// The vec* functions do a prefix of an elementwise kernel in vector
// registers and return its length; the caller does the rest. Here the
// prefix is empty.

func vecReLU(x, y []float32) int                              { return 0 }
func vecReLUGrad(y, dy, dx []float32, accumulate bool) int    { return 0 }
func vecAdd(a, b, y []float32) int                            { return 0 }
func vecMul(a, b, y []float32) int                            { return 0 }
func vecDiv(a, b, y []float32) int                            { return 0 }
func vecScale(x, y []float32, s float32) int                  { return 0 }
func vecAffine(x []float32, m, a, b float32, y []float32) int { return 0 }

func vecRows(dst, src []float32, rows, w, dstStride, srcStride int, op rowOp) bool { return false }
func vecStride2(dst, src []float32, relu bool) int                                 { return 0 }
func vecMaskRows(dst, src, mask []float32, rows, w, dstStride, srcStride int, accumulate bool) bool {
	return false
}
func vecSum(v []float32) (int, float64)                                 { return 0, 0 }
func vecSqDev(v []float32, m float32) (int, float64)                    { return 0, 0 }
func vecShiftedSums(v []float32, shift float32) (int, float64, float64) { return 0, 0, 0 }
func vecDyDev(x, dy []float32, m float32) (int, float64, float64)       { return 0, 0, 0 }
func vecBackApply(x, dy []float32, m, a, b, c float32, dx []float32, accumulate bool) int {
	return 0
}

// vecPoolColMax and vecPoolRowMax are the max pool's column and row
// passes (PoolForward) for a prefix, vecPoolColSum the strided average's
// column pass; here the prefix is empty.
func vecPoolColMax(v Vec, kcol []int32, x []float32, rows, w int) int  { return 0 }
func vecPoolRowMax(v Vec, s int, y []float32, kcol []int32, k int) int { return 0 }
func vecPoolColSum(v Vec, col, x []float32, rows, w int) int           { return 0 }

// dwLanesForward is the AVX-512 depthwise pass: none in this build.
func dwLanesForward(g convGeom, ch int, x, w, bias []float32, y dwDest, scratch []float32, relu bool) bool {
	return false
}

// dwLanesBackward is the AVX-512 depthwise backward pass: none in this
// build.
func dwLanesBackward(g convGeom, ch int, x, w, dy, dx []float32, accumulateDX bool, dw, scratch []float32, relu bool) bool {
	return false
}

// dwLanesBoxSums is the AVX-512 box sum: none in this build.
func dwLanesBoxSums(g convGeom, ch int, x, y, scratch []float32) bool { return false }
