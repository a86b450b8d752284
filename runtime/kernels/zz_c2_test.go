package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZRelu2(b *testing.B) {
	for _, s := range []struct{ m, k, hw int }{{32, 192, 32}, {32, 96, 32}} {
		n := s.hw * s.hw
		r := rand.New(rand.NewPCG(1, 1))
		w := randSlice(r, s.m*s.k)
		x := randSlice(r, s.k*n)
		packed := make([]float32, tilePackAllLen(VecAVX512, s.m, s.k))
		tilePackAllA(VecAVX512, false, s.m, s.k, w, s.k, packed)
		scratch := make([]float32, tilePackLen(s.m, s.k)+s.k*n)
		flops := 2 * float64(s.m*s.k*n)
		y := make([]float32, s.m*n)
		big := make([]float32, len(scratch)+4096)
		for _, relu := range []bool{true} {
			for _, shift := range []int{0, 16, 32, 64, 256, 512, 1024} {
				scratch := big[shift:]
				bias := true
				o := tileArgs{vec: VecAVX512, packedA: packed, reluB: relu}
				if bias {
					o.bias = w[:s.m]
				}
				b.Run(fmt.Sprintf("%dx%dx%d/relu%v/shift%v", s.m, s.k, n, relu, shift), func(b *testing.B) {
					for b.Loop() {
						tileGemm(false, s.m, n, s.k, w, s.k, x, n, y, n, o, scratch)
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
