package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestVecWeightGrad compares the vector weight gradient of a 1×1 conv,
// Σ_m dy_m·x_mᵀ (x rectified or not), with a float64 sum, on block edges
// (channels not a multiple of 4), pixel tails (p not a multiple of 16)
// and images spaced wider than they are long.
func TestVecWeightGrad(t *testing.T) {
	if tileVec(VecAVX512) != VecAVX512 {
		t.Skip("no AVX-512 on this CPU: vecWeightGrad is not checked")
	}
	rng := rand.New(rand.NewSource(1))
	for _, sh := range [][4]int{{1, 1, 128, 1}, {4, 4, 144, 1}, {5, 3, 129, 1}, {32, 32, 1024, 1}, {7, 13, 196, 1}, {12, 8, 784, 1}, {128, 96, 256, 1}, {3, 9, 143, 1}, {6, 10, 49, 3}, {16, 48, 64, 4}, {5, 7, 9, 16}, {4, 4, 200, 2}} {
		for _, relu := range []bool{false, true} {
			cout, cin, p, imgs := sh[0], sh[1], sh[2], sh[3]
			sy, sx := cout*p+5, cin*p+3
			t.Run(fmt.Sprintf("%dx%dx%dx%d/relu=%v", cout, cin, p, imgs, relu), func(t *testing.T) {
				dy, x := make([]float32, imgs*sy), make([]float32, imgs*sx)
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
						for m := range imgs {
							for i := range p {
								v := x[m*sx+c*p+i]
								if relu {
									v = max(v, 0)
								}
								s += float64(dy[m*sy+o*p+i]) * float64(v)
							}
						}
						want[o*cin+c] = s
					}
				}
				if !vecWeightGrad(VecAVX512, cout, cin, p, imgs, dy, sy, x, sx, relu, dw) {
					t.Fatal("vecWeightGrad declined")
				}
				for i, w := range want {
					if d := math.Abs(float64(dw[i]) - w); d > 1e-4*math.Sqrt(float64(p*imgs))+1e-5 {
						t.Fatalf("dw[%d] = %v, want %v", i, dw[i], w)
					}
				}
			})
		}
	}
	if vecWeightGrad(VecAVX2, 4, 4, 128, 1, make([]float32, 512), 0, make([]float32, 512), 0, false, make([]float32, 16)) {
		t.Error("the AVX2 path took the AVX-512 loop")
	}
	if vecWeightGrad(VecAVX512, 4, 4, 64, 1, make([]float32, 256), 0, make([]float32, 256), 0, false, make([]float32, 16)) {
		t.Error("took a product of fewer than wgradMinP pixels")
	}
}

// TestConvWeightGrads checks that ConvWeightGrads over a batch adds what
// ConvBackward adds image by image on the plain-Go path (the BLAS), with
// and without the fused ReLU, on tensors that are channel slices of wider
// buffers; and that it declines what it does not compute.
func TestConvWeightGrads(t *testing.T) {
	if tileVec(VecAVX512) != VecAVX512 {
		t.Skip("no AVX-512 on this CPU: ConvWeightGrads is not checked")
	}
	rng := rand.New(rand.NewSource(2))
	for _, relu := range []bool{false, true} {
		const n, cin, cout = 5, 12, 10
		in := Shape{C: cin, H: 7, W: 7}
		out := Shape{C: cout, H: 7, W: 7}
		x := Tensor{Data: make([]float32, n*(in.Elems()+20)), Off: 7, Stride: in.Elems() + 20, N: n, S: in}
		dy := Tensor{Data: make([]float32, n*(out.Elems()+49)), Off: 49, Stride: out.Elems() + 49, N: n, S: out}
		for i := range x.Data {
			x.Data[i] = rng.Float32()*2 - 1
		}
		for i := range dy.Data {
			dy.Data[i] = rng.Float32()*2 - 1
		}
		w := make([]float32, cout*cin)
		c := Conv{Cout: cout, KH: 1, KW: 1, ReLU: relu, Vec: VecGo}
		want := make([]float32, len(w))
		scratch := make([]float32, c.ScratchLen(in))
		for i := 1; i < n; i++ {
			ConvBackward(c, x.Img(i), in, w, dy.Img(i), nil, false, want, nil, scratch)
		}
		got := make([]float32, len(w))
		c.Vec = VecAVX512
		if !ConvWeightGrads(c, x, dy, 1, n, got) {
			t.Fatal("ConvWeightGrads declined a 7×7 1×1 conv over 4 images")
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("relu=%v: dw[%d] = %v, want %v", relu, i, got[i], want[i])
			}
		}
		c.Vec = VecAVX2
		if ConvWeightGrads(c, x, dy, 1, n, got) {
			t.Error("ConvWeightGrads ran on the AVX2 path")
		}
		c.Vec, c.Stride = VecAVX512, 2
		if ConvWeightGrads(c, x, dy, 1, n, got) {
			t.Error("ConvWeightGrads took a strided conv")
		}
	}
}

// BenchmarkWeightGrad times a 1×1 conv's weight gradient dw += dy·xᵀ
// (cout×p by p×cin) through the BLAS, one image at a time, and through
// vecWeightGrad, one image a call and (batch) 16 images in one call
// (which sums them in chunks, wgradChunkBytes), one
// after the other for each shape: NASNet-A 6@768's three stages and the
// Fashion-MNIST child's (base 4 filters, 28×28). GFLOP/s are per image.
func BenchmarkWeightGrad(b *testing.B) {
	const imgs = 16
	for _, sh := range [][3]int{{32, 32, 1024}, {32, 192, 1024}, {64, 64, 256}, {64, 384, 256}, {128, 128, 64}, {128, 768, 64}, {4, 12, 784}, {8, 24, 196}, {16, 48, 49}} {
		cout, cin, p := sh[0], sh[1], sh[2]
		dy, x, dw := make([]float32, imgs*cout*p), make([]float32, imgs*cin*p), make([]float32, cout*cin)
		for i := range dy {
			dy[i] = float32(i%13) - 6
		}
		for i := range x {
			x[i] = float32(i%11) - 5
		}
		flops := 2 * float64(cout*cin*p*imgs)
		for _, path := range []string{"blas", "vec", "batch"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", cout, cin, p, path), func(b *testing.B) {
				if path != "blas" && tileVec(VecAVX512) != VecAVX512 {
					b.Skip("no AVX-512")
				}
				for b.Loop() {
					switch path {
					case "blas":
						for m := range imgs {
							Sgemm(false, true, cout, cin, p, 1, dy[m*cout*p:], p, x[m*cin*p:], p, 1, dw, cin)
						}
					case "vec":
						for m := range imgs {
							// The kernel even below wgradMinP, where
							// vecWeightGrad declines.
							weightGrad512(cout, cin, p, 1, dy[m*cout*p:], 0, x[m*cin*p:], 0, false, dw)
						}
					default:
						vecWeightGrad(VecAVX512, cout, cin, p, imgs, dy, cout*p, x, cin*p, false, dw)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
