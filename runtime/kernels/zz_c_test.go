package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZCStore(b *testing.B) {
	for _, s := range []struct{ m, k, hw int }{{32, 32, 32}, {64, 64, 16}, {32, 192, 32}} {
		n := s.hw * s.hw
		r := rand.New(rand.NewPCG(1, 1))
		w := randSlice(r, s.m*s.k)
		x := randSlice(r, s.k*n)
		packed := make([]float32, tilePackAllLen(VecAVX512, s.m, s.k))
		tilePackAllA(VecAVX512, false, s.m, s.k, w, s.k, packed)
		strips := make([]float32, stripsLen(s.k, n))
		scratch := make([]float32, tilePackLen(s.m, s.k)+s.k*n)
		flops := 2 * float64(s.m*s.k*n)
		for _, pad := range []int{0, 32} {
			ld := n + pad
			y := make([]float32, s.m*ld)
			for _, pb := range []bool{false, true} {
				o := tileArgs{vec: VecAVX512, packedA: packed, bias: w[:s.m]}
				if pb {
					o.packedB = strips
				}
				b.Run(fmt.Sprintf("%dx%dx%d/pad%d/strips%v", s.m, s.k, n, pad, pb), func(b *testing.B) {
					for b.Loop() {
						tileGemm(false, s.m, n, s.k, w, s.k, x, n, y, ld, o, scratch)
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
