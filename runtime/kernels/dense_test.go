package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func refDense(x, w, b []float32, out int) (y, mag []float64) {
	in := len(x)
	y, mag = make([]float64, out), make([]float64, out)
	for o := range out {
		if b != nil {
			y[o], mag[o] = float64(b[o]), math.Abs(float64(b[o]))
		}
		for i := range in {
			t := float64(w[o*in+i]) * float64(x[i])
			y[o] += t
			mag[o] += math.Abs(t)
		}
	}
	return y, mag
}

func refDenseBackward(x, w, dy []float32) (dx, dxMag, dw, dwMag []float64) {
	in, out := len(x), len(dy)
	dx, dxMag = make([]float64, in), make([]float64, in)
	dw, dwMag = make([]float64, out*in), make([]float64, out*in)
	for o := range out {
		for i := range in {
			a := float64(w[o*in+i]) * float64(dy[o])
			dx[i] += a
			dxMag[i] += math.Abs(a)
			dw[o*in+i] = float64(dy[o]) * float64(x[i])
			dwMag[o*in+i] = math.Abs(dw[o*in+i])
		}
	}
	return dx, dxMag, dw, dwMag
}

func f64(v []float32) []float64 {
	r := make([]float64, len(v))
	for i, x := range v {
		r[i] = float64(x)
	}
	return r
}

func absf64(v []float32) []float64 {
	r := f64(v)
	for i := range r {
		r[i] = math.Abs(r[i])
	}
	return r
}

var denseSizes = [][2]int{{1, 1}, {7, 3}, {10, 768}, {33, 65}, {130, 70}}

func TestDenseForward(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, sz := range denseSizes {
		out, in := sz[0], sz[1]
		x, w, b := randSlice(r, in), randSlice(r, out*in), randSlice(r, out)
		y := nanSlice(out)
		DenseForward(x, w, b, y)
		want, mag := refDense(x, w, b, out)
		checkClose(t, "y", y, want, mag)
		DenseForward(x, w, nil, y)
		want, mag = refDense(x, w, nil, out)
		checkClose(t, "y (no bias)", y, want, mag)
	}
}

func TestDenseBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, sz := range denseSizes {
		out, in := sz[0], sz[1]
		x, w, dy := randSlice(r, in), randSlice(r, out*in), randSlice(r, out)
		wantDX, dxMag, wantDW, dwMag := refDenseBackward(x, w, dy)

		dx := nanSlice(in)
		dw := make([]float32, out*in)
		db := make([]float32, out)
		DenseBackward(x, w, dy, dx, false, dw, db)
		checkClose(t, "dx", dx, wantDX, dxMag)
		checkClose(t, "dw", dw, wantDW, dwMag)
		checkClose(t, "db", db, f64(dy), absf64(dy))

		// Accumulation: dw and db always, dx with accumulateDX.
		px, pw, pb := randSlice(r, in), randSlice(r, out*in), randSlice(r, out)
		dx2 := append([]float32(nil), px...)
		dw2 := append([]float32(nil), pw...)
		db2 := append([]float32(nil), pb...)
		DenseBackward(x, w, dy, dx2, true, dw2, db2)
		checkSum(t, "dx (accumulateDX)", dx2, px, dx)
		checkSum(t, "dw", dw2, pw, dw)
		checkSum(t, "db", db2, pb, db)

		// nil gradients are skipped.
		dw3 := append([]float32(nil), pw...)
		DenseBackward(x, w, dy, nil, false, dw3, nil)
		checkSum(t, "dw (nil dx, db)", dw3, pw, dw)
		db3 := append([]float32(nil), pb...)
		DenseBackward(x, w, dy, nil, false, nil, db3)
		checkSum(t, "db (nil dx, dw)", db3, pb, db)
	}
}

// TestDenseBatch checks the Sgemm-backed batched functions against the
// per-image ones.
func TestDenseBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, sz := range denseSizes {
		out, in := sz[0], sz[1]
		for _, n := range []int{1, 3, 70} {
			x, w, b := randSlice(r, n*in), randSlice(r, out*in), randSlice(r, out)
			dy := randSlice(r, n*out)
			for _, bias := range [][]float32{b, nil} {
				y := nanSlice(n * out)
				DenseForwardBatch(n, x, w, bias, y)
				for i := range n {
					want, mag := refDense(x[i*in:(i+1)*in], w, bias, out)
					checkClose(t, "batched y", y[i*out:(i+1)*out], want, mag)
				}
			}

			pw, pb := randSlice(r, out*in), randSlice(r, out)
			dx := nanSlice(n * in)
			dw := append([]float32(nil), pw...)
			db := append([]float32(nil), pb...)
			DenseBackwardBatch(n, x, w, dy, dx, dw, db)
			wantDW, wantDB := make([]float64, out*in), make([]float64, out)
			magDW, magDB := make([]float64, out*in), make([]float64, out)
			for j := range pw {
				wantDW[j], magDW[j] = float64(pw[j]), math.Abs(float64(pw[j]))
			}
			for j := range pb {
				wantDB[j], magDB[j] = float64(pb[j]), math.Abs(float64(pb[j]))
			}
			for i := range n {
				xi, dyi := x[i*in:(i+1)*in], dy[i*out:(i+1)*out]
				wantDX, dxMag, dwi, dwMag := refDenseBackward(xi, w, dyi)
				checkClose(t, "batched dx", dx[i*in:(i+1)*in], wantDX, dxMag)
				for j := range dwi {
					wantDW[j] += dwi[j]
					magDW[j] += dwMag[j]
				}
				for o, v := range dyi {
					wantDB[o] += float64(v)
					magDB[o] += math.Abs(float64(v))
				}
			}
			checkClose(t, "batched dw", dw, wantDW, magDW)
			checkClose(t, "batched db", db, wantDB, magDB)

			// nil dx and db are skipped.
			dw2 := append([]float32(nil), pw...)
			DenseBackwardBatch(n, x, w, dy, nil, dw2, nil)
			checkClose(t, "batched dw (nil dx, db)", dw2, wantDW, magDW)
		}
	}
}

// TestDenseBatchEmpty: n == 0 is a no-op.
func TestDenseBatchEmpty(t *testing.T) {
	w, dw := []float32{1, 2}, []float32{3, 4}
	DenseForwardBatch(0, nil, w, nil, nil)
	DenseBackwardBatch(0, nil, w, nil, nil, dw, nil)
	if dw[0] != 3 || dw[1] != 4 {
		t.Errorf("dw = %v, want unchanged", dw)
	}
}

func TestDenseNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	const n, in, out = 128, 768, 10
	x, w, b := randSlice(r, n*in), randSlice(r, out*in), randSlice(r, out)
	y, dy := make([]float32, n*out), randSlice(r, n*out)
	dx, dw, db := make([]float32, n*in), make([]float32, out*in), make([]float32, out)
	for name, f := range map[string]func(){
		"DenseForward":       func() { DenseForward(x[:in], w, b, y[:out]) },
		"DenseBackward":      func() { DenseBackward(x[:in], w, dy[:out], dx[:in], false, dw, db) },
		"DenseForwardBatch":  func() { DenseForwardBatch(n, x, w, b, y) },
		"DenseBackwardBatch": func() { DenseBackwardBatch(n, x, w, dy, dx, dw, db) },
	} {
		if a := testing.AllocsPerRun(5, f); a != 0 {
			t.Errorf("%s allocates %v times per call", name, a)
		}
	}
}
