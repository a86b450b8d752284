package tile

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernel8x32 checks the AVX-512 kernel against its Go reference on
// every row count, column masks with gaps and with one strip only, k = 0,
// and each of bias, mask, accumulation, ReLU and packing; the columns
// outside the mask must keep their values.
func TestKernel8x32(t *testing.T) {
	if !Available512() {
		t.Skip("no AVX-512F on this CPU: Kernel8x32 not checked")
	}
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = r.Float32()*2 - 1
		}
		return s
	}
	const ldc, ldm = 37, 41
	for _, k := range []int{0, 1, 3, 17} {
		for mr := 1; mr <= Rows512; mr++ {
			for _, cols := range []uint64{1<<32 - 1, 1<<16 - 1, 1, 1<<20 - 1, 0xf0f0f0f0, 1<<31 | 1} {
				// bits 0, 1: bias, mask; 2, 3: flags (accumulate, ReLU);
				// 4: B in place (row stride 37) instead of strips; 5: Pack.
				for mode := range 64 {
					ldb, sb := Cols, k*Cols+5 // the second strip, a little apart
					if mode&16 != 0 {
						ldb, sb = 37, Cols
					}
					a, b := rnd(Rows512*max(k, 1)), rnd(sb+max(k, 1)*max(ldb, Cols))
					bias, mask := rnd(Rows512), rnd(Rows512*ldm)
					c := rnd(Rows512 * ldc)
					want := append([]float32(nil), c...)
					var bp, mp *float32
					if mode&1 != 0 {
						bp = &bias[0]
					}
					if mode&2 != 0 {
						mp = &mask[0]
					}
					flags := mode>>2&3 | mode>>5*Pack
					// The packed rows start as NaNs: every float the
					// kernel should write must be written.
					pk, wantPK := rnd(max(k, 1)*Cols512), rnd(max(k, 1)*Cols512)
					for i := range pk {
						pk[i], wantPK[i] = float32(math.NaN()), float32(math.NaN())
					}
					Kernel8x32Go(k, &a[0], &b[0], ldb, sb, &want[0], ldc, bp, mp, ldm, mr, int(cols), flags, &wantPK[0])
					Kernel8x32(k, &a[0], &b[0], ldb, sb, &c[0], ldc, bp, mp, ldm, mr, int(cols), flags, &pk[0])
					for i := range c {
						if math.Abs(float64(c[i]-want[i])) > 1e-5*(1+float64(k)) {
							t.Fatalf("k %d, mr %d, cols %#x, mode %d: c[%d] = %v, want %v", k, mr, cols, mode, i, c[i], want[i])
						}
					}
					for i := range pk {
						if pk[i] != wantPK[i] && !(math.IsNaN(float64(pk[i])) && math.IsNaN(float64(wantPK[i]))) {
							t.Fatalf("k %d, mr %d, cols %#x, mode %d: pk[%d] = %v, want %v", k, mr, cols, mode, i, pk[i], wantPK[i])
						}
					}
				}
			}
		}
	}
}
