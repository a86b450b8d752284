package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestTapsPaths checks the depthwise tap loops of every path this CPU
// runs against the plain-Go ones, on lengths around each vector width and
// the AVX-512 threshold (min512 is 128) with every tail, one to five
// taps, the 3×3 kernel, dilations 1 and 2, and the set and add forms; and
// that nothing past y is written.
func TestTapsPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	lengths := []int{1, 7, 8, 9, 15, 16, 17, 33, 80, 127, 128, 129, 143, 144, 150, 288, 301}
	for _, v := range vecPaths(t) {
		for _, n := range lengths {
			for _, d := range []int{1, 2} {
				const wp = 23
				x := randSlice(r, n+4*d*wp+4*d+1)
				w := randSlice(r, 9)
				y0 := randSlice(r, n+1)
				for taps := 1; taps <= 5; taps++ {
					for _, set := range []bool{false, true} {
						name := fmt.Sprintf("%s/n%d/d%d/taps%d/set%v", v, n, d, taps, set)
						want := append([]float32(nil), y0...)
						fusedTapsGo(want[:n], x, w[:taps], d, set, 0.25)
						got := append([]float32(nil), y0...)
						fusedTaps(v, got[:n], x, w[:taps], d, set, 0.25)
						checkTaps(t, name, got, want)
					}
					name := fmt.Sprintf("%s/n%d/d%d/dots%d", v, n, d, taps)
					want := append([]float32(nil), w[:taps]...)
					convDWFusedDW(y0[:n], x, want, d)
					got := append([]float32(nil), w[:taps]...)
					fusedTapDots(v, y0[:n], x, got, d)
					for i := range got {
						if math.Abs(float64(got[i]-want[i])) > 1e-5*float64(n) {
							t.Fatalf("%s: dw[%d] = %v, want %v", name, i, got[i], want[i])
						}
					}
				}
				var w9 [9]float32
				copy(w9[:], w)
				for _, set := range []bool{false, true} {
					name := fmt.Sprintf("%s/n%d/d%d/taps9/set%v", v, n, d, set)
					want := append([]float32(nil), y0...)
					fusedTaps9Go(want[:n], x, &w9, wp, d, set, -0.5)
					got := append([]float32(nil), y0...)
					fusedTaps9(v, got[:n], x, &w9, wp, d, set, -0.5)
					checkTaps(t, name, got, want)
				}
			}
		}
	}
}

func checkTaps(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("%s: y[%d] = %v, want %v (len %d)", name, i, got[i], want[i], len(got)-1)
		}
	}
}
