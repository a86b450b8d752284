package cuda

import (
	"fmt"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/runtime/kernels"
)

// op is one operation of a plan step bound to its device views,
// parameters and scratch.
type op struct {
	kind   ir.Kind
	attrs  ir.Attrs
	params []int
	scope  string
	exec   plan.OpExec // the compiler's fusion decision for the op

	// reluIn: a conv that applies the fused ReLU before it (its ins and
	// dins are the ReLU's). pairDW, on a 1×1 conv, is the paired
	// depthwise conv before it, whose output (in shared scratch) backward
	// recomputes; pairGrad is that conv's output-gradient scratch.
	reluIn   bool
	pairDW   *op
	pairGrad view
	// accumulate: a conv that adds its product into out (the last op of
	// a plan.Launch.Accumulate launch: a folded add).
	accumulate bool

	ins  []view
	out  view
	dout view
	dins []view // p == 0: the input takes no gradient (the image)
	acc  []bool

	geo geom // convolutions and pools

	// Per-op device arrays: batch statistics and coefficients of the
	// norms, drop path scales, dropout masks.
	mean, vari, scale, coefK, coefB, coefOff dptr
	sd, sdx                                  dptr // float64 sums
	mask                                     dptr
	host                                     []float32 // drop path scales or dropout mask, drawn on the host
	usedBatchStats                           bool
	training                                 bool // the plan is a training plan
}

// geom is a convolution's or pool's geometry, TF SAME or VALID.
type geom struct {
	kh, kw, s, d, pt, pl int
	h, w, oh, ow         int
}

func newGeom(a ir.Attrs, in, out ir.Shape) (geom, error) {
	g := geom{kh: a.KH, kw: a.KW, s: max(a.Stride, 1), d: max(a.Dilation, 1), h: in.H, w: in.W}
	if a.Pad == ir.Valid {
		g.oh, g.ow = kernels.ValidOut(in.H, a.KH, g.s, g.d), kernels.ValidOut(in.W, a.KW, g.s, g.d)
	} else {
		g.oh, g.pt = kernels.SamePad(in.H, a.KH, g.s, g.d)
		g.ow, g.pl = kernels.SamePad(in.W, a.KW, g.s, g.d)
	}
	if g.oh != out.H || g.ow != out.W {
		return g, fmt.Errorf("output %dx%d, plan says %dx%d", g.oh, g.ow, out.H, out.W)
	}
	return g, nil
}

// args are the geometry arguments every conv and pool kernel takes after
// n and C: H, W, OH, OW, KH, KW, stride, [dilation,] pt, pl.
func (g geom) args(dilation bool) []uint64 {
	a := []uint64{argInt(g.h), argInt(g.w), argInt(g.oh), argInt(g.ow), argInt(g.kh), argInt(g.kw), argInt(g.s)}
	if dilation {
		a = append(a, argInt(g.d))
	}
	return append(a, argInt(g.pt), argInt(g.pl))
}

// direct reports a 1×1 stride-1 conv, whose input is already its GEMM
// operand.
func (o *op) direct() bool {
	return o.kind == ir.Conv && o.geo.kh == 1 && o.geo.kw == 1 && o.geo.s == 1
}

func (o *op) prepare(e *executable) error {
	o.training = e.p.Training
	in := o.ins[0].s
	var err error
	switch o.kind {
	case ir.Conv, ir.DWConv, ir.AvgPool, ir.MaxPool:
		a := o.attrs
		if o.kind == ir.AvgPool || o.kind == ir.MaxPool {
			a.Dilation = 1
		}
		o.geo, err = newGeom(a, in, o.out.s)
		if err != nil {
			return err
		}
		if o.kind == ir.DWConv && o.out.s.C != in.C {
			return fmt.Errorf("depthwise conv changes channels %d to %d", in.C, o.out.s.C)
		}
	case ir.BatchNorm:
		c := in.C
		err = e.allocAll(c, &o.mean, &o.vari, &o.scale, &o.coefK, &o.coefB, &o.coefOff, &o.sd, &o.sdx)
	case ir.LayerNorm, ir.InstNorm:
		nc := e.batch * in.C
		err = e.allocAll(nc, &o.mean, &o.vari, &o.scale, &o.coefK, &o.coefB, &o.coefOff, &o.sd, &o.sdx)
	case ir.DropPath:
		o.host = make([]float32, e.batch)
		o.mask, err = e.alloc(e.batch)
	case ir.Dropout:
		o.host = make([]float32, e.batch*in.Elems())
		o.mask, err = e.alloc(e.batch * in.Elems())
	case ir.Dense, ir.ReLU, ir.Add, ir.Concat, ir.Shift, ir.Zero, ir.GlobalAvg:
	default:
		return fmt.Errorf("the CUDA backend has no kernel for %s", o.kind)
	}
	return err
}

// allocAll gives each pointer n values (doubles take two floats' room).
func (e *executable) allocAll(n int, ps ...*dptr) error {
	for _, p := range ps {
		var err error
		if *p, err = e.alloc(2 * n); err != nil {
			return err
		}
	}
	return nil
}

// workLen is the scratch a conv needs (see workLayout).
func (o *op) workLen(e *executable) int {
	if o.kind != ir.Conv {
		return 0
	}
	_, _, end := o.workLayout(e.batch)
	return end
}

// workLayout places a conv's scratch in the work buffer: first its GEMM
// operand (the batch's im2col matrices, or for a 1×1 stride-1 conv with a
// fused ReLU the rectified input; nothing for a plain one), then in
// training the per-image weight-gradient partials, then for a fused ReLU
// on a 1×1 stride-1 conv the input gradient before the ReLU's mask.
// It returns where the last two parts start and the total, in floats.
func (o *op) workLayout(batch int) (partials, dx, end int) {
	in := o.ins[0].s
	k := in.C * o.geo.kh * o.geo.kw
	switch {
	case !o.direct():
		end = batch * k * o.geo.oh * o.geo.ow
	case o.reluIn:
		end = batch * in.Elems()
	}
	partials = end
	if o.training {
		end += batch * k * o.out.s.C
	}
	dx = end
	if o.training && o.direct() && o.reluIn {
		end += batch * in.Elems()
	}
	return partials, dx, end
}

func (o *op) forward(e *executable) error {
	if o.exec.ReLUIntoNext {
		return nil // the conv after it applies it
	}
	n := e.n
	x, y := o.ins[0], o.out
	in := x.s
	hw := in.H * in.W
	switch o.kind {
	case ir.ReLU:
		return e.launch(e.k.relu, n*in.Elems(), argInt(n), argInt(in.Elems()), argPtr(x.p), argInt(x.stride), argPtr(y.p), argInt(y.stride))
	case ir.Add:
		if len(o.ins) == 1 {
			return e.copyView(o.ins[0], y, 0, 0, false)
		}
		b := o.ins[1]
		if err := e.launch(e.k.add2, n*in.Elems(), argInt(n), argInt(in.Elems()), argPtr(x.p), argInt(x.stride), argPtr(b.p), argInt(b.stride), argPtr(y.p), argInt(y.stride)); err != nil {
			return err
		}
		for _, v := range o.ins[2:] {
			if err := e.copyView(v, y, 0, 0, true); err != nil {
				return err
			}
		}
		return nil
	case ir.Concat:
		off := 0
		for _, v := range o.ins {
			dst := view{p: y.p.add(off), stride: y.stride, s: v.s}
			if err := e.copyView(v, dst, 0, 0, false); err != nil {
				return err
			}
			off += v.elems()
		}
		return nil
	case ir.Shift:
		return e.launch(e.k.shiftFwd, n*in.Elems(), argInt(n), argInt(in.C), argInt(in.H), argInt(in.W), argPtr(x.p), argInt(x.stride), argPtr(y.p), argInt(y.stride))
	case ir.Zero:
		return e.zeroView(y, n)
	case ir.GlobalAvg:
		return e.launch(e.k.gapFwd, n*in.C, argInt(n), argInt(in.C), argInt(hw), argPtr(x.p), argInt(x.stride), argPtr(y.p), argInt(y.stride))
	case ir.DropPath:
		return e.copyView(x, y, o.mask, 0, false)
	case ir.Dropout:
		return e.copyView(x, y, 0, o.mask, false)
	case ir.AvgPool, ir.MaxPool:
		args := append([]uint64{argInt(n), argInt(in.C)}, o.geo.args(false)...)
		args = append(args, argInt(b2int(o.kind == ir.MaxPool)), argPtr(x.p), argInt(x.stride), argPtr(y.p), argInt(y.stride))
		return e.launch(e.k.poolFwd, n*y.elems(), args...)
	case ir.DWConv:
		args := append([]uint64{argInt(n), argInt(in.C)}, o.geo.args(true)...)
		args = append(args, argPtr(x.p), argInt(x.stride), argInt(b2int(o.reluIn)), argPtr(e.param(o.params[0])), argPtr(o.bias(e)), argPtr(y.p), argInt(y.stride))
		return e.launch(e.k.dwFwd, n*y.elems(), args...)
	case ir.Conv:
		return o.convForward(e)
	case ir.Dense:
		return o.denseForward(e)
	case ir.BatchNorm:
		return o.bnForward(e)
	case ir.LayerNorm, ir.InstNorm:
		return o.gnForward(e)
	}
	return fmt.Errorf("no forward kernel for %s", o.kind)
}

// drawMask draws a drop path or dropout op's masks for the next forward
// pass and uploads them.
func (o *op) drawMask(e *executable) error {
	n := e.n
	switch o.kind {
	case ir.DropPath:
		e.masks.DropPath(o.host[:n], o.attrs.Keep, e.progress, e.train)
		return e.dev.Upload(o.mask, o.host[:n])
	case ir.Dropout:
		m := o.host[:n*o.ins[0].elems()]
		e.masks.Dropout(m, o.attrs.Keep, e.train)
		return e.dev.Upload(o.mask, m)
	}
	return nil
}

func (o *op) backward(e *executable) error {
	if o.exec.ReLUIntoNext {
		return nil // the conv after it back-propagated through its mask
	}
	if o.pairDW != nil {
		// The paired depthwise conv's output was scratch; recompute it.
		if err := o.pairDW.forward(e); err != nil {
			return err
		}
	}
	n := e.n
	x, dy := o.ins[0], o.dout
	in := x.s
	hw := in.H * in.W
	dx := o.dins[0]
	switch o.kind {
	case ir.ReLU:
		if dx.p == 0 {
			return nil
		}
		return e.launch(e.k.reluGrad, n*in.Elems(), argInt(n), argInt(in.Elems()), argPtr(o.out.p), argInt(o.out.stride), argPtr(dy.p), argInt(dy.stride), argPtr(dx.p), argInt(dx.stride), argInt(b2int(o.acc[0])))
	case ir.Add:
		for j, d := range o.dins {
			if d.p != 0 {
				if err := e.copyView(dy, d, 0, 0, o.acc[j]); err != nil {
					return err
				}
			}
		}
		return nil
	case ir.Concat:
		off := 0
		for j, d := range o.dins {
			src := view{p: dy.p.add(off), stride: dy.stride, s: o.ins[j].s}
			off += o.ins[j].elems()
			if d.p != 0 {
				if err := e.copyView(src, d, 0, 0, o.acc[j]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if dx.p == 0 && len(o.params) == 0 {
		return nil
	}
	acc := argInt(b2int(o.acc[0]))
	switch o.kind {
	case ir.Shift:
		return e.launch(e.k.shiftGrad, n*in.Elems(), argInt(n), argInt(in.C), argInt(in.H), argInt(in.W), argPtr(dy.p), argInt(dy.stride), argPtr(dx.p), argInt(dx.stride), acc)
	case ir.Zero:
		if o.acc[0] {
			return nil
		}
		return e.zeroView(dx, n)
	case ir.GlobalAvg:
		return e.launch(e.k.gapGrad, n*in.Elems(), argInt(n), argInt(in.C), argInt(hw), argPtr(dy.p), argInt(dy.stride), argPtr(dx.p), argInt(dx.stride), acc)
	case ir.DropPath:
		return e.copyView(dy, dx, o.mask, 0, o.acc[0])
	case ir.Dropout:
		return e.copyView(dy, dx, 0, o.mask, o.acc[0])
	case ir.AvgPool, ir.MaxPool:
		args := append([]uint64{argInt(n), argInt(in.C)}, o.geo.args(false)...)
		args = append(args, argInt(b2int(o.kind == ir.MaxPool)), argPtr(x.p), argInt(x.stride), argPtr(dy.p), argInt(dy.stride), argPtr(dx.p), argInt(dx.stride), acc)
		return e.launch(e.k.poolGrad, n*in.Elems(), args...)
	case ir.DWConv:
		geo := append([]uint64{argInt(n), argInt(in.C)}, o.geo.args(true)...)
		if err := e.reduce(e.k.dwGradW, in.C*o.geo.kh*o.geo.kw, append(geo, argPtr(x.p), argInt(x.stride), argInt(b2int(o.reluIn)), argPtr(dy.p), argInt(dy.stride), argPtr(e.grad(o.params[0])))...); err != nil {
			return err
		}
		if len(o.params) > 1 {
			if err := e.reduce(e.k.chanSumAdd, in.C, argInt(n), argInt(in.C), argInt(o.out.s.H*o.out.s.W), argPtr(dy.p), argInt(dy.stride), argPtr(e.grad(o.params[1]))); err != nil {
				return err
			}
		}
		if dx.p == 0 {
			return nil
		}
		return e.launch(e.k.dwGradX, n*in.Elems(), append(geo, argPtr(dy.p), argInt(dy.stride), argPtr(e.param(o.params[0])), argPtr(x.p), argInt(x.stride), argInt(b2int(o.reluIn)), argPtr(dx.p), argInt(dx.stride), acc)...)
	case ir.Conv:
		return o.convBackward(e)
	case ir.Dense:
		return o.denseBackward(e)
	case ir.BatchNorm:
		return o.bnBackward(e)
	case ir.LayerNorm, ir.InstNorm:
		return o.gnBackward(e)
	}
	return fmt.Errorf("no backward kernel for %s", o.kind)
}

// bias is the op's bias on the device (a conv with a folded batch norm),
// or 0.
func (o *op) bias(e *executable) dptr {
	if len(o.params) > 1 {
		return e.param(o.params[1])
	}
	return 0
}

// copyView writes (or adds) src into dst, each image scaled by scale[i]
// when scale != 0 and each value by mask when mask != 0.
func (e *executable) copyView(src, dst view, scale, mask dptr, acc bool) error {
	n, s := e.n, src.elems()
	return e.launch(e.k.copy, n*s, argInt(n), argInt(s), argPtr(src.p), argInt(src.stride), argPtr(scale), argPtr(mask), argPtr(dst.p), argInt(dst.stride), argInt(b2int(acc)))
}

func b2int(b bool) int {
	if b {
		return 1
	}
	return 0
}
