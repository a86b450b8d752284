package cuda

import "cellc/compiler/ir"

// Batch, layer and instance norm: statistics reduced in double, then the
// two generic affine kernels (see kernels.cu).

func (o *op) bnForward(e *executable) error {
	n, x, y := e.n, o.ins[0], o.out
	in := x.s
	hw := in.H * in.W
	gamma, beta := e.param(o.params[0]), e.param(o.params[1])
	mean, vari := e.param(o.params[2]), e.param(o.params[3])
	o.usedBatchStats = e.p.Training && e.train
	if o.usedBatchStats {
		if err := e.reduce(e.k.bnStats, in.C, argInt(n), argInt(in.C), argInt(hw), argPtr(x.p), argInt(x.stride), argPtr(o.mean), argPtr(o.vari)); err != nil {
			return err
		}
		// TF updates the moving variance with the biased batch variance,
		// as the CPU backend does.
		decay := argFloat(e.opts.BatchNormDecay)
		if err := e.launch(e.k.bnMoving, in.C, argInt(in.C), argPtr(mean), argPtr(o.mean), decay); err != nil {
			return err
		}
		if err := e.launch(e.k.bnMoving, in.C, argInt(in.C), argPtr(vari), argPtr(o.vari), decay); err != nil {
			return err
		}
		mean, vari = o.mean, o.vari
	}
	if err := e.launch(e.k.bnScale, in.C, argInt(in.C), argPtr(vari), argPtr(gamma), argFloat(e.opts.BatchNormEpsilon), argPtr(o.scale)); err != nil {
		return err
	}
	return e.launch(e.k.affineFwd, n*in.Elems(), argInt(n), argInt(in.C), argInt(hw), argPtr(x.p), argInt(x.stride),
		argPtr(mean), argInt(0), argInt(1), argPtr(o.scale), argInt(0), argInt(1), argPtr(beta), argPtr(y.p), argInt(y.stride))
}

// bnBackward is the gradient through the batch statistics of the last
// forward pass (training plans run their backward only after a training
// forward). A batch norm computed in place back-propagates from its
// output y: x̂ = (y - beta)/gamma, so the sums and the coefficients are
// taken over y - beta.
func (o *op) bnBackward(e *executable) error {
	n, x, dy, dx := e.n, o.ins[0], o.dout, o.dins[0]
	in := x.s
	hw := in.H * in.W
	m := o.mean
	if o.exec.InPlace {
		x, m = o.out, e.param(o.params[1])
	}
	if err := e.reduce(e.k.dyDev, in.C, argInt(n), argInt(in.C), argInt(hw), argInt(0), argPtr(x.p), argInt(x.stride), argPtr(dy.p), argInt(dy.stride),
		argPtr(m), argInt(0), argInt(1), argPtr(o.sd), argPtr(o.sdx)); err != nil {
		return err
	}
	if err := e.launch(e.k.bnGradCoef, in.C, argInt(in.C), argInt(n*hw), argInt(b2int(o.exec.InPlace)), argPtr(o.vari), argPtr(e.param(o.params[0])), argFloat(e.opts.BatchNormEpsilon),
		argPtr(o.sd), argPtr(o.sdx), argPtr(e.grad(o.params[0])), argPtr(e.grad(o.params[1])), argPtr(o.coefK), argPtr(o.coefB), argPtr(o.coefOff)); err != nil {
		return err
	}
	if dx.p == 0 {
		return nil
	}
	return e.launch(e.k.affineGrad, n*in.Elems(), argInt(n), argInt(in.C), argInt(hw), argPtr(x.p), argInt(x.stride), argPtr(dy.p), argInt(dy.stride),
		argPtr(m), argInt(0), argInt(1), argPtr(o.coefK), argPtr(o.coefB), argPtr(o.coefOff), argInt(0), argPtr(dx.p), argInt(dx.stride), argInt(b2int(o.acc[0])))
}

// gnShape returns the groups a layer norm (one per image) or instance
// norm (one per image and channel) reduces over: per groups an image, of
// len values each, and the strides of a group's statistic by image and
// by channel.
func (o *op) gnShape(n int) (per, length, sn, sc int) {
	in := o.ins[0].s
	if o.kind == ir.LayerNorm {
		return 1, in.Elems(), 1, 0
	}
	return in.C, in.H * in.W, in.C, 1
}

func (o *op) gnForward(e *executable) error {
	n, x, y := e.n, o.ins[0], o.out
	in := x.s
	per, length, sn, sc := o.gnShape(n)
	if err := e.reduce(e.k.gnStats, n*per, argInt(n*per), argInt(per), argInt(length), argPtr(x.p), argInt(x.stride), argFloat(e.opts.BatchNormEpsilon), argPtr(o.mean), argPtr(o.vari)); err != nil {
		return err
	}
	if err := e.launch(e.k.gnScale, n*in.C, argInt(n), argInt(in.C), argInt(per), argPtr(e.param(o.params[0])), argPtr(o.vari), argPtr(o.scale)); err != nil {
		return err
	}
	return e.launch(e.k.affineFwd, n*in.Elems(), argInt(n), argInt(in.C), argInt(in.H*in.W), argPtr(x.p), argInt(x.stride),
		argPtr(o.mean), argInt(sn), argInt(sc), argPtr(o.scale), argInt(in.C), argInt(1), argPtr(e.param(o.params[1])), argPtr(y.p), argInt(y.stride))
}

func (o *op) gnBackward(e *executable) error {
	n, x, dy, dx := e.n, o.ins[0], o.dout, o.dins[0]
	in := x.s
	hw := in.H * in.W
	per, _, sn, sc := o.gnShape(n)
	if err := e.reduce(e.k.dyDev, n*in.C, argInt(n), argInt(in.C), argInt(hw), argInt(1), argPtr(x.p), argInt(x.stride), argPtr(dy.p), argInt(dy.stride),
		argPtr(o.mean), argInt(sn), argInt(sc), argPtr(o.sd), argPtr(o.sdx)); err != nil {
		return err
	}
	if err := e.launch(e.k.gnParam, in.C, argInt(n), argInt(in.C), argInt(per), argPtr(o.vari), argPtr(o.sd), argPtr(o.sdx),
		argPtr(e.grad(o.params[0])), argPtr(e.grad(o.params[1]))); err != nil {
		return err
	}
	if dx.p == 0 {
		return nil
	}
	if err := e.launch(e.k.gnGradCoef, n, argInt(n), argInt(in.C), argInt(hw), argInt(per), argPtr(e.param(o.params[0])), argPtr(o.vari),
		argPtr(o.sd), argPtr(o.sdx), argPtr(o.coefK), argPtr(o.coefB), argPtr(o.coefOff)); err != nil {
		return err
	}
	return e.launch(e.k.affineGrad, n*in.Elems(), argInt(n), argInt(in.C), argInt(hw), argPtr(x.p), argInt(x.stride), argPtr(dy.p), argInt(dy.stride),
		argPtr(o.mean), argInt(sn), argInt(sc), argPtr(o.coefK), argPtr(o.coefB), argPtr(o.coefOff), argInt(in.C), argPtr(dx.p), argInt(dx.stride), argInt(b2int(o.acc[0])))
}
