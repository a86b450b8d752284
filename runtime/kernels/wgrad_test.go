package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestVecWeightGrad compares the vector weight gradient of a 1×1 conv,
// dw += dy·xᵀ (x rectified or not), with a float64 sum, on block edges
// (channels not a multiple of 4) and pixel tails (p not a multiple of 16).
func TestVecWeightGrad(t *testing.T) {
	if tileVec(VecAVX512) != VecAVX512 {
		t.Skip("no AVX-512 on this CPU: vecWeightGrad is not checked")
	}
	rng := rand.New(rand.NewSource(1))
	for _, sh := range [][3]int{{1, 1, 128}, {4, 4, 144}, {5, 3, 129}, {32, 32, 1024}, {7, 13, 196}, {12, 8, 784}, {128, 96, 256}, {3, 9, 143}} {
		for _, relu := range []bool{false, true} {
			cout, cin, p := sh[0], sh[1], sh[2]
			t.Run(fmt.Sprintf("%dx%dx%d/relu=%v", cout, cin, p, relu), func(t *testing.T) {
				dy, x := make([]float32, cout*p), make([]float32, cin*p)
				for i := range dy {
					dy[i] = rng.Float32()*2 - 1
				}
				for i := range x {
					x[i] = rng.Float32()*2 - 1
				}
				dw := make([]float32, cout*cin)
				for i := range dw {
					dw[i] = float32(i%7) - 3
				}
				want := make([]float64, len(dw))
				for o := range cout {
					for c := range cin {
						s := float64(dw[o*cin+c])
						for i := range p {
							v := x[c*p+i]
							if relu {
								v = max(v, 0)
							}
							s += float64(dy[o*p+i]) * float64(v)
						}
						want[o*cin+c] = s
					}
				}
				if !vecWeightGrad(VecAVX512, cout, cin, p, dy, x, relu, dw) {
					t.Fatal("vecWeightGrad declined")
				}
				for i, w := range want {
					if d := math.Abs(float64(dw[i]) - w); d > 1e-4*math.Sqrt(float64(p))+1e-5 {
						t.Fatalf("dw[%d] = %v, want %v", i, dw[i], w)
					}
				}
			})
		}
	}
	if vecWeightGrad(VecAVX2, 4, 4, 16, make([]float32, 64), make([]float32, 64), false, make([]float32, 16)) {
		t.Error("the AVX2 path took the AVX-512 loop")
	}
}

// BenchmarkWeightGrad times a 1×1 conv's weight gradient dw += dy·xᵀ
// (cout×p by p×cin) through the BLAS and through vecWeightGrad, one after
// the other for each shape: NASNet-A 6@768's three stages and the
// Fashion-MNIST child's (base 4 filters, 28×28).
func BenchmarkWeightGrad(b *testing.B) {
	for _, sh := range [][3]int{{32, 32, 1024}, {32, 192, 1024}, {64, 64, 256}, {64, 384, 256}, {128, 128, 64}, {128, 768, 64}, {4, 12, 784}, {8, 24, 196}, {16, 48, 49}} {
		cout, cin, p := sh[0], sh[1], sh[2]
		dy, x, dw := make([]float32, cout*p), make([]float32, cin*p), make([]float32, cout*cin)
		for i := range dy {
			dy[i] = float32(i%13) - 6
		}
		for i := range x {
			x[i] = float32(i%11) - 5
		}
		flops := 2 * float64(cout*cin*p)
		for _, path := range []string{"blas", "vec"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", cout, cin, p, path), func(b *testing.B) {
				if path == "vec" && tileVec(VecAVX512) != VecAVX512 {
					b.Skip("no AVX-512 loops")
				}
				for b.Loop() {
					if path == "blas" {
						Sgemm(false, true, cout, cin, p, 1, dy, p, x, p, 1, dw, cin)
					} else {
						vecWeightGrad(VecAVX512, cout, cin, p, dy, x, false, dw)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
