package tile

import (
	"math"
	"testing"
)

// TestDots4x4 compares the assembly Dots4x4 with Dots4x4Go, with and
// without the ReLU, with and without a tail.
func TestDots4x4(t *testing.T) {
	if !Available512() {
		t.Skip("no AVX-512 on this CPU: Dots4x4 is not checked")
	}
	idx := FoldIndices()
	for _, p := range []int{16, 23, 64, 100, 31, 5} {
		const imgs = 3
		rows := make([]float32, imgs*8*p)
		for i := range rows {
			rows[i] = float32((i*37)%19) - 9
		}
		var py, px [4]*float32
		for i := range 4 {
			py[i] = &rows[i*p]
			px[i] = &rows[(4+i)*p]
		}
		n := p &^ 15
		for relu := range 2 {
			var got, want [16]float32
			// Images 8p floats apart; the first image alone, then all.
			for _, im := range []int{1, imgs} {
				Dots4x4(n, &py, &px, 1<<(p-n)-1, relu, im, 8*p, 8*p, &idx, &got)
				Dots4x4Go(n, &py, &px, 1<<(p-n)-1, relu, im, 8*p, 8*p, &idx, &want)
				for i := range got {
					if math.Abs(float64(got[i]-want[i])) > 1e-3 {
						t.Fatalf("p=%d relu=%d imgs=%d: out[%d] = %v, want %v", p, relu, im, i, got[i], want[i])
					}
				}
			}
		}
	}
}
