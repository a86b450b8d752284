package kernels

import (
	"cellc/runtime/kernels/internal/tile"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type convCase struct {
	name string
	c    Conv
	in   Shape
}

func (tc convCase) String() string {
	c := tc.c
	pad := "VALID"
	if c.Same {
		pad = "SAME"
	}
	kind := "dense"
	if c.Depthwise {
		kind = "dw"
	}
	return fmt.Sprintf("%s_%dx%d_s%d_d%d_%s_%dx%dx%d_to%d", kind, c.KH, c.KW, c.Stride, c.Dilation, pad, tc.in.C, tc.in.H, tc.in.W, c.Out(tc.in).C)
}

func denseCase(kh, kw, s, d int, same bool, cin, cout, h, w int) convCase {
	return convCase{c: Conv{KH: kh, KW: kw, Stride: s, Dilation: d, Same: same, Cin: cin, Cout: cout}, in: Shape{C: cin, H: h, W: w}}
}

func dwCase(k, s, d int, same bool, ch, h, w int) convCase {
	return convCase{c: Conv{KH: k, KW: k, Stride: s, Dilation: d, Same: same, Cin: ch, Cout: ch, Depthwise: true}, in: Shape{C: ch, H: h, W: w}}
}

// pathCases covers every code path: the 1×1 fast paths, im2col with square,
// asymmetric, strided and dilated kernels, and depthwise at each supported
// kernel size, stride and dilation.
var pathCases = []convCase{
	{name: "pointwise_s1", c: Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: 7, Cout: 5}, in: Shape{7, 6, 5}},
	{name: "pointwise_s1_valid", c: Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Cin: 4, Cout: 3}, in: Shape{4, 3, 8}},
	// Tall input gradients (Cin ≥ 4·Cout) go through tileGemm: a
	// partial last strip, and more columns than one packed block.
	{name: "pointwise_tall", c: Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: 40, Cout: 8}, in: Shape{40, 5, 7}},
	{name: "pointwise_tall_wide", c: Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: 27, Cout: 6}, in: Shape{27, 17, 19}},
	{name: "pointwise_s2_even", c: Conv{KH: 1, KW: 1, Stride: 2, Dilation: 1, Same: true, Cin: 5, Cout: 4}, in: Shape{5, 8, 6}},
	{name: "pointwise_s2_odd", c: Conv{KH: 1, KW: 1, Stride: 2, Dilation: 1, Same: true, Cin: 3, Cout: 6}, in: Shape{3, 7, 9}},
	{name: "pointwise_s2_wide", c: Conv{KH: 1, KW: 1, Stride: 2, Dilation: 1, Same: true, Cin: 5, Cout: 7}, in: Shape{5, 11, 13}},
	{name: "pointwise_s2_valid", c: Conv{KH: 1, KW: 1, Stride: 2, Dilation: 1, Cin: 3, Cout: 2}, in: Shape{3, 7, 8}},
	{name: "dense3x3_s1", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 4}, in: Shape{3, 8, 7}},
	{name: "dense3x3_s2_even", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 3}, in: Shape{2, 8, 8}},
	{name: "dense3x3_s2_odd", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 3}, in: Shape{2, 9, 7}},
	{name: "dense3x3_valid_s2", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Cin: 2, Cout: 3}, in: Shape{2, 9, 8}},
	{name: "dense5x5", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2}, in: Shape{2, 7, 6}},
	{name: "dense7x7_s2", c: Conv{KH: 7, KW: 7, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 3}, in: Shape{2, 10, 9}},
	{name: "dense1x7", c: Conv{KH: 1, KW: 7, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 2}, in: Shape{3, 5, 9}},
	{name: "dense7x1", c: Conv{KH: 7, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 2}, in: Shape{3, 9, 5}},
	{name: "dense1x3_s2", c: Conv{KH: 1, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 3}, in: Shape{2, 6, 7}},
	{name: "dense3x1_valid", c: Conv{KH: 3, KW: 1, Stride: 1, Dilation: 1, Cin: 2, Cout: 3}, in: Shape{2, 6, 7}},
	{name: "dense3x3_d2", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 2, Same: true, Cin: 3, Cout: 2}, in: Shape{3, 8, 7}},
	{name: "dense3x3_d2_valid", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 2, Cin: 2, Cout: 2}, in: Shape{2, 9, 8}},
	{name: "dense3x3_d2_s2", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 2, Same: true, Cin: 2, Cout: 2}, in: Shape{2, 9, 8}},
	{name: "dw3x3_s1", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 3, Depthwise: true}, in: Shape{3, 7, 8}},
	{name: "dw3x3_s2", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 3, Cout: 3, Depthwise: true}, in: Shape{3, 8, 7}},
	{name: "dw5x5_s1", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 9, 8}},
	{name: "dw5x5_s2", c: Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 9, 10}},
	{name: "dw7x7_s1", c: Conv{KH: 7, KW: 7, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 8, 9}},
	{name: "dw7x7_s2", c: Conv{KH: 7, KW: 7, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 11, 10}},
	{name: "dw3x3_d2", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 2, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 8, 9}},
	{name: "dw5x5_d2_s2", c: Conv{KH: 5, KW: 5, Stride: 2, Dilation: 2, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 12, 11}},
	{name: "dw3x3_valid", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 6, 7}},
	// Rows of whole vectors, where a fused ReLU's mask is applied as the
	// input gradient is unpadded (vecMaskRows).
	{name: "dw3x3_w16", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 5, 16}},
	{name: "dw5x5_w8", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 3, Depthwise: true}, in: Shape{3, 6, 8}},
	// Rows wide enough for the stride-2 split's vector loop (vecStride2),
	// with a scalar tail, for even and odd left padding.
	{name: "dw5x5_s2_wide", c: Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 6, 37}},
	{name: "dw3x3_s2_wide", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 5, 34}},
	{name: "dw7x7_s2_wide", c: Conv{KH: 7, KW: 7, Stride: 2, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 5, 41}},
	{name: "dw5x5_valid_s2", c: Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 9, 10}},
	{name: "dw3x3_s3", c: Conv{KH: 3, KW: 3, Stride: 3, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 10, 11}},
	// Stride-1 depthwise runs on padded planes with vector loops of 32 and
	// 8 lanes and a partial tail: widths that exercise each.
	{name: "dw3x3_s1_wide", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 5, 41}},
	{name: "dw5x5_s1_w16", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 4, 16}},
	{name: "dw7x7_valid_wide", c: Conv{KH: 7, KW: 7, Stride: 1, Dilation: 1, Cin: 1, Cout: 1, Depthwise: true}, in: Shape{1, 9, 40}},
	{name: "dw1x7_s1", c: Conv{KH: 1, KW: 7, Stride: 1, Dilation: 1, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 3, 33}},
	// 16 or more channels take the lanes passes on AVX-512 (lanesPay):
	// partial groups, rows that straddle vectors, dilation, a kernel
	// larger than the image.
	{name: "dw3x3_lanes", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 20, Cout: 20, Depthwise: true}, in: Shape{20, 5, 7}},
	{name: "dw5x5_lanes_8x8", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 16, Cout: 16, Depthwise: true}, in: Shape{16, 8, 8}},
	{name: "dw7x7_lanes", c: Conv{KH: 7, KW: 7, Stride: 1, Dilation: 1, Same: true, Cin: 33, Cout: 33, Depthwise: true}, in: Shape{33, 6, 9}},
	{name: "dw3x3_d2_lanes", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 2, Same: true, Cin: 16, Cout: 16, Depthwise: true}, in: Shape{16, 7, 7}},
	{name: "dw5x5_lanes_tiny", c: Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 17, Cout: 17, Depthwise: true}, in: Shape{17, 3, 2}},
	{name: "dw1x7_lanes", c: Conv{KH: 1, KW: 7, Stride: 1, Dilation: 1, Same: true, Cin: 16, Cout: 16, Depthwise: true}, in: Shape{16, 3, 9}},
	{name: "dw5x5_s2_lanes", c: Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Same: true, Cin: 17, Cout: 17, Depthwise: true}, in: Shape{17, 9, 10}},
	{name: "dw3x3_s2_lanes", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 16, Cout: 16, Depthwise: true}, in: Shape{16, 8, 7}},
	{name: "dw7x7_s2_lanes", c: Conv{KH: 7, KW: 7, Stride: 2, Dilation: 1, Same: true, Cin: 16, Cout: 16, Depthwise: true}, in: Shape{16, 11, 10}},
	{name: "dw3x3_valid_lanes", c: Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Cin: 16, Cout: 16, Depthwise: true}, in: Shape{16, 6, 7}},
	{name: "dw_kernel_exceeds_input_same_s1", c: Conv{KH: 7, KW: 7, Stride: 1, Dilation: 2, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 3, 2}},
	{name: "dense_kernel_exceeds_input_same", c: Conv{KH: 7, KW: 5, Stride: 1, Dilation: 2, Same: true, Cin: 2, Cout: 2}, in: Shape{2, 3, 4}},
	{name: "dw_kernel_exceeds_input_same", c: Conv{KH: 7, KW: 7, Stride: 2, Dilation: 2, Same: true, Cin: 2, Cout: 2, Depthwise: true}, in: Shape{2, 3, 2}},
	{name: "dense_1x1_image", c: Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 3, Cout: 2}, in: Shape{3, 1, 1}},
}

// randomCases draws n configurations: kernels 1..7 (square and not),
// stride 1..2, dilation 1..2, SAME and VALID, sizes 1..13, dense and
// depthwise.
func randomCases(r *rand.Rand, n int) []convCase {
	var cs []convCase
	for len(cs) < n {
		kh, kw := 1+r.IntN(7), 1+r.IntN(7)
		if r.IntN(2) == 0 {
			kw = kh
		}
		s, d := 1+r.IntN(2), 1+r.IntN(2)
		same := r.IntN(3) != 0
		h, w := 1+r.IntN(13), 1+r.IntN(13)
		var tc convCase
		if r.IntN(2) == 0 {
			ch := 1 + r.IntN(4)
			tc = dwCase(kh, s, d, same, ch, h, w)
			tc.c.KW = kw
		} else {
			tc = denseCase(kh, kw, s, d, same, 1+r.IntN(5), 1+r.IntN(6), h, w)
		}
		if o := tc.c.Out(tc.in); o.H <= 0 || o.W <= 0 {
			continue
		}
		tc.name = fmt.Sprintf("rand%02d_%v", len(cs), tc)
		cs = append(cs, tc)
	}
	return cs
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

func nanSlice(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

func weightLen(c Conv, in Shape) int {
	if c.Depthwise {
		return in.C * c.KH * c.KW
	}
	return c.Cout * in.C * c.KH * c.KW
}

// convRef is a direct float64 convolution with explicit padding; it also
// returns, per output, the sum of the absolute values of the terms, which
// bounds float32 rounding error.
type convRef struct {
	tc         convCase
	oh, ow     int
	pt, pl     int
	s, d, cout int
	x, w, b    []float32
}

func newConvRef(tc convCase, x, w, b []float32) convRef {
	c, in := tc.c, tc.in
	s, d := max(c.Stride, 1), max(c.Dilation, 1)
	r := convRef{tc: tc, s: s, d: d, x: x, w: w, b: b}
	if c.Same {
		// TensorFlow: out = ceil(in/s), total padding split with the
		// smaller half before.
		r.oh = (in.H + s - 1) / s
		r.ow = (in.W + s - 1) / s
		th := max((r.oh-1)*s+(c.KH-1)*d+1-in.H, 0)
		tw := max((r.ow-1)*s+(c.KW-1)*d+1-in.W, 0)
		r.pt, r.pl = th/2, tw/2
	} else {
		r.oh = max((in.H-(c.KH-1)*d-1)/s+1, 0)
		r.ow = max((in.W-(c.KW-1)*d-1)/s+1, 0)
		if in.H < (c.KH-1)*d+1 {
			r.oh = 0
		}
		if in.W < (c.KW-1)*d+1 {
			r.ow = 0
		}
	}
	r.cout = c.Cout
	if c.Depthwise {
		r.cout = in.C
	}
	return r
}

// taps calls f for every (output, input, weight) index triple that
// contributes to the convolution.
func (r convRef) taps(f func(yi, xi, wi int)) {
	c, in := r.tc.c, r.tc.in
	for o := range r.cout {
		cis := []int{o}
		if !c.Depthwise {
			cis = cis[:0]
			for ci := range in.C {
				cis = append(cis, ci)
			}
		}
		for oh := range r.oh {
			for ow := range r.ow {
				yi := (o*r.oh+oh)*r.ow + ow
				for _, ci := range cis {
					for kh := range c.KH {
						ih := oh*r.s - r.pt + kh*r.d
						if ih < 0 || ih >= in.H {
							continue
						}
						for kw := range c.KW {
							iw := ow*r.s - r.pl + kw*r.d
							if iw < 0 || iw >= in.W {
								continue
							}
							xi := (ci*in.H+ih)*in.W + iw
							var wi int
							if c.Depthwise {
								wi = (o*c.KH+kh)*c.KW + kw
							} else {
								wi = ((o*in.C+ci)*c.KH+kh)*c.KW + kw
							}
							f(yi, xi, wi)
						}
					}
				}
			}
		}
	}
}

func (r convRef) forward() (y, mag []float64) {
	n := r.cout * r.oh * r.ow
	y, mag = make([]float64, n), make([]float64, n)
	if r.b != nil {
		for i := range y {
			bv := float64(r.b[i/(r.oh*r.ow)])
			y[i], mag[i] = bv, math.Abs(bv)
		}
	}
	r.taps(func(yi, xi, wi int) {
		t := float64(r.x[xi]) * float64(r.w[wi])
		y[yi] += t
		mag[yi] += math.Abs(t)
	})
	return y, mag
}

type convGrads struct{ dx, dxMag, dw, dwMag, db, dbMag []float64 }

func (r convRef) backward(dy []float32) convGrads {
	g := convGrads{
		dx: make([]float64, len(r.x)), dxMag: make([]float64, len(r.x)),
		dw: make([]float64, len(r.w)), dwMag: make([]float64, len(r.w)),
		db: make([]float64, r.cout), dbMag: make([]float64, r.cout),
	}
	for i, v := range dy {
		g.db[i/(r.oh*r.ow)] += float64(v)
		g.dbMag[i/(r.oh*r.ow)] += math.Abs(float64(v))
	}
	r.taps(func(yi, xi, wi int) {
		a := float64(dy[yi]) * float64(r.w[wi])
		g.dx[xi] += a
		g.dxMag[xi] += math.Abs(a)
		b := float64(dy[yi]) * float64(r.x[xi])
		g.dw[wi] += b
		g.dwMag[wi] += math.Abs(b)
	})
	return g
}

// checkClose compares float32 results with a float64 reference, allowing
// rounding error proportional to the sum of the magnitudes of the terms.
func checkClose(t *testing.T, what string, got []float32, want, mag []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		tol := 1e-4*mag[i] + 1e-6
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (tol %.2g)", what, i, got[i], want[i], tol)
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d mismatches in all", what, bad)
	}
}

func allCases(t *testing.T) []convCase {
	cs := append([]convCase(nil), pathCases...)
	n := 300
	if testing.Short() {
		n = 60
	}
	return onPaths(t, append(cs, randomCases(rand.New(rand.NewPCG(1, 2)), n)...))
}

func TestConvOut(t *testing.T) {
	for _, tt := range []struct {
		c    Conv
		in   Shape
		want Shape
	}{
		{Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 3, Cout: 8}, Shape{3, 32, 32}, Shape{8, 32, 32}},
		{Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 3, Cout: 8}, Shape{3, 32, 32}, Shape{8, 16, 16}},
		{Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Same: true, Cin: 3, Cout: 8}, Shape{3, 33, 31}, Shape{8, 17, 16}},
		{Conv{KH: 3, KW: 3, Stride: 2, Dilation: 1, Cin: 3, Cout: 8}, Shape{3, 7, 8}, Shape{8, 3, 3}},
		{Conv{KH: 1, KW: 7, Stride: 1, Dilation: 1, Cin: 3, Cout: 8}, Shape{3, 7, 8}, Shape{8, 7, 2}},
		{Conv{KH: 3, KW: 3, Stride: 1, Dilation: 2, Cin: 3, Cout: 8}, Shape{3, 7, 8}, Shape{8, 3, 4}},
		{Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Same: true, Cin: 32, Cout: 32, Depthwise: true}, Shape{32, 32, 32}, Shape{32, 16, 16}},
		{Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Cin: 3, Cout: 8}, Shape{3, 3, 3}, Shape{8, 0, 0}},
		{Conv{KH: 3, KW: 3, Cin: 3, Cout: 8, Same: true}, Shape{3, 5, 6}, Shape{8, 5, 6}}, // zero stride/dilation read as 1
	} {
		if got := tt.c.Out(tt.in); got != tt.want {
			t.Errorf("%+v.Out(%v) = %v, want %v", tt.c, tt.in, got, tt.want)
		}
	}
}

func TestConvScratchLen(t *testing.T) {
	in := Shape{8, 10, 9}
	for _, tt := range []struct {
		c    Conv
		want int
	}{
		{Conv{KH: 1, KW: 1, Stride: 1, Dilation: 1, Same: true, Cin: 8, Cout: 4}, tilePackWant(8, 4, 90)},
		{Conv{KH: 1, KW: 1, Stride: 2, Dilation: 1, Same: true, Cin: 8, Cout: 4}, 8*5*5 + tilePackWant(8, 4, 25)},
		{Conv{KH: 3, KW: 3, Stride: 1, Dilation: 1, Same: true, Cin: 8, Cout: 4}, 8 * 9 * 10 * 9},
		{Conv{KH: 1, KW: 7, Stride: 2, Dilation: 1, Same: true, Cin: 8, Cout: 4}, 8 * 7 * 5 * 5},
		{Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Same: true, Cin: 8, Cout: 8, Depthwise: true}, dwLanesWant(3*((10+4)*(9+4)+vecSlack), 2*(10+4)*(9+4)+2*16+2*25)}, // three padded planes, each with a vector of slack; or two padded planes of 16-channel pixels, two 16×16 blocks, 25 taps and 25 gradients
		{Conv{KH: 5, KW: 5, Stride: 1, Dilation: 1, Cin: 8, Cout: 8, Depthwise: true}, dwLanesWant(3*((10+4)*(9+4)+vecSlack), 2*10*9+2*16+2*25)},                     // VALID: a smaller output, so unpadded lanes planes
		{Conv{KH: 5, KW: 5, Stride: 2, Dilation: 1, Same: true, Cin: 8, Cout: 8, Depthwise: true}, dwLanesWant(4*7*7+5*7+vecSlack, 2*13*13+2*16+2*25)},               // four 7×7 phase planes, a 5-row flat output and a vector of slack; or lanes planes 13×13 for the strided windows
	} {
		if got := tt.c.ScratchLen(in); got != tt.want {
			t.Errorf("%+v.ScratchLen(%v) = %d, want %d", tt.c, in, got, tt.want)
		}
	}
}

// dwLanesWant is flat, or where dwLanesForward runs (AVX-512) the larger
// of flat and 16 floats for each of lanes.
func dwLanesWant(flat, lanes int) int {
	if loopVec(VecBest) == VecAVX512 {
		return max(flat, 16*lanes)
	}
	return flat
}

// tilePackWant is a 1×1 conv's scratch for tileGemm's packing, where the
// tile kernel runs (tile.Available) and there are at least 16 pixels
// (PackedLen): nothing where the BLAS does it all.
func tilePackWant(cin, cout, pixels int) int {
	if !tile.Available() || pixels < tileCols {
		return 0
	}
	return max(tilePackLen(cout, cin), tilePackLen(cin, cout))
}

// runConv allocates the buffers for one case and runs ConvForward, with y
// and scratch full of NaN to show that neither is read before written.
func runConvForward(tc convCase, x, w, b []float32) []float32 {
	y := nanSlice(tc.c.Out(tc.in).Elems())
	ConvForward(tc.c, x, tc.in, w, b, y, nanSlice(tc.c.ScratchLen(tc.in)))
	return y
}

// checkPackedDX runs ConvBackwardPacked for the input gradient alone on
// transposed weights packed by PackWeightsT, where the conv takes them,
// both writing dx and adding to it, and checks it against want.
func checkPackedDX(t *testing.T, c Conv, in Shape, x, w, dy []float32, want, mag []float64) {
	t.Helper()
	n := c.PackedTLen(in)
	if n == 0 {
		return
	}
	packed := nanSlice(n)
	c.PackWeightsT(in, w, packed)
	dx := nanSlice(len(x))
	ConvBackwardPacked(c, x, in, w, packed, dy, dx, false, nil, nil, nanSlice(c.ScratchLen(in)))
	checkClose(t, "dx (packed weights)", dx, want, mag)
	acc := make([]float32, len(x))
	for i := range acc {
		acc[i] = float32(i%7) - 3
	}
	wantAcc := make([]float64, len(x))
	for i := range acc {
		wantAcc[i] = float64(acc[i]) + want[i]
	}
	ConvBackwardPacked(c, x, in, w, packed, dy, acc, true, nil, nil, nanSlice(c.ScratchLen(in)))
	checkClose(t, "dx accumulated (packed weights)", acc, wantAcc, mag)
}

// checkPackedForward runs ConvForwardPacked on weights packed by
// PackWeights, where the conv takes them, and checks y against want.
func checkPackedForward(t *testing.T, c Conv, in Shape, x, w, b []float32, want, mag []float64) {
	t.Helper()
	n := c.PackedLen(in)
	if n == 0 {
		return
	}
	packed := nanSlice(n)
	c.PackWeights(in, w, packed)
	y := nanSlice(c.Out(in).Elems())
	ConvForwardPacked(c, x, in, w, packed, b, y, nanSlice(c.ScratchLen(in)))
	checkClose(t, "y (packed weights)", y, want, mag)
}

func TestConvForwardMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range allCases(t) {
		name := tc.name
		if name == "" {
			name = tc.String()
		}
		t.Run(name, func(t *testing.T) {
			x := randSlice(r, tc.in.Elems())
			w := randSlice(r, weightLen(tc.c, tc.in))
			ref := newConvRef(tc, x, w, nil)
			if o := tc.c.Out(tc.in); o != (Shape{ref.cout, ref.oh, ref.ow}) {
				t.Fatalf("Out = %v, reference %v", o, Shape{ref.cout, ref.oh, ref.ow})
			}
			want, mag := ref.forward()
			checkClose(t, "y (no bias)", runConvForward(tc, x, w, nil), want, mag)
			checkPackedForward(t, tc.c, tc.in, x, w, nil, want, mag)

			b := randSlice(r, ref.cout)
			ref.b = b
			want, mag = ref.forward()
			checkClose(t, "y", runConvForward(tc, x, w, b), want, mag)
			checkPackedForward(t, tc.c, tc.in, x, w, b, want, mag)
			if !tc.c.Depthwise {
				checkAccForward(t, tc.c, tc.in, x, w, b, want, mag)
			}
		})
	}
}

// checkAccForward runs a dense conv with Acc (a folded add), with and
// without packed weights, onto a y that holds other values, and checks
// that it added want to them.
func checkAccForward(t *testing.T, c Conv, in Shape, x, w, b []float32, want, mag []float64) {
	t.Helper()
	c.Acc = true
	old := func(i int) float32 { return float32(i%7) - 3 }
	wantAcc := make([]float64, len(want))
	for i := range want {
		wantAcc[i] = float64(old(i)) + want[i]
	}
	var packed []float32
	if n := c.PackedLen(in); n > 0 {
		packed = nanSlice(n)
		c.PackWeights(in, w, packed)
	}
	paths := [][]float32{nil}
	if packed != nil {
		paths = append(paths, packed)
	}
	for _, p := range paths {
		y := make([]float32, len(want))
		for i := range y {
			y[i] = old(i)
		}
		ConvForwardPacked(c, x, in, w, p, b, y, nanSlice(c.ScratchLen(in)))
		checkClose(t, fmt.Sprintf("y accumulated (packed weights: %v)", p != nil), y, wantAcc, mag)
	}
}

func TestConvBackwardMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range allCases(t) {
		name := tc.name
		if name == "" {
			name = tc.String()
		}
		t.Run(name, func(t *testing.T) {
			x := randSlice(r, tc.in.Elems())
			w := randSlice(r, weightLen(tc.c, tc.in))
			out := tc.c.Out(tc.in)
			dy := randSlice(r, out.Elems())
			want := newConvRef(tc, x, w, nil).backward(dy)

			dx := nanSlice(len(x))
			dw := make([]float32, len(w))
			db := make([]float32, out.C)
			ConvBackward(tc.c, x, tc.in, w, dy, dx, false, dw, db, nanSlice(tc.c.ScratchLen(tc.in)))
			checkClose(t, "dx", dx, want.dx, want.dxMag)
			checkClose(t, "dw", dw, want.dw, want.dwMag)
			checkClose(t, "dbias", db, want.db, want.dbMag)
			checkPackedDX(t, tc.c, tc.in, x, w, dy, want.dx, want.dxMag)
		})
	}
}

// TestConvGradFiniteDiff checks ConvBackward against central differences
// of L = Σ y·r computed from ConvForward itself, for a sample of the
// entries of x, w and bias on every code path.
func TestConvGradFiniteDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const eps = 1e-2
	for _, tc := range onPaths(t, pathCases) {
		t.Run(tc.name, func(t *testing.T) {
			c, in := tc.c, tc.in
			out := c.Out(in)
			x := randSlice(r, in.Elems())
			w := randSlice(r, weightLen(c, in))
			b := randSlice(r, out.C)
			rr := randSlice(r, out.Elems())
			scratch := make([]float32, c.ScratchLen(in))
			y := make([]float32, out.Elems())
			loss := func() float64 {
				ConvForward(c, x, in, w, b, y, scratch)
				var l float64
				for i, v := range y {
					l += float64(v) * float64(rr[i])
				}
				return l
			}
			dx := make([]float32, len(x))
			dw := make([]float32, len(w))
			db := make([]float32, len(b))
			ConvBackward(c, x, in, w, rr, dx, false, dw, db, scratch)

			check := func(what string, v, grad []float32) {
				for _, i := range sampleIdx(r, len(v), 24) {
					orig := v[i]
					v[i] = orig + eps
					hi, lp := v[i], loss()
					v[i] = orig - eps
					lo, lm := v[i], loss()
					v[i] = orig
					fd := (lp - lm) / (float64(hi) - float64(lo))
					if d := math.Abs(fd - float64(grad[i])); d > 1e-2*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: analytic %v, finite difference %v", what, i, grad[i], fd)
					}
				}
			}
			check("dx", x, dx)
			check("dw", w, dw)
			check("dbias", b, db)
		})
	}
}

// sampleIdx returns up to k distinct indices below n.
func sampleIdx(r *rand.Rand, n, k int) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	return r.Perm(n)[:k]
}

// TestConvBackwardAccumulates checks that dw and dbias add to what they
// hold, that dx is added to with accumulateDX and overwritten without it,
// and that nil dx, dw and dbias skip those gradients and leave the others
// alone.
func TestConvBackwardAccumulates(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range onPaths(t, pathCases) {
		t.Run(tc.name, func(t *testing.T) {
			c, in := tc.c, tc.in
			out := c.Out(in)
			x := randSlice(r, in.Elems())
			w := randSlice(r, weightLen(c, in))
			dy := randSlice(r, out.Elems())
			scratch := make([]float32, c.ScratchLen(in))

			dx0 := make([]float32, len(x))
			dw0 := make([]float32, len(w))
			db0 := make([]float32, out.C)
			ConvBackward(c, x, in, w, dy, dx0, false, dw0, db0, scratch)

			px, pw, pb := randSlice(r, len(x)), randSlice(r, len(w)), randSlice(r, out.C)
			dx := append([]float32(nil), px...)
			dw := append([]float32(nil), pw...)
			db := append([]float32(nil), pb...)
			ConvBackward(c, x, in, w, dy, dx, true, dw, db, scratch)
			checkSum(t, "dx (accumulateDX)", dx, px, dx0)
			checkSum(t, "dw", dw, pw, dw0)
			checkSum(t, "dbias", db, pb, db0)

			dx = append(dx[:0], px...)
			ConvBackward(c, x, in, w, dy, dx, false, nil, nil, scratch)
			checkSum(t, "dx (overwrite, nil dw and dbias)", dx, make([]float32, len(x)), dx0)

			dw = append(dw[:0], pw...)
			db = append(db[:0], pb...)
			ConvBackward(c, x, in, w, dy, nil, false, dw, db, scratch)
			checkSum(t, "dw (nil dx)", dw, pw, dw0)
			checkSum(t, "dbias (nil dx)", db, pb, db0)

			db = append(db[:0], pb...)
			ConvBackward(c, x, in, w, dy, nil, false, nil, db, scratch)
			checkSum(t, "dbias alone", db, pb, db0)
		})
	}
}

// checkSum checks got == a + b up to float32 rounding.
func checkSum(t *testing.T, what string, got, a, b []float32) {
	t.Helper()
	for i := range got {
		want := a[i] + b[i]
		if d := math.Abs(float64(got[i] - want)); d > 1e-5*(1+math.Abs(float64(a[i]))+math.Abs(float64(b[i]))) {
			t.Errorf("%s[%d] = %v, want %v + %v", what, i, got[i], a[i], b[i])
			return
		}
	}
}

// TestConvNoAllocs checks that, with scratch preallocated, neither pass
// allocates: the gonum-backed Sgemm is tiled to stay on gonum's serial
// path (which allocates nothing), and OpenBLAS is called through cgo
// without Go allocations. The NASNet-sized cases are big enough that an
// untiled gonum Sgemm would go parallel and allocate.
func TestConvNoAllocs(t *testing.T) {
	cases := append([]convCase(nil), pathCases...)
	cases = append(cases, benchConvCases()...)
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range cases {
		c, in := tc.c, tc.in
		out := c.Out(in)
		x := randSlice(r, in.Elems())
		w := randSlice(r, weightLen(c, in))
		b := randSlice(r, out.C)
		y := make([]float32, out.Elems())
		dy := randSlice(r, out.Elems())
		dx := make([]float32, len(x))
		dw := make([]float32, len(w))
		db := make([]float32, out.C)
		scratch := make([]float32, c.ScratchLen(in))
		if a := testing.AllocsPerRun(5, func() { ConvForward(c, x, in, w, b, y, scratch) }); a != 0 {
			t.Errorf("%s: ConvForward allocates %v times per call", tc.name, a)
		}
		if a := testing.AllocsPerRun(5, func() { ConvBackward(c, x, in, w, dy, dx, false, dw, db, scratch) }); a != 0 {
			t.Errorf("%s: ConvBackward allocates %v times per call", tc.name, a)
		}
	}
}

// TestConvEmptyOutput: a VALID kernel larger than the input has no
// output; forward writes nothing, backward leaves dw and dbias alone and
// zeroes dx (unless accumulating).
func TestConvEmptyOutput(t *testing.T) {
	for _, c := range []Conv{
		{KH: 5, KW: 5, Stride: 1, Dilation: 1, Cin: 2, Cout: 3},
		{KH: 7, KW: 1, Stride: 2, Dilation: 1, Cin: 2, Cout: 3},
		{KH: 5, KW: 5, Stride: 1, Dilation: 1, Cin: 2, Cout: 2, Depthwise: true},
	} {
		in := Shape{2, 3, 4}
		if o := c.Out(in); o.Elems() != 0 {
			t.Fatalf("%+v.Out(%v) = %v, want no pixels", c, in, o)
		}
		x := make([]float32, in.Elems())
		w := make([]float32, weightLen(c, in))
		scratch := make([]float32, c.ScratchLen(in))
		ConvForward(c, x, in, w, nil, nil, scratch)
		dx := nanSlice(in.Elems())
		dw := make([]float32, len(w))
		db := make([]float32, c.Out(in).C)
		dw[0], db[1] = 1, 4
		ConvBackward(c, x, in, w, nil, dx, false, dw, db, scratch)
		for i, v := range dx {
			if v != 0 {
				t.Fatalf("%+v: dx[%d] = %v, want 0", c, i, v)
			}
		}
		dx[0] = 5
		ConvBackward(c, x, in, w, nil, dx, true, dw, db, scratch)
		if dx[0] != 5 || dw[0] != 1 || db[1] != 4 {
			t.Fatalf("%+v: accumulating backward changed dx, dw or dbias", c)
		}
	}
}
