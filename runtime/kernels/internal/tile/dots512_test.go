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
	for _, p := range []int{16, 23, 64, 100, 31} {
		rows := make([]float32, 8*p)
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
			Dots4x4(n, &py, &px, 1<<(p-n)-1, relu, &idx, &got)
			Dots4x4Go(n, &py, &px, 1<<(p-n)-1, relu, &idx, &want)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-3 {
					t.Fatalf("p=%d relu=%d: out[%d] = %v, want %v", p, relu, i, got[i], want[i])
				}
			}
		}
	}
}
