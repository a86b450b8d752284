package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchConvCases are typical NASNet-A CIFAR layers.
func benchConvCases() []convCase {
	return []convCase{
		{name: "pointwise_32x32x192to32", c: Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: 192, Cout: 32}, in: Shape{192, 32, 32}},
		{name: "depthwise5x5_32x32x32", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 32, Cout: 32, Depthwise: true}, in: Shape{32, 32, 32}},
		{name: "depthwise3x3_16x16x64", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 64, Cout: 64, Depthwise: true}, in: Shape{64, 16, 16}},
		{name: "depthwise3x3_8x8x128", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 128, Cout: 128, Depthwise: true}, in: Shape{128, 8, 8}},
		{name: "depthwise5x5_s2_32x32x32", c: Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Same: true, Cin: 32, Cout: 32, Depthwise: true}, in: Shape{32, 32, 32}},
		{name: "dense3x3_32x32x3to96", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 96}, in: Shape{3, 32, 32}},
	}
}

// convFlops is the forward pass's multiply-adds times 2.
func convFlops(c Conv, in Shape) float64 {
	out := c.Out(in)
	perOut := c.KH * c.KW
	if !c.Depthwise {
		perOut *= in.C
	}
	return 2 * float64(out.Elems()) * float64(perOut)
}

// BenchmarkConv reports GFLOP/s for one image on one goroutine, on each
// path this CPU runs (vecPaths but plain Go), one after the other for
// each layer. Backward computes dx and dw, twice the forward's work.
func BenchmarkConv(b *testing.B) {
	b.Logf("BLAS: %s", BLASName())
	paths := vecPaths(b)[1:]
	for _, tc := range benchConvCases() {
		for _, v := range paths {
			c, in := tc.c, tc.in
			c.Vec = v
			benchConv(b, tc.name+"/"+v.String(), c, in)
		}
	}
}

func benchConv(b *testing.B, name string, c Conv, in Shape) {
	out := c.Out(in)
	r := rand.New(rand.NewPCG(1, 1))
	x := randSlice(r, in.Elems())
	w := randSlice(r, weightLen(c, in))
	bias := randSlice(r, out.C)
	y := make([]float32, out.Elems())
	dy := randSlice(r, out.Elems())
	dx := make([]float32, len(x))
	dw := make([]float32, len(w))
	db := make([]float32, out.C)
	scratch := make([]float32, c.ScratchLen(in))
	flops := convFlops(c, in)
	b.Run(name+"/forward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ConvForward(c, x, in, w, bias, y, scratch)
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run(name+"/backward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ConvBackward(c, x, in, w, dy, dx, false, dw, db, scratch)
		}
		b.ReportMetric(2*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkTaps times the depthwise tap loops alone on each path, at the
// flat lengths of 8×8, 16×16 and 32×32 planes padded for a 3×3 kernel:
// five taps in one pass, the 3×3 kernel in one pass, and the weight
// gradient's five dot products.
func BenchmarkTaps(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{80, 288, 1152} {
		wp := 10
		switch n {
		case 288:
			wp = 18
		case 1152:
			wp = 34
		}
		x := randSlice(r, n+2*wp+2+8)
		y := make([]float32, n)
		w := randSlice(r, 9)
		var w9 [9]float32
		copy(w9[:], w)
		for _, v := range vecPaths(b) {
			name := fmt.Sprintf("%d/%s", n, v)
			b.Run("taps5/"+name, func(b *testing.B) {
				for b.Loop() {
					fusedTaps(v, y, x, w[:5], 1, false, 0)
				}
			})
			b.Run("taps9/"+name, func(b *testing.B) {
				for b.Loop() {
					fusedTaps9(v, y, x, &w9, wp, 1, true, 0)
				}
			})
			b.Run("dots5/"+name, func(b *testing.B) {
				dw := make([]float32, 5)
				for b.Loop() {
					fusedTapDots(v, y, x, dw, 1)
				}
			})
		}
	}
}
