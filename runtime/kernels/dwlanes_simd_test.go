//go:build goexperiment.simd && amd64

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// dwLanesCases are stride-1 SAME depthwise geometries: the NAS cells'
// 3×3, 5×5 and 7×7 on 32-, 16- and 8-wide planes, the Fashion-MNIST and
// ImageNet sizes whose rows straddle vectors (7, 14, 21, 28), planes
// smaller than a vector, dilation 2 and a 1×1.
var dwLanesCases = []struct {
	c, h, w, k, d int
}{
	{32, 32, 32, 3, 1}, {32, 32, 32, 5, 1}, {32, 32, 32, 7, 1},
	{64, 16, 16, 3, 1}, {64, 16, 16, 5, 1}, {64, 16, 16, 7, 1},
	{128, 8, 8, 3, 1}, {128, 8, 8, 5, 1}, {128, 8, 8, 7, 1},
	{5, 7, 7, 3, 1}, {6, 14, 14, 5, 1}, {4, 28, 28, 7, 1}, {3, 21, 21, 5, 1},
	{3, 11, 11, 7, 1}, {4, 3, 5, 3, 1}, {2, 4, 4, 5, 1}, {3, 9, 13, 3, 2}, {3, 16, 16, 5, 2},
	{3, 5, 7, 1, 1}, {300, 4, 8, 3, 1},
}

func TestDWLanesForwardMatchesFlat(t *testing.T) {
	if loopVec(VecBest) != VecAVX512 {
		t.Skip("needs AVX-512 (avx512f in /proc/cpuinfo) and GOEXPERIMENT=simd")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range dwLanesCases {
		for _, relu := range []bool{false, true} {
			for _, strips := range []bool{false, true} {
				for _, withBias := range []bool{false, true} {
					name := fmt.Sprintf("%dx%dx%d_k%d_d%d_relu%v_strips%v_bias%v", tc.c, tc.h, tc.w, tc.k, tc.d, relu, strips, withBias)
					c := Conv{KH: tc.k, KW: tc.k, Stride: 1, Dilation: tc.d, Same: true, Cin: tc.c, Cout: tc.c, Depthwise: true, ReLU: relu}
					in := Shape{C: tc.c, H: tc.h, W: tc.w}
					g := c.geom(in)
					if !dwLanesFits(g) {
						t.Fatalf("%s: dwLanesFits false", name)
					}
					x, wt := randSlice(rng, in.Elems()), randSlice(rng, tc.c*tc.k*tc.k)
					var bias []float32
					if withBias {
						bias = randSlice(rng, tc.c)
					}
					n := max(in.Elems(), stripsLen(tc.c, tc.h*tc.w))
					want, got := make([]float32, n), make([]float32, n)
					for i := range got {
						got[i], want[i] = float32(i), float32(i) // stores must cover exactly what the flat pass writes
					}
					scratch := make([]float32, c.ScratchLen(in))
					flat := g
					flat.vec = VecGo // the reference: plain Go on flat planes
					convDWFlatForward(flat, tc.c, x, wt, bias, dwDest{y: want, strips: strips}, scratch, relu)
					if !lanesForward(g, tc.c, x, wt, bias, dwDest{y: got, strips: strips}, scratch, relu) {
						t.Fatalf("%s: lanesForward declined", name)
					}
					lanesClose(t, name, got, want, 1e-4)
				}
			}
		}
	}
}

// TestDWLanesForwardGeometries compares the lanes forward pass at stride
// 2 and 3 and with VALID padding with the phase planes' and the flat
// planes' in plain Go.
func TestDWLanesForwardGeometries(t *testing.T) {
	if loopVec(VecBest) != VecAVX512 {
		t.Skip("needs AVX-512 (avx512f in /proc/cpuinfo) and GOEXPERIMENT=simd")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		c, h, w, k, s, d int
		same             bool
	}{
		{32, 32, 32, 5, 2, 1, true}, {64, 16, 16, 7, 2, 1, true}, {20, 9, 10, 3, 2, 1, true}, {17, 11, 10, 7, 2, 1, true},
		{16, 12, 11, 5, 2, 2, true}, {16, 10, 11, 3, 3, 1, true}, {18, 9, 10, 5, 2, 1, false}, {16, 6, 7, 3, 1, 1, false},
		{16, 9, 40, 7, 1, 1, false}, {16, 3, 2, 7, 2, 2, true}, {300, 8, 8, 3, 2, 1, true},
	} {
		for _, relu := range []bool{false, true} {
			for _, strips := range []bool{false, true} {
				name := fmt.Sprintf("%dx%dx%d_k%d_s%d_d%d_same%v_relu%v_strips%v", tc.c, tc.h, tc.w, tc.k, tc.s, tc.d, tc.same, relu, strips)
				c := Conv{KH: tc.k, KW: tc.k, Stride: tc.s, Dilation: tc.d, Same: tc.same, Cin: tc.c, Cout: tc.c, Depthwise: true, ReLU: relu}
				in := Shape{C: tc.c, H: tc.h, W: tc.w}
				out := c.Out(in)
				x, wt, bias := randSlice(rng, in.Elems()), randSlice(rng, tc.c*tc.k*tc.k), randSlice(rng, tc.c)
				n := max(out.Elems(), stripsLen(tc.c, out.H*out.W))
				want, got := make([]float32, n), make([]float32, n)
				for i := range got {
					got[i], want[i] = float32(i), float32(i)
				}
				scratch := make([]float32, c.ScratchLen(in))
				ref := c
				ref.Vec = VecGo
				ref.dwForward(ref.geom(in), in, x, wt, bias, dwDest{y: want, strips: strips}, scratch)
				if !lanesForward(c.geom(in), tc.c, x, wt, bias, dwDest{y: got, strips: strips}, scratch, relu) {
					t.Fatalf("%s: lanesForward declined", name)
				}
				lanesClose(t, name, got, want, 1e-4)
			}
		}
	}
}

// TestDWLanesBackwardMatchesFlat compares the lanes backward pass with
// the flat planes' in plain Go: input gradients written, added and
// through the ReLU's mask, weight gradients added to what is there, and
// either gradient alone.
func TestDWLanesBackwardMatchesFlat(t *testing.T) {
	if loopVec(VecBest) != VecAVX512 {
		t.Skip("needs AVX-512 (avx512f in /proc/cpuinfo) and GOEXPERIMENT=simd")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range dwLanesCases {
		for _, relu := range []bool{false, true} {
			for _, acc := range []bool{false, true} {
				for _, which := range []string{"both", "dx", "dw"} {
					name := fmt.Sprintf("%dx%dx%d_k%d_d%d_relu%v_acc%v_%s", tc.c, tc.h, tc.w, tc.k, tc.d, relu, acc, which)
					c := Conv{KH: tc.k, KW: tc.k, Stride: 1, Dilation: tc.d, Same: true, Cin: tc.c, Cout: tc.c, Depthwise: true, ReLU: relu}
					in := Shape{C: tc.c, H: tc.h, W: tc.w}
					g := c.geom(in)
					x, wt, dy := randSlice(rng, in.Elems()), randSlice(rng, tc.c*tc.k*tc.k), randSlice(rng, in.Elems())
					dx0, dw0 := randSlice(rng, in.Elems()), randSlice(rng, len(wt))
					var gotDX, wantDX, gotDW, wantDW []float32
					if which != "dw" {
						gotDX, wantDX = append([]float32(nil), dx0...), append([]float32(nil), dx0...)
					}
					if which != "dx" {
						gotDW, wantDW = append([]float32(nil), dw0...), append([]float32(nil), dw0...)
					}
					scratch := make([]float32, c.ScratchLen(in))
					flat := g
					flat.vec = VecGo
					convDWPlaneBackward(flat, tc.c, x, wt, dy, wantDX, acc, wantDW, nil, scratch, relu)
					if !lanesBackward(g, tc.c, x, wt, dy, gotDX, acc, gotDW, scratch, relu) {
						if which != "dx" && tc.k != 3 && tc.k != 5 && tc.k != 7 {
							continue // the weight gradient's kernels are 3×3, 5×5 and 7×7
						}
						t.Fatalf("%s: lanesBackward declined", name)
					}
					for _, p := range []struct {
						what      string
						got, want []float32
					}{{"dx", gotDX, wantDX}, {"dw", gotDW, wantDW}} {
						lanesClose(t, name+": "+p.what, p.got, p.want, 1e-3)
					}
				}
			}
		}
	}
}

// lanesClose fails the test at the first value of got more than tol from
// want's.
func lanesClose(t *testing.T, name string, got, want []float32, tol float32) {
	t.Helper()
	for i := range want {
		if d := got[i] - want[i]; d > tol || d < -tol {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

func BenchmarkDWLanes(b *testing.B) {
	if loopVec(VecBest) != VecAVX512 {
		b.Skip("needs AVX-512")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := append(dwLanesCases[:9:9], struct{ c, h, w, k, d int }{4, 28, 28, 5, 1}, struct{ c, h, w, k, d int }{8, 14, 14, 5, 1}, struct{ c, h, w, k, d int }{16, 7, 7, 5, 1})
	for _, tc := range cases {
		c := Conv{KH: tc.k, KW: tc.k, Stride: 1, Dilation: tc.d, Same: true, Cin: tc.c, Cout: tc.c, Depthwise: true, ReLU: true}
		in := Shape{C: tc.c, H: tc.h, W: tc.w}
		g := c.geom(in)
		flat := g
		flat.vec = VecAVX2
		x, wt, bias := randSlice(rng, in.Elems()), randSlice(rng, tc.c*tc.k*tc.k), randSlice(rng, tc.c)
		dy, dx, dw := randSlice(rng, in.Elems()), make([]float32, in.Elems()), make([]float32, len(wt))
		y := make([]float32, max(in.Elems(), stripsLen(tc.c, tc.h*tc.w)))
		scratch := make([]float32, c.ScratchLen(in))
		dst := dwDest{y: y, strips: true}
		name := fmt.Sprintf("%dx%dx%d_k%d", tc.c, tc.h, tc.w, tc.k)
		b.Run(name+"/fwd/flat", func(b *testing.B) {
			for b.Loop() {
				convDWFlatForward(g, tc.c, x, wt, bias, dst, scratch, true)
			}
		})
		b.Run(name+"/fwd/lanes", func(b *testing.B) {
			for b.Loop() {
				lanesForward(g, tc.c, x, wt, bias, dst, scratch, true)
			}
		})
		b.Run(name+"/bwd/flat", func(b *testing.B) {
			for b.Loop() {
				convDWPlaneBackward(flat, tc.c, x, wt, dy, dx, true, dw, nil, scratch, true)
			}
		})
		b.Run(name+"/bwd/lanes", func(b *testing.B) {
			for b.Loop() {
				lanesBackward(g, tc.c, x, wt, dy, dx, true, dw, scratch, true)
			}
		})
	}
}
