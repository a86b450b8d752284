package kernels

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// poolRef64 is a from-scratch float64 pool: TF's SAME padding computed
// independently of SamePad, padded positions skipped (excluded from the
// average's count and from the max).
func poolRef64(p Pool, x []float32, in Shape) (out Shape, y []float64) {
	padT, padL := 0, 0
	var oh, ow int
	if p.Same {
		oh = int(math.Ceil(float64(in.H) / float64(p.Stride)))
		ow = int(math.Ceil(float64(in.W) / float64(p.Stride)))
		padT = max((oh-1)*p.Stride+p.KH-in.H, 0) / 2
		padL = max((ow-1)*p.Stride+p.KW-in.W, 0) / 2
	} else {
		oh = int(math.Floor(float64(in.H-p.KH)/float64(p.Stride))) + 1
		ow = int(math.Floor(float64(in.W-p.KW)/float64(p.Stride))) + 1
	}
	out = Shape{in.C, oh, ow}
	y = make([]float64, out.Elems())
	for c := 0; c < in.C; c++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				sum, n, m := 0.0, 0, math.Inf(-1)
				for a := 0; a < p.KH; a++ {
					for b := 0; b < p.KW; b++ {
						h, w := i*p.Stride-padT+a, j*p.Stride-padL+b
						if h < 0 || h >= in.H || w < 0 || w >= in.W {
							continue
						}
						v := float64(x[(c*in.H+h)*in.W+w])
						sum += v
						n++
						m = math.Max(m, v)
					}
				}
				if p.Max {
					y[(c*oh+i)*ow+j] = m
				} else {
					y[(c*oh+i)*ow+j] = sum / float64(n)
				}
			}
		}
	}
	return out, y
}

func TestPoolForwardMatchesReference(t *testing.T) {
	r := gcRNG(20)
	cases := gcPoolCases()
	// Every kernel, stride and padding on odd and even sizes (CIFAR's 32,
	// large's 21 and 11), and on images smaller than the kernel.
	// 16 channels or more take the lanes box sums on AVX-512.
	for _, in := range []Shape{{3, 32, 32}, {2, 23, 23}, {1, 43, 42}, {2, 21, 21}, {1, 11, 11}, {1, 1, 1}, {1, 2, 3}, {16, 8, 8}, {17, 11, 7}} {
		for _, k := range []int{1, 3, 5, 7} {
			for _, s := range []int{1, 2, 3} {
				for _, same := range []bool{true, false} {
					if !same && (k > in.H || k > in.W) {
						continue
					}
					for _, max := range []bool{false, true} {
						cases = append(cases, struct {
							p  Pool
							in Shape
						}{Pool{Max: max, KH: k, KW: k, Stride: s, Same: same}, in})
					}
				}
			}
		}
	}
	for _, pc := range []struct {
		p  Pool
		in Shape
	}{
		{Pool{KH: 3, KW: 1, Stride: 2, Same: true}, Shape{2, 9, 6}},
		{Pool{KH: 3, KW: 3, Stride: 2, Same: true}, Shape{1, 3, poolMaxW + 77}},
		{Pool{Max: true, KH: 3, KW: 3, Stride: 1, Same: true}, Shape{1, 3, poolMaxW + 1}},
		{Pool{KH: 3, KW: 3, Stride: 1, Same: true}, Shape{1, 3, poolMaxW}},
	} {
		cases = append(cases, pc)
	}
	var all []struct {
		p  Pool
		in Shape
	}
	for _, v := range vecPaths(t) {
		for _, c := range cases {
			c.p.Vec = v
			all = append(all, c)
		}
	}
	for _, c := range all {
		name := c.p.Vec.String() + "/" + gcPoolName(c.p, c.in)
		x := gcRand(r, c.in.Elems(), -2, 2)
		out, want := poolRef64(c.p, x, c.in)
		if got := c.p.Out(c.in); got != out {
			t.Errorf("%s: Out = %v, want %v", name, got, out)
			continue
		}
		y := make([]float32, out.Elems()+1)
		y[len(y)-1] = 12345
		// The column path (and, for wider images, the direct path) and
		// the direct path called on its own.
		oh, ow, pt, pl := c.p.geometry(c.in)
		for _, path := range []string{"", "/direct"} {
			if path == "" {
				PoolForward(c.p, x, c.in, y[:out.Elems()], poolScratch(c.p, c.in))
			} else {
				poolForwardDirect(c.p, x, c.in, y[:out.Elems()], oh, ow, pt, pl)
			}
			for i, v := range want {
				if math.Abs(float64(y[i])-v) > 1e-5*(1+math.Abs(v)) {
					t.Fatalf("%s%s: y[%d] = %g, want %g", name, path, i, y[i], v)
				}
			}
			if y[len(y)-1] != 12345 {
				t.Fatalf("%s%s: wrote past the output", name, path)
			}
		}
	}
}

func TestPoolOutShapes(t *testing.T) {
	for _, tc := range []struct {
		p       Pool
		in, out int
	}{
		{Pool{KH: 5, KW: 5, Stride: 3}, 16, 4}, // aux head, CIFAR
		{Pool{KH: 5, KW: 5, Stride: 3}, 14, 4}, // mobile
		{Pool{KH: 5, KW: 5, Stride: 3}, 21, 6}, // large
		{Pool{KH: 3, KW: 3, Stride: 2, Same: true}, 32, 16},
		{Pool{Max: true, KH: 3, KW: 3, Stride: 2, Same: true}, 165, 83},
		{Pool{KH: 3, KW: 3, Stride: 2, Same: true}, 83, 42},
		{Pool{KH: 3, KW: 3, Stride: 2, Same: true}, 21, 11},
		{Pool{KH: 1, KW: 1, Stride: 2}, 32, 16}, // factorized reduction
		{Pool{KH: 1, KW: 1, Stride: 2}, 83, 42},
		{Pool{KH: 3, KW: 3, Stride: 1, Same: true}, 7, 7},
	} {
		got := tc.p.Out(Shape{5, tc.in, tc.in})
		if want := (Shape{5, tc.out, tc.out}); got != want {
			t.Errorf("%+v on %d: Out = %v, want %v", tc.p, tc.in, got, want)
		}
	}
}

// TestPoolAvgSameExcludesPadding: TF's SAME average pool divides by the
// number of real pixels, so a constant image stays constant, corners and
// edges included, for every kernel and stride.
func TestPoolAvgSameExcludesPadding(t *testing.T) {
	for _, k := range []int{3, 5, 7} {
		for _, s := range []int{1, 2, 3} {
			p := Pool{KH: k, KW: k, Stride: s, Same: true}
			in := Shape{2, 8, 7}
			x := make([]float32, in.Elems())
			for i := range x {
				x[i] = 2.5
			}
			y := make([]float32, p.Out(in).Elems())
			PoolForward(p, x, in, y, poolScratch(p, in))
			for i, v := range y {
				if v != 2.5 {
					t.Fatalf("k%d s%d: y[%d] = %g, want 2.5", k, s, i, v)
				}
			}
		}
	}
	// And the corner of a 3x3 SAME pool averages exactly its 4 pixels.
	p := Pool{KH: 3, KW: 3, Stride: 1, Same: true}
	in := Shape{1, 3, 3}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	y := make([]float32, 9)
	PoolForward(p, x, in, y, poolScratch(p, in))
	if want := float32(1+2+4+5) / 4; y[0] != want {
		t.Errorf("corner = %g, want %g", y[0], want)
	}
	if want := float32(1+2+3+4+5+6) / 6; y[1] != want {
		t.Errorf("edge = %g, want %g", y[1], want)
	}
	if want := float32(45) / 9; y[4] != want {
		t.Errorf("centre = %g, want %g", y[4], want)
	}
}

// TestPoolMaxSameIgnoresPadding: padding is not a zero candidate.
func TestPoolMaxSameIgnoresPadding(t *testing.T) {
	p := Pool{Max: true, KH: 3, KW: 3, Stride: 2, Same: true}
	in := Shape{1, 4, 4}
	x := make([]float32, 16)
	for i := range x {
		x[i] = -1 - float32(i)
	}
	y := make([]float32, p.Out(in).Elems())
	PoolForward(p, x, in, y, poolScratch(p, in))
	// SAME 3x3/2 on 4: out 2, padding 0 before, 1 after.
	want := []float32{-1, -3, -9, -11}
	for i := range want {
		if y[i] != want[i] {
			t.Errorf("y[%d] = %g, want %g", i, y[i], want[i])
		}
	}
}

// TestPoolMaxBackwardFirstMax: ties send the whole gradient to the first
// maximum of the window in row-major order, as TF's CPU kernel does.
func TestPoolMaxBackwardFirstMax(t *testing.T) {
	p := Pool{Max: true, KH: 2, KW: 2, Stride: 2}
	in := Shape{1, 2, 4}
	// Window 0: all equal -> (0,0). Window 1: max 5 at (0,3) and (1,2):
	// row-major first is (0,3).
	x := []float32{1, 1, 0, 5,
		1, 1, 5, 2}
	dy := []float32{10, 20}
	dx := make([]float32, 8)
	PoolBackward(p, x, in, nil, dy, dx, false, poolScratch(p, in))
	want := []float32{10, 0, 0, 20, 0, 0, 0, 0}
	for i := range want {
		if dx[i] != want[i] {
			t.Fatalf("dx = %v, want %v", dx, want)
		}
	}
	// Overlapping windows (3x3/1 SAME) on a constant image: each output's
	// gradient goes to the first real pixel of its window, which starts at
	// (max(i-1,0), max(j-1,0)).
	poolCheckRouting(t, "constant", Pool{Max: true, KH: 3, KW: 3, Stride: 1, Same: true}, Shape{1, 3, 3},
		[]float32{7, 7, 7, 7, 7, 7, 7, 7, 7},
		[]float32{4, 2, 0, 2, 1, 0, 0, 0, 0})
	// A later column in an earlier row beats an earlier column in a later
	// row: (0,1) before (1,0).
	poolCheckRouting(t, "row-major", Pool{Max: true, KH: 2, KW: 2, Stride: 1}, Shape{1, 2, 2},
		[]float32{0, 5, 5, 0},
		[]float32{0, 1, 0, 0})
	poolCheckRouting(t, "row-major 3x3", Pool{Max: true, KH: 3, KW: 3, Stride: 1}, Shape{1, 3, 3},
		[]float32{1, 2, 9, 9, 9, 9, 9, 2, 1},
		[]float32{0, 0, 1, 0, 0, 0, 0, 0, 0})
}

// poolCheckRouting runs a max pool backward with dy = 1 on both paths and
// compares dx with want.
func poolCheckRouting(t *testing.T, name string, p Pool, in Shape, x, want []float32) {
	t.Helper()
	out := p.Out(in)
	dy := make([]float32, out.Elems())
	for i := range dy {
		dy[i] = 1
	}
	oh, ow, pt, pl := p.geometry(in)
	for _, direct := range []bool{false, true} {
		dx := make([]float32, in.Elems())
		if direct {
			poolBackwardDirect(p, x, in, dy, dx, oh, ow, pt, pl)
		} else {
			PoolBackward(p, x, in, nil, dy, dx, false, poolScratch(p, in))
		}
		if !slices.Equal(dx, want) {
			t.Errorf("%s (direct %v): dx = %v, want %v", name, direct, dx, want)
		}
	}
}

// TestPoolBackwardPathsAgree: the column and direct backward paths give
// the same gradient (exactly for max, to rounding for avg).
func TestPoolBackwardPathsAgree(t *testing.T) {
	r := gcRNG(23)
	for _, c := range gcPoolCases() {
		out := c.p.Out(c.in)
		x := gcRand(r, c.in.Elems(), -1, 1)
		for i := range x {
			x[i] = float32(int(x[i]*4)) / 4 // many ties
		}
		dy := gcRand(r, out.Elems(), -1, 1)
		a, b := make([]float32, c.in.Elems()), make([]float32, c.in.Elems())
		PoolBackward(c.p, x, c.in, nil, dy, a, false, poolScratch(c.p, c.in))
		oh, ow, pt, pl := c.p.geometry(c.in)
		poolBackwardDirect(c.p, x, c.in, dy, b, oh, ow, pt, pl)
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-6 || c.p.Max && a[i] != b[i] {
				t.Fatalf("%s: dx[%d] = %g (column), %g (direct)", gcPoolName(c.p, c.in), i, a[i], b[i])
			}
		}
	}
}

// TestPoolBackwardAccumulates covers accumulate for every pool case.
func TestPoolBackwardAccumulates(t *testing.T) {
	r := gcRNG(21)
	for _, c := range gcPoolCases() {
		out := c.p.Out(c.in)
		x := gcRand(r, c.in.Elems(), -1, 1)
		dy := gcRand(r, out.Elems(), -1, 1)
		gcAccum(t, gcPoolName(c.p, c.in), c.in.Elems(), func(dx []float32, acc bool) { PoolBackward(c.p, x, c.in, nil, dy, dx, acc, poolScratch(c.p, c.in)) })
	}
}

func benchPool(b *testing.B, p Pool, backward bool) {
	in := Shape{32, 32, 32}
	r := gcRNG(22)
	x := gcRand(r, in.Elems(), -1, 1)
	out := p.Out(in)
	y := make([]float32, out.Elems())
	dy := gcRand(r, out.Elems(), -1, 1)
	dx := make([]float32, in.Elems())
	b.SetBytes(int64(4 * (in.Elems() + out.Elems())))
	b.ReportAllocs()
	for b.Loop() {
		if backward {
			PoolBackward(p, x, in, y, dy, dx, false, poolScratch(p, in))
		} else {
			PoolForward(p, x, in, y, poolScratch(p, in))
		}
	}
}

func BenchmarkPool(b *testing.B) {
	for _, max := range []bool{false, true} {
		for _, s := range []int{1, 2} {
			p := Pool{Max: max, KH: 3, KW: 3, Stride: s, Same: true}
			kind := "Avg"
			if max {
				kind = "Max"
			}
			name := fmt.Sprintf("%s3x3s%d/32x32x32", kind, s)
			b.Run(name+"/fwd", func(b *testing.B) { benchPool(b, p, false) })
			b.Run(name+"/bwd", func(b *testing.B) { benchPool(b, p, true) })
		}
	}
}

// BenchmarkPoolPaths: the max pool's forward pass and the strided
// average's on each vector path (Pool.Vec) this CPU has, for A/B against
// plain Go: NASNet's 3×3 pools, stride 1 and 2, on CIFAR's 32×32 and
// the large model's 21×21 (whose rows end in vector tails).
func BenchmarkPoolPaths(b *testing.B) {
	for _, in := range []Shape{{32, 32, 32}, {64, 21, 21}} {
		for _, pc := range []struct {
			name string
			p    Pool
		}{
			{"Max3x3s1", Pool{Max: true, KH: 3, KW: 3, Stride: 1, Same: true}},
			{"Max3x3s2", Pool{Max: true, KH: 3, KW: 3, Stride: 2, Same: true}},
			{"Avg3x3s2", Pool{KH: 3, KW: 3, Stride: 2, Same: true}},
		} {
			for _, v := range vecPaths(b) {
				p := pc.p
				p.Vec = v
				name := fmt.Sprintf("%s/%dx%dx%d/%s", pc.name, in.C, in.H, in.W, v)
				b.Run(name, func(b *testing.B) {
					r := gcRNG(24)
					x := gcRand(r, in.Elems(), -1, 1)
					y := make([]float32, p.Out(in).Elems())
					scratch := poolScratch(p, in)
					b.SetBytes(int64(4 * (in.Elems() + len(y))))
					for b.Loop() {
						PoolForward(p, x, in, y, scratch)
					}
				})
			}
		}
	}
}

// TestPoolKeyOrder: poolKey orders like float32 comparison, with the two
// zeros equal, and poolUnkey inverts it.
func TestPoolKeyOrder(t *testing.T) {
	vals := []float32{float32(math.Inf(-1)), -math.MaxFloat32, -2, -1, -1e-40, 0, 1e-40, 1, 2, math.MaxFloat32, float32(math.Inf(1))}
	for i, a := range vals {
		if u := poolUnkey(poolKey(a)); u != a {
			t.Errorf("poolUnkey(poolKey(%g)) = %g", a, u)
		}
		for _, b := range vals[i+1:] {
			if !(poolKey(a) < poolKey(b)) {
				t.Errorf("poolKey(%g) >= poolKey(%g)", a, b)
			}
		}
	}
	negZero := float32(math.Copysign(0, -1))
	if poolKey(negZero) != poolKey(0) {
		t.Error("poolKey(-0) != poolKey(+0)")
	}
	// A window of -0 then +0 routes to the first, like TF's a > b scan.
	poolCheckRouting(t, "signed zeros", Pool{Max: true, KH: 1, KW: 2, Stride: 2}, Shape{1, 1, 2},
		[]float32{negZero, 0}, []float32{1, 0})
}

// poolScratch allocates the scratch a pool needs, full of NaN to show
// that none of it is read before it is written.
func poolScratch(p Pool, in Shape) []float32 { return nanSlice(p.ScratchLen(in)) }

// TestPoolForwardPathsBitwise: the max pool's forward pass, and the
// strided average's, give the same bits on every vector path as in plain
// Go, over widths around the 8- and 16-lane vectors (tails, rows
// narrower than a vector, the widest column-path row), every kernel size
// and stride, SAME and VALID, and inputs full of ties: a few values
// repeated, both zeros, infinities and NaNs (quiet and signaling, either
// sign). An average's NaN may carry another payload: which of two NaN
// operands a sum keeps depends on how the compiler orders the operands,
// in the plain-Go loop as in the vector one. (Stride-1 averages take the
// depthwise planes, checked against the reference in
// TestPoolForwardMatchesReference.)
func TestPoolForwardPathsBitwise(t *testing.T) {
	r := gcRNG(23)
	special := []float32{-1, -0.5, float32(math.Copysign(0, -1)), 0, 0.5, 1, float32(math.Inf(1)), float32(math.Inf(-1))}
	nans := []float32{math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00001), math.Float32frombits(0x7f800001), math.Float32frombits(0xff800003)}
	paths := vecPaths(t)
	for _, w := range []int{1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 64, 100, poolMaxW - 1, poolMaxW} {
		for _, h := range []int{1, 4, 9} {
			for _, mode := range []string{"rand", "ties", "nan"} {
				in := Shape{C: 2, H: h, W: w}
				x := gcRand(r, in.Elems(), -2, 2)
				switch mode {
				case "ties":
					for i := range x {
						x[i] = special[r.IntN(len(special))]
					}
				case "nan":
					for i := range x {
						if r.IntN(8) == 0 {
							x[i] = nans[r.IntN(len(nans))]
						} else {
							x[i] = special[r.IntN(len(special))]
						}
					}
				}
				for _, k := range [][2]int{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {1, 3}, {3, 1}, {2, 4}} {
					for _, pk := range []struct {
						max bool
						s   int
					}{{true, 1}, {true, 2}, {true, 3}, {false, 2}, {false, 3}} {
						for _, same := range []bool{true, false} {
							if !same && (k[0] > h || k[1] > w) {
								continue
							}
							p := Pool{Max: pk.max, KH: k[0], KW: k[1], Stride: pk.s, Same: same, Vec: VecGo}
							out := p.Out(in)
							want := make([]float32, out.Elems())
							PoolForward(p, x, in, want, poolScratch(p, in))
							for _, v := range paths[1:] {
								p.Vec = v
								got := make([]float32, out.Elems()+1)
								got[len(got)-1] = 12345
								PoolForward(p, x, in, got[:out.Elems()], poolScratch(p, in))
								name := fmt.Sprintf("%s/%s/%v/%s", v, gcPoolName(p, in), k, mode)
								for i := range want {
									g, w := got[i], want[i]
									if math.Float32bits(g) != math.Float32bits(w) && (pk.max || !isNaN32(g) || !isNaN32(w)) {
										t.Fatalf("%s: y[%d] = %g (%#x), plain Go %g (%#x)", name, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
									}
								}
								if got[len(got)-1] != 12345 {
									t.Fatalf("%s: wrote past the output", name)
								}
							}
						}
					}
				}
			}
		}
	}
}

func isNaN32(v float32) bool { return v != v }
