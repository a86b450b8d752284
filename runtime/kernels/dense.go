package kernels

// Fully connected layers: y = W·x + b with W stored [out, in] (row o holds
// output o's weights). The per-image functions take in = len(x) and
// out = len(y) (len(dy) backward); the batched ones take x as a contiguous
// [n, in] matrix and y or dy as [n, out], with in = len(x)/n and
// out = len(y)/n. Preconditions: len(w) ≥ out*in, b, db (when not nil)
// and dw are that long, dx is as long as x. Nothing is allocated.

// DenseForward computes one image's y = W·x + b; y is overwritten and b
// may be nil.
func DenseForward(x []float32, w []float32, b []float32, y []float32) {
	in := len(x)
	for o := range y {
		v := convDot(x, w[o*in:(o+1)*in])
		if b != nil {
			v += b[o]
		}
		y[o] = v
	}
}

// DenseBackward computes one image's gradients given dy: dx = Wᵀ·dy
// (overwritten, or added when accumulateDX; skipped when dx is nil),
// dw += dy·xᵀ and db += dy (dw or db nil skips that gradient).
func DenseBackward(x, w, dy []float32, dx []float32, accumulateDX bool, dw, db []float32) {
	in := len(x)
	if dx != nil {
		dx = dx[:in]
		if !accumulateDX {
			clear(dx)
		}
		for o, g := range dy {
			convAxpy(g, w[o*in:(o+1)*in], dx)
		}
	}
	for o, g := range dy {
		if dw != nil {
			convAxpy(g, x, dw[o*in:(o+1)*in])
		}
		if db != nil {
			db[o] += g
		}
	}
}

// DenseForwardBatch computes Y = X·Wᵀ + b for the n images of the [n, in]
// matrix x into the [n, out] matrix y (overwritten; b may be nil) with one
// Sgemm.
func DenseForwardBatch(n int, x, w, b, y []float32) {
	if n <= 0 {
		return
	}
	in, out := len(x)/n, len(y)/n
	beta := float32(0)
	if b != nil && out > 0 {
		for i := range n {
			copy(y[i*out:(i+1)*out], b[:out])
		}
		beta = 1
	}
	Sgemm(false, true, n, out, in, 1, x, max(in, 1), w, max(in, 1), beta, y, max(out, 1))
}

// DenseBackwardBatch computes the gradients of DenseForwardBatch given the
// [n, out] matrix dy: dx = dy·W (overwritten; skipped when dx is nil),
// dw += dyᵀ·X and db += the column sums of dy (dw or db nil skips that
// gradient).
func DenseBackwardBatch(n int, x, w, dy, dx, dw, db []float32) {
	if n <= 0 {
		return
	}
	in, out := len(x)/n, len(dy)/n
	if dx != nil {
		Sgemm(false, false, n, in, out, 1, dy, max(out, 1), w, max(in, 1), 0, dx, max(in, 1))
	}
	if dw != nil {
		Sgemm(true, false, out, in, n, 1, dy, max(out, 1), x, max(in, 1), 1, dw, max(in, 1))
	}
	if db != nil {
		for i := range n {
			convAxpy(1, dy[i*out:(i+1)*out], db[:out])
		}
	}
}
