package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDWPointwise checks the fused separable conv against its two convs
// run one after the other, on every layout of the strips the depthwise
// conv writes (rows of 32 and 16 pixels, strips of 2 and 4 rows, the
// general gather), more channels than one block of k, strided, with a
// ReLU in front and with biases. Its
// buffers start as NaN, so a strip left unwritten shows.
func TestDWPointwise(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, v := range vecPaths(t) {
		testDWPointwise(t, r, v)
	}
}

func testDWPointwise(t *testing.T, r *rand.Rand, v Vec) {
	for _, tc := range []struct {
		k, s   int
		relu   bool
		in     Shape
		cout   int
		biases bool
	}{
		{3, 1, true, Shape{5, 32, 32}, 7, false},
		{5, 1, false, Shape{6, 16, 16}, 13, true},
		{3, 1, true, Shape{4, 8, 8}, 6, true},
		{3, 1, false, Shape{3, 4, 8}, 5, false},
		{5, 1, true, Shape{3, 7, 9}, 4, true},
		{5, 2, true, Shape{4, 16, 16}, 8, true},
		{3, 2, false, Shape{2, 9, 11}, 3, false},
		{3, 1, true, Shape{300, 4, 8}, 5, true}, // two blocks of k (tileK = 256)
		// Rows that straddle strips (the Fashion-MNIST child's 14 and 28).
		{3, 1, true, Shape{3, 14, 14}, 5, false},
		{5, 1, false, Shape{2, 28, 28}, 4, true},
	} {
		name := fmt.Sprintf("%s/k%d_s%d_relu%v_%dx%dx%d_to%d", v, tc.k, tc.s, tc.relu, tc.in.C, tc.in.H, tc.in.W, tc.cout)
		t.Run(name, func(t *testing.T) {
			f := DWPointwise{
				DW: Conv{KH: tc.k, KW: tc.k, Stride: tc.s, Dilation: 1, Same: true, Cin: tc.in.C, Cout: tc.in.C, Depthwise: true, ReLU: tc.relu, Vec: v},
				PW: Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: tc.in.C, Cout: tc.cout, Vec: v},
			}
			mid := f.DW.Out(tc.in)
			x := randSlice(r, tc.in.Elems())
			dwW := randSlice(r, tc.in.C*tc.k*tc.k)
			pwW := randSlice(r, tc.cout*tc.in.C)
			var dwB, pwB []float32
			if tc.biases {
				dwB, pwB = randSlice(r, tc.in.C), randSlice(r, tc.cout)
			}
			scratch := nanSlice(max(f.DW.ScratchLen(tc.in), f.PW.ScratchLen(mid)))

			act := make([]float32, mid.Elems())
			want := make([]float32, tc.cout*mid.H*mid.W)
			ConvForward(f.DW, x, tc.in, dwW, dwB, act, scratch)
			ConvForward(f.PW, act, mid, pwW, pwB, want, scratch)

			var packed []float32
			if n := f.PW.PackedLen(mid); n > 0 {
				packed = nanSlice(n)
				f.PW.PackWeights(mid, pwW, packed)
			}
			y := nanSlice(len(want))
			f.Forward(x, tc.in, dwW, dwB, pwW, packed, pwB, nanSlice(PairActLen(mid)), y, scratch)
			for i := range y {
				if d := math.Abs(float64(y[i] - want[i])); !(d <= 1e-4*(1+math.Abs(float64(want[i])))) {
					t.Fatalf("y[%d] = %v, want %v (strips: %v)", i, y[i], want[i], f.strips(mid, packed))
				}
			}
			// A folded add: the 1×1 conv adds into what y holds.
			f.PW.Acc = true
			for i := range y {
				y[i] = float32(i%5) - 2
			}
			f.Forward(x, tc.in, dwW, dwB, pwW, packed, pwB, nanSlice(PairActLen(mid)), y, scratch)
			for i := range y {
				w := want[i] + float32(i%5) - 2
				if d := math.Abs(float64(y[i] - w)); !(d <= 1e-4*(1+math.Abs(float64(w)))) {
					t.Fatalf("accumulating: y[%d] = %v, want %v (strips: %v)", i, y[i], w, f.strips(mid, packed))
				}
			}
		})
	}
}
