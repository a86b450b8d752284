package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/runtime"
	"cellc/runtime/kernels"
)

// rig runs one op on the device outside any plan, on views that are
// channel slices of larger buffers (stride > elems, offset > 0), so each
// kernel is checked against the CPU backend's on odd shapes, strides,
// dilations and padding, with the input gradient overwritten and
// accumulated.
type rig struct {
	t *testing.T
	e *executable
}

func newRig(t *testing.T, b *Backend, batch int, params []plan.Param) *rig {
	t.Helper()
	ks, err := loadKernels(b.dev)
	if err != nil {
		t.Fatal(err)
	}
	e := &executable{dev: b.dev, k: ks, batch: batch, n: batch, p: &plan.Plan{Training: true},
		opts:   runtime.Options{}.WithDefaults(1),
		params: runtime.NewParams(params, true)}
	t.Cleanup(func() { e.Close() })
	if e.dparams, err = e.alloc(len(e.params.Data)); err != nil {
		t.Fatal(err)
	}
	if e.dgrads, err = e.alloc(len(e.params.Grad)); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, e: e}
}

// slice allocates a view of shape s whose images sit pad values apart,
// offset by off, filled with vals (dense, batch-major).
func (r *rig) slice(s ir.Shape, vals []float32) (view, []float32) {
	r.t.Helper()
	const off, pad = 3, 5
	stride := s.Elems() + pad
	host := make([]float32, r.e.batch*stride+off)
	for i := range host {
		host[i] = 99 // never read
	}
	if vals != nil {
		for i := 0; i < r.e.batch; i++ {
			copy(host[off+i*stride:], vals[i*s.Elems():(i+1)*s.Elems()])
		}
	}
	p, err := r.e.alloc(len(host))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.e.dev.Upload(p, host); err != nil {
		r.t.Fatal(err)
	}
	return view{p: p.add(off), stride: stride, s: s}, host
}

// read downloads a view's images densely.
func (r *rig) read(v view) []float32 {
	r.t.Helper()
	out, err := r.e.downloadView(nil, v, r.e.batch)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func randSlice(rng *rand.Rand, n int, ties bool) []float32 {
	v := make([]float32, n)
	for i := range v {
		if ties {
			v[i] = float32(rng.IntN(3)) // many equal maxima
		} else {
			v[i] = float32(rng.NormFloat64())
		}
	}
	return v
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1e-6
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*scale || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: [%d] = %g, want %g (scale %g)", what, i, got[i], want[i], scale)
		}
	}
}

type convCase struct {
	kind           ir.Kind
	c, h, w, cout  int
	kh, kw, s, d   int
	valid, bias    bool
	pool, poolTies bool
}

func (c convCase) String() string {
	pad := "same"
	if c.valid {
		pad = "valid"
	}
	return fmt.Sprintf("%s_%dx%dx%d_k%dx%d_s%d_d%d_%s_bias%v_ties%v", c.kind, c.c, c.h, c.w, c.kh, c.kw, c.s, c.d, pad, c.bias, c.poolTies)
}

// TestKernelsAgainstCPU compares convolutions, depthwise convolutions and
// pools, forward and backward, with the CPU kernels.
func TestKernelsAgainstCPU(t *testing.T) {
	b := testBackend(t)
	cases := []convCase{
		{kind: ir.Conv, c: 3, h: 7, w: 6, cout: 5, kh: 3, kw: 3, s: 1, d: 1},
		{kind: ir.Conv, c: 3, h: 7, w: 7, cout: 4, kh: 3, kw: 3, s: 2, d: 1, bias: true},
		{kind: ir.Conv, c: 4, h: 9, w: 8, cout: 3, kh: 1, kw: 7, s: 1, d: 1},
		{kind: ir.Conv, c: 4, h: 9, w: 8, cout: 3, kh: 7, kw: 1, s: 2, d: 1},
		{kind: ir.Conv, c: 2, h: 9, w: 9, cout: 3, kh: 5, kw: 5, s: 1, d: 2},
		{kind: ir.Conv, c: 6, h: 5, w: 7, cout: 4, kh: 1, kw: 1, s: 1, d: 1, bias: true},
		{kind: ir.Conv, c: 6, h: 5, w: 7, cout: 4, kh: 1, kw: 1, s: 2, d: 1},
		{kind: ir.Conv, c: 3, h: 8, w: 8, cout: 2, kh: 3, kw: 3, s: 2, d: 1, valid: true},
		{kind: ir.DWConv, c: 3, h: 7, w: 6, kh: 3, kw: 3, s: 1, d: 1},
		{kind: ir.DWConv, c: 3, h: 9, w: 9, kh: 5, kw: 5, s: 2, d: 1, bias: true},
		{kind: ir.DWConv, c: 2, h: 8, w: 7, kh: 7, kw: 7, s: 2, d: 1},
		{kind: ir.DWConv, c: 2, h: 8, w: 8, kh: 3, kw: 3, s: 1, d: 2},
		{kind: ir.DWConv, c: 2, h: 8, w: 8, kh: 3, kw: 3, s: 2, d: 1, valid: true},
		{kind: ir.MaxPool, c: 3, h: 7, w: 7, kh: 3, kw: 3, s: 1, pool: true, poolTies: true},
		{kind: ir.MaxPool, c: 3, h: 7, w: 8, kh: 3, kw: 3, s: 2, pool: true, poolTies: true},
		{kind: ir.MaxPool, c: 2, h: 9, w: 9, kh: 7, kw: 7, s: 2, pool: true},
		{kind: ir.AvgPool, c: 3, h: 7, w: 7, kh: 3, kw: 3, s: 1, pool: true},
		{kind: ir.AvgPool, c: 3, h: 7, w: 8, kh: 3, kw: 3, s: 2, pool: true},
		{kind: ir.AvgPool, c: 2, h: 8, w: 8, kh: 1, kw: 1, s: 2, pool: true, valid: true},
	}
	for _, tc := range cases {
		for _, acc := range []bool{false, true} {
			for _, relu := range []bool{false, true} {
				if relu && tc.pool {
					continue
				}
				t.Run(fmt.Sprintf("%v_acc%v_relu%v", tc, acc, relu), func(t *testing.T) { runConvCase(t, b, tc, acc, relu) })
			}
		}
	}
}

// runConvCase runs one case; relu fuses a ReLU in front of a conv (the
// plan's ReLUIntoNext), against the CPU kernels' Conv.ReLU.
func runConvCase(t *testing.T, b *Backend, tc convCase, acc, relu bool) {
	const batch = 2
	rng := rand.New(rand.NewPCG(uint64(tc.h*131+tc.kh), uint64(tc.s)))
	in := ir.Shape{C: tc.c, H: tc.h, W: tc.w}
	a := ir.Attrs{KH: tc.kh, KW: tc.kw, Stride: tc.s, Dilation: tc.d, Pad: ir.Same}
	if tc.valid {
		a.Pad = ir.Valid
	}
	kc := kernels.Conv{KH: tc.kh, KW: tc.kw, Stride: tc.s, Dilation: tc.d, Same: !tc.valid, Cin: tc.c, Cout: tc.cout, Depthwise: tc.kind == ir.DWConv, ReLU: relu}
	kp := kernels.Pool{Max: tc.kind == ir.MaxPool, KH: tc.kh, KW: tc.kw, Stride: tc.s, Same: !tc.valid}
	ks := kernels.Shape{C: tc.c, H: tc.h, W: tc.w}
	var outK kernels.Shape
	var specs []plan.Param
	if tc.pool {
		outK = kp.Out(ks)
	} else {
		outK = kc.Out(ks)
		wdims := []int{tc.cout, tc.c, tc.kh, tc.kw}
		if tc.kind == ir.DWConv {
			wdims = []int{tc.c, 1, tc.kh, tc.kw}
		}
		specs = append(specs, plan.Param{Kind: plan.Weights, Dims: wdims, Trainable: true})
		if tc.bias {
			specs = append(specs, plan.Param{ID: 1, Kind: plan.Biases, Dims: []int{outK.C}, Trainable: true})
		}
	}
	out := ir.Shape{C: outK.C, H: outK.H, W: outK.W}
	r := newRig(t, b, batch, specs)
	for i := range r.e.params.Data {
		r.e.params.Data[i] = float32(rng.NormFloat64())
	}
	if err := r.e.dev.Upload(r.e.dparams, r.e.params.Data); err != nil {
		t.Fatal(err)
	}
	x := randSlice(rng, batch*in.Elems(), tc.poolTies)
	dy := randSlice(rng, batch*out.Elems(), false)
	dx0 := randSlice(rng, batch*in.Elems(), false)
	xv, _ := r.slice(in, x)
	yv, _ := r.slice(out, nil)
	dyv, _ := r.slice(out, dy)
	dxv, _ := r.slice(in, dx0)
	o := &op{kind: tc.kind, attrs: a, ins: []view{xv}, out: yv, dout: dyv, dins: []view{dxv}, acc: []bool{acc}, reluIn: relu}
	for i := range specs {
		o.params = append(o.params, i)
	}
	if err := o.prepare(r.e); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.e.work, err = r.e.alloc(o.workLen(r.e)); err != nil {
		t.Fatal(err)
	}
	if err := o.forward(r.e); err != nil {
		t.Fatal(err)
	}
	if err := o.backward(r.e); err != nil {
		t.Fatal(err)
	}

	// The CPU kernels on the same values.
	wantY := make([]float32, batch*out.Elems())
	wantDX := append([]float32(nil), dx0...)
	P := r.e.params
	wantG := make([]float32, len(P.Grad))
	scratch := make([]float32, max(kc.ScratchLen(ks), kp.ScratchLen(ks)))
	for i := 0; i < batch; i++ {
		xi, yi := x[i*in.Elems():(i+1)*in.Elems()], wantY[i*out.Elems():(i+1)*out.Elems()]
		dyi, dxi := dy[i*out.Elems():(i+1)*out.Elems()], wantDX[i*in.Elems():(i+1)*in.Elems()]
		if tc.pool {
			kernels.PoolForward(kp, xi, ks, yi, scratch)
			kernels.PoolBackward(kp, xi, ks, yi, dyi, dxi, acc, scratch)
			continue
		}
		var bias, db []float32
		if tc.bias {
			bias, db = P.Value(1), wantG[P.Off[1]:]
		}
		kernels.ConvForward(kc, xi, ks, P.Value(0), bias, yi, scratch)
		kernels.ConvBackward(kc, xi, ks, P.Value(0), dyi, dxi, acc, wantG[:len(P.Value(0))], db, scratch)
	}
	closeTo(t, "forward", r.read(yv), wantY, 1e-5)
	closeTo(t, "input gradient", r.read(dxv), wantDX, 1e-5)
	if len(specs) > 0 {
		got := make([]float32, len(P.Grad))
		if err := r.e.dev.Download(got, r.e.dgrads); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "parameter gradients", got, wantG, 1e-5)
	}
}

// TestConcatAndAdd runs a concat that copies (networks elide theirs) and
// a three-input add forward and backward on strided views, the input
// gradients overwritten for some inputs and accumulated for others.
func TestConcatAndAdd(t *testing.T) {
	b := testBackend(t)
	const batch = 2
	rng := rand.New(rand.NewPCG(8, 8))
	s1, s2 := ir.Shape{C: 2, H: 3, W: 3}, ir.Shape{C: 3, H: 3, W: 3}
	for _, kind := range []ir.Kind{ir.Concat, ir.Add} {
		r := newRig(t, b, batch, nil)
		shapes := []ir.Shape{s1, s2}
		out := ir.Shape{C: 5, H: 3, W: 3}
		if kind == ir.Add {
			shapes, out = []ir.Shape{s2, s2, s2}, s2
		}
		var ins, dins []view
		var xs, d0 [][]float32
		acc := []bool{false, true, true}[:len(shapes)]
		for _, sh := range shapes {
			x := randSlice(rng, batch*sh.Elems(), false)
			d := randSlice(rng, batch*sh.Elems(), false)
			xv, _ := r.slice(sh, x)
			dv, _ := r.slice(sh, d)
			ins, dins, xs, d0 = append(ins, xv), append(dins, dv), append(xs, x), append(d0, d)
		}
		dy := randSlice(rng, batch*out.Elems(), false)
		yv, _ := r.slice(out, nil)
		dyv, _ := r.slice(out, dy)
		o := &op{kind: kind, ins: ins, out: yv, dout: dyv, dins: dins, acc: acc}
		if err := o.prepare(r.e); err != nil {
			t.Fatal(err)
		}
		if err := o.forward(r.e); err != nil {
			t.Fatal(err)
		}
		if err := o.backward(r.e); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, batch*out.Elems())
		for i := 0; i < batch; i++ {
			off := i * out.Elems()
			for j, sh := range shapes {
				img := xs[j][i*sh.Elems() : (i+1)*sh.Elems()]
				for k, v := range img {
					if kind == ir.Add {
						want[off+k] += v
					} else {
						want[off+k] = v
					}
				}
				if kind == ir.Concat {
					off += sh.Elems()
				}
			}
		}
		closeTo(t, string(kind)+" forward", r.read(yv), want, 1e-6)
		for j, sh := range shapes {
			wantD := make([]float32, batch*sh.Elems())
			off := 0
			if kind == ir.Concat {
				for _, p := range shapes[:j] {
					off += p.Elems()
				}
			}
			for i := 0; i < batch; i++ {
				for k := 0; k < sh.Elems(); k++ {
					g := dy[i*out.Elems()+off+k]
					if acc[j] {
						g += d0[j][i*sh.Elems()+k]
					}
					wantD[i*sh.Elems()+k] = g
				}
			}
			closeTo(t, fmt.Sprintf("%s input %d gradient", kind, j), r.read(dins[j]), wantD, 1e-6)
		}
	}
}

// TestZero: DARTS' none writes zeros; its input gradient is zero, or left
// as it was when accumulated.
func TestZero(t *testing.T) {
	b := testBackend(t)
	const batch = 2
	rng := rand.New(rand.NewPCG(9, 9))
	sh := ir.Shape{C: 2, H: 3, W: 5}
	for _, acc := range []bool{false, true} {
		r := newRig(t, b, batch, nil)
		x := randSlice(rng, batch*sh.Elems(), false)
		d := randSlice(rng, batch*sh.Elems(), false)
		xv, _ := r.slice(sh, x)
		yv, _ := r.slice(sh, x) // not zero before
		dyv, _ := r.slice(sh, x)
		dv, _ := r.slice(sh, d)
		o := &op{kind: ir.Zero, ins: []view{xv}, out: yv, dout: dyv, dins: []view{dv}, acc: []bool{acc}}
		if err := o.forward(r.e); err != nil {
			t.Fatal(err)
		}
		if err := o.backward(r.e); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "zero forward", r.read(yv), make([]float32, len(x)), 0)
		want := make([]float32, len(d))
		if acc {
			want = d
		}
		closeTo(t, fmt.Sprintf("zero gradient (acc %v)", acc), r.read(dv), want, 0)
	}
}
