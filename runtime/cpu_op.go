package runtime

import (
	"fmt"

	"cellc/compiler/ir"
	"cellc/runtime/kernels"
)

// cpuOp is one operation of a step with everything it needs bound:
// tensors, parameters, scratch, and the loop bodies the worker pool runs.
type cpuOp struct {
	kind   ir.Kind
	attrs  ir.Attrs
	params []int
	last   bool
	// accumulate: the op adds its output into out, which holds another
	// launch's result (the last op of a plan.Launch.Accumulate launch).
	accumulate bool

	ins  []kernels.Tensor
	out  kernels.Tensor
	dout kernels.Tensor
	dins []kernels.Tensor
	acc  []bool

	// fusedInto marks a ReLU that the next op (a conv) applies itself;
	// reluFused marks that conv, whose input and input gradient are the
	// ReLU's.
	fusedInto, reluFused bool
	// bnInPlace marks a training batch norm that overwrites its input
	// and back-propagates from its output.
	bnInPlace bool
	// momentsTo, on a conv whose output a training batch norm normalises
	// in place, is that batch norm: in training mode the conv computes
	// each image's per-channel moments into its imgMean and imgM2 (image
	// i's channel c at i*C+c), which replace the batch norm's own pass
	// over the batch.
	momentsTo      *cpuOp
	imgMean, imgM2 []float64
	// dxSumsTo, on a conv whose input is the output of a training batch
	// norm normalised in place and whose input gradient is that batch
	// norm's whole output gradient, is that batch norm: the conv adds
	// each image's per-channel backward sums (ChannelDyDev) into its
	// imgDySum and imgDyDev as soon as it has written the image's
	// gradient, and the batch norm only merges them.
	dxSumsTo           *cpuOp
	imgDySum, imgDyDev []float64
	// pairedInto marks a depthwise conv that the pointwise conv after it
	// runs per image (pairDW, on that pointwise conv, points back to it).
	pairedInto bool
	pairDW     *cpuOp

	conv       kernels.Conv
	pool       kernels.Pool
	scratchLen int
	// packed holds a 1×1 conv's weights packed for its forward product
	// (kernels.Conv.PackWeights), and in training packedT its transposed
	// weights for the input gradient (PackWeightsT), both repacked at the
	// start of every forward pass; nil for convs that take none.
	packed, packedT []float32
	// packedFrom, in an inference plan, is a copy of the weights packed
	// was packed from (once packedOnce): a pass repacks only weights that
	// differ from it (see packWeights).
	packedFrom []float32
	packedOnce bool
	// packOwner, on an op of a one-image executable, is its outer
	// executable's op whose packed weights it reads.
	packOwner *cpuOp

	// Batch norm: the statistics used by the last forward pass, and the
	// backward sums.
	mean, variance, sumDy, sumDyXhat []float32
	// Layer/instance norm per-image statistics.
	stats  []float32
	nstats int
	// Drop path per-image scales; dropout mask.
	scale []float32
	mask  []float32
	// addSrc holds, per worker, the input slices of an n-ary add.
	addSrc [][][]float32

	fwd, bwd         func(w, lo, hi int) // per image
	fwdChan, bwdChan func(w, lo, hi int) // per channel (batch norm statistics)
	wgrad            []int               // params whose gradients come from per-worker partials
	trainingBN       bool
	eps              float32
}

func (op *cpuOp) prepare(e *cpuExec) error {
	in := op.ins[0].S
	a := op.attrs
	switch op.kind {
	case ir.Conv, ir.DWConv:
		op.conv = kernels.Conv{KH: a.KH, KW: a.KW, Stride: max(a.Stride, 1), Dilation: max(a.Dilation, 1), Same: a.Pad != ir.Valid, Cin: in.C, Cout: op.out.S.C, Depthwise: op.kind == ir.DWConv, ReLU: op.reluFused, Acc: op.accumulate}
		if got := op.conv.Out(in); got != op.out.S {
			return fmt.Errorf("conv output %v, plan says %v", got, op.out.S)
		}
		op.scratchLen = op.conv.ScratchLen(in)
		if n := op.conv.PackedLen(in); n > 0 && !op.pairedInto && op.packed == nil {
			op.packed = make([]float32, n)
		}
		if n := op.conv.PackedTLen(in); n > 0 && e.p.Training {
			op.packedT = make([]float32, n)
		}
	case ir.AvgPool, ir.MaxPool:
		op.pool = kernels.Pool{Max: op.kind == ir.MaxPool, KH: a.KH, KW: a.KW, Stride: max(a.Stride, 1), Same: a.Pad != ir.Valid}
		op.scratchLen = op.pool.ScratchLen(in)
		if got := op.pool.Out(in); got != op.out.S {
			return fmt.Errorf("pool output %v, plan says %v", got, op.out.S)
		}
	case ir.BatchNorm:
		c := in.C
		op.mean, op.variance = make([]float32, c), make([]float32, c)
		op.sumDy, op.sumDyXhat = make([]float32, c), make([]float32, c)
		op.trainingBN = e.p.Training
		op.eps = e.opts.BatchNormEpsilon
	case ir.LayerNorm:
		op.nstats = 2
		op.stats = make([]float32, 2*e.batch)
		op.eps = e.opts.BatchNormEpsilon
	case ir.InstNorm:
		op.nstats = 2 * in.C
		op.stats = make([]float32, 2*in.C*e.batch)
		op.eps = e.opts.BatchNormEpsilon
	case ir.DropPath:
		op.scale = make([]float32, e.batch)
	case ir.Dropout:
		op.mask = make([]float32, in.Elems()*e.batch)
	case ir.Add:
		op.addSrc = make([][][]float32, e.pool.n)
		for w := range op.addSrc {
			op.addSrc[w] = make([][]float32, len(op.ins))
		}
	case ir.Dense, ir.ReLU, ir.Concat, ir.Shift, ir.Zero, ir.GlobalAvg:
	default:
		return fmt.Errorf("the CPU backend has no kernel for %s", op.kind)
	}
	if op.accumulate && op.kind != ir.Conv {
		return fmt.Errorf("%s cannot add into its output (the plan folds adds into convs only)", op.kind)
	}
	return nil
}

// bind builds the loop bodies once, so running them allocates nothing.
func (op *cpuOp) bind(e *cpuExec) {
	P := e.params
	x, y := op.ins[0], op.out
	in := x.S
	training := e.p.Training
	switch op.kind {
	case ir.Conv, ir.DWConv:
		if op.pairDW != nil {
			op.bindPair(e)
			return
		}
		w := P.Value(op.params[0])
		var bias []float32
		if len(op.params) > 1 {
			bias = P.Value(op.params[1])
		}
		op.fwd = func(wk, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.ConvForwardPacked(op.conv, x.Img(i), in, w, op.packed, bias, y.Img(i), e.scratch[wk])
				op.moments(e, y, i)
			}
		}
		if training {
			op.wgrad = op.params
			op.bwd = func(wk, lo, hi int) {
				part := e.wpart[wk]
				dw := part[:len(w)]
				var db []float32
				if bias != nil {
					db = part[len(w) : len(w)+len(bias)]
				}
				// A 1×1 conv's weight gradient for all of this worker's
				// images in one product where the kernels have one
				// (ConvWeightGrads); then the images leave dw alone.
				dwi := dw
				if kernels.ConvWeightGrads(op.conv, x, op.dout, lo, hi, dw) {
					dwi = nil
				}
				for i := lo; i < hi; i++ {
					var dx []float32
					if op.dins[0].Data != nil {
						dx = op.dins[0].Img(i)
					}
					kernels.ConvBackwardPacked(op.conv, x.Img(i), in, w, op.packedT, op.dout.Img(i), dx, op.acc[0], dwi, db, e.scratch[wk])
					op.dxSums(e, i)
				}
			}
		}
	case ir.Dense:
		w, b := P.Value(op.params[0]), P.Value(op.params[1])
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.DenseForward(x.Img(i), w, b, y.Img(i))
			}
		}
		if training {
			op.wgrad = op.params
			op.bwd = func(wk, lo, hi int) {
				part := e.wpart[wk]
				dw, db := part[:len(w)], part[len(w):len(w)+len(b)]
				for i := lo; i < hi; i++ {
					var dx []float32
					if op.dins[0].Data != nil {
						dx = op.dins[0].Img(i)
					}
					kernels.DenseBackward(x.Img(i), w, op.dout.Img(i), dx, op.acc[0], dw, db)
				}
			}
		}
	case ir.ReLU:
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.ReLUForward(x.Img(i), y.Img(i))
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.ReLUBackward(y.Img(i), op.dout.Img(i), op.dins[0].Img(i), op.acc[0])
			}
		}
	case ir.AvgPool, ir.MaxPool:
		op.fwd = func(wk, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.PoolForward(op.pool, x.Img(i), in, y.Img(i), e.scratch[wk])
			}
		}
		op.bwd = func(wk, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.PoolBackward(op.pool, x.Img(i), in, y.Img(i), op.dout.Img(i), op.dins[0].Img(i), op.acc[0], e.scratch[wk])
			}
		}
	case ir.BatchNorm:
		gamma, beta := P.Value(op.params[0]), P.Value(op.params[1])
		mmean, mvar := P.Value(op.params[2]), P.Value(op.params[3])
		if !training {
			op.mean, op.variance = mmean, mvar
		}
		op.fwdChan = func(_, c0, c1 int) {
			xb := x // the batch's images; a copy, since workers run this at once
			xb.N = e.n
			kernels.BNStats(xb, c0, c1, op.mean, op.variance)
		}
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.BNForward(x.Img(i), in, op.mean, op.variance, gamma, beta, op.eps, y.Img(i))
			}
		}
		if training {
			dgamma, dbeta := P.Gradient(op.params[0]), P.Gradient(op.params[1])
			op.bwdChan = func(_, c0, c1 int) {
				xb, yb, dyb := x, y, op.dout // copies, as in fwdChan
				xb.N, yb.N, dyb.N = e.n, e.n, e.n
				switch {
				case op.imgDySum != nil:
					kernels.BNSumsFromParts(op.imgDySum, op.imgDyDev, e.n, in.C, gamma, c0, c1, op.sumDy, op.sumDyXhat)
				case op.bnInPlace:
					kernels.BNBackwardSumsFromOutput(yb, dyb, gamma, beta, c0, c1, op.sumDy, op.sumDyXhat)
				default:
					kernels.BNBackwardSums(xb, dyb, op.mean, op.variance, op.eps, c0, c1, op.sumDy, op.sumDyXhat)
				}
				for c := c0; c < c1; c++ {
					dgamma[c] += op.sumDyXhat[c]
					dbeta[c] += op.sumDy[c]
				}
			}
			op.bwd = func(_, lo, hi int) {
				if op.dins[0].Data == nil {
					return // reads the image, which needs no gradient
				}
				count := e.n * in.H * in.W
				for i := lo; i < hi; i++ {
					if op.bnInPlace {
						kernels.BNBackwardFromOutput(y.Img(i), op.dout.Img(i), in, op.variance, gamma, beta, op.eps, op.sumDy, op.sumDyXhat, count, op.dins[0].Img(i), op.acc[0])
						continue
					}
					kernels.BNBackward(x.Img(i), op.dout.Img(i), in, op.mean, op.variance, gamma, op.eps, op.sumDy, op.sumDyXhat, count, op.dins[0].Img(i), op.acc[0])
				}
			}
		}
	case ir.LayerNorm, ir.InstNorm:
		gamma, beta := P.Value(op.params[0]), P.Value(op.params[1])
		ln := op.kind == ir.LayerNorm
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				st := op.stats[i*op.nstats : (i+1)*op.nstats]
				if ln {
					kernels.LayerNormForward(x.Img(i), in, gamma, beta, op.eps, y.Img(i), st)
				} else {
					kernels.InstanceNormForward(x.Img(i), in, gamma, beta, op.eps, y.Img(i), st)
				}
			}
		}
		if training {
			// Per-channel parameter gradients would race across images,
			// so this backward runs on one worker.
			dgamma, dbeta := P.Gradient(op.params[0]), P.Gradient(op.params[1])
			op.bwd = func(_, lo, hi int) {
				for i := lo; i < hi; i++ {
					st := op.stats[i*op.nstats : (i+1)*op.nstats]
					if ln {
						kernels.LayerNormBackward(x.Img(i), in, gamma, op.dout.Img(i), st, op.dins[0].Img(i), op.acc[0], dgamma, dbeta)
					} else {
						kernels.InstanceNormBackward(x.Img(i), in, gamma, op.dout.Img(i), st, op.dins[0].Img(i), op.acc[0], dgamma, dbeta)
					}
				}
			}
		}
	case ir.Add:
		op.fwd = func(wk, lo, hi int) {
			src := op.addSrc[wk]
			for i := lo; i < hi; i++ {
				if len(op.ins) == 2 {
					kernels.Add2(op.ins[0].Img(i), op.ins[1].Img(i), y.Img(i))
					continue
				}
				for j := range op.ins {
					src[j] = op.ins[j].Img(i)
				}
				kernels.AddN(y.Img(i), src)
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				dy := op.dout.Img(i)
				for j, d := range op.dins {
					passGrad(dy, d.Img(i), op.acc[j])
				}
			}
		}
	case ir.Concat:
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				dst, off := y.Img(i), 0
				for _, t := range op.ins {
					n := t.S.Elems()
					copy(dst[off:off+n], t.Img(i))
					off += n
				}
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				dy, off := op.dout.Img(i), 0
				for j, d := range op.dins {
					n := op.ins[j].S.Elems()
					passGrad(dy[off:off+n], d.Img(i), op.acc[j])
					off += n
				}
			}
		}
	case ir.Shift:
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.ShiftForward(x.Img(i), in, y.Img(i))
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.ShiftBackward(op.dout.Img(i), in, op.dins[0].Img(i), op.acc[0])
			}
		}
	case ir.Zero:
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				clear(y.Img(i))
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				if !op.acc[0] {
					clear(op.dins[0].Img(i))
				}
			}
		}
	case ir.GlobalAvg:
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.GAPForward(x.Img(i), in, y.Img(i))
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.GAPBackward(op.dout.Img(i), in, op.dins[0].Img(i), op.acc[0])
			}
		}
	case ir.DropPath:
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.Scale(x.Img(i), y.Img(i), op.scale[i])
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				scaleGrad(op.dout.Img(i), op.dins[0].Img(i), op.scale[i], op.acc[0])
			}
		}
	case ir.Dropout:
		size := in.Elems()
		op.fwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.Mul(x.Img(i), op.mask[i*size:(i+1)*size], y.Img(i))
			}
		}
		op.bwd = func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.MulBackward(op.dout.Img(i), op.mask[i*size:(i+1)*size], op.dins[0].Img(i), op.acc[0])
			}
		}
	}
}

// moments computes image i's per-channel moments of the conv output y
// for the batch norm after it (see momentsTo), when training.
func (op *cpuOp) moments(e *cpuExec, y kernels.Tensor, i int) {
	bn := op.momentsTo
	if bn == nil || !e.train {
		return
	}
	c := y.S.C
	kernels.ChannelMoments(y.Img(i), y.S, bn.imgMean[i*c:(i+1)*c], bn.imgM2[i*c:(i+1)*c])
}

// dxSums computes image i's batch norm backward sums for op.dxSumsTo
// from the input gradient the op has just written (see dxSumsTo).
func (op *cpuOp) dxSums(e *cpuExec, i int) {
	bn := op.dxSumsTo
	if bn == nil {
		return
	}
	c := bn.out.S.C
	sum, dev := bn.imgDySum[i*c:(i+1)*c], bn.imgDyDev[i*c:(i+1)*c]
	clear(sum)
	clear(dev)
	kernels.ChannelDyDev(op.ins[0].Img(i), op.dins[0].Img(i), bn.out.S, e.params.Value(bn.params[1]), sum, dev)
}

func passGrad(dy, dx []float32, accumulate bool) {
	if accumulate {
		kernels.AddInto(dx, dy)
	} else {
		copy(dx, dy)
	}
}

func scaleGrad(dy, dx []float32, s float32, accumulate bool) {
	if accumulate {
		kernels.AddScaled(dx, dy, s)
	} else {
		kernels.Scale(dy, dx, s)
	}
}

func (op *cpuOp) forward(e *cpuExec) {
	if op.fusedInto || op.pairedInto {
		return // the next op applies this ReLU or depthwise conv
	}
	n := e.n
	switch op.kind {
	case ir.BatchNorm:
		if op.trainingBN && !e.train {
			// Evaluating a training plan: normalise with the moving
			// statistics instead of the batch's.
			copy(op.mean, e.params.Value(op.params[2]))
			copy(op.variance, e.params.Value(op.params[3]))
		}
		if op.trainingBN && e.train {
			if op.imgMean != nil {
				sh := op.ins[0].S
				kernels.MergeMoments(op.imgMean, op.imgM2, n, sh.C, sh.H*sh.W, op.mean, op.variance)
			} else {
				e.pool.run(op.ins[0].S.C, op.fwdChan)
			}
			decay := e.opts.BatchNormDecay
			kernels.UpdateMoving(e.params.Value(op.params[2]), op.mean, decay)
			// TF updates the moving variance with the batch variance as
			// computed (biased); so do we.
			kernels.UpdateMoving(e.params.Value(op.params[3]), op.variance, decay)
		}
	case ir.DropPath:
		e.masks.DropPath(op.scale[:n], op.attrs.Keep, e.progress, e.train)
	case ir.Dropout:
		e.masks.Dropout(op.mask[:n*op.ins[0].S.Elems()], op.attrs.Keep, e.train)
	}
	e.pool.run(n, op.fwd)
}

func (op *cpuOp) backward(e *cpuExec) {
	if op.fusedInto || op.pairedInto {
		return // the next op back-propagated through this ReLU or conv
	}
	n := e.n
	if op.bwdChan != nil {
		e.pool.run(op.ins[0].S.C, op.bwdChan)
	}
	if op.bwd == nil || (len(op.params) == 0 && !op.needsDX()) {
		return
	}
	switch {
	case op.kind == ir.LayerNorm || op.kind == ir.InstNorm:
		op.bwd(0, 0, n)
	case op.wgrad != nil:
		// Each worker sums its images' weight gradients into its own
		// partial buffer, the parameters of op.wgrad one after another;
		// the partials are then added to the gradients.
		P := e.params
		total := 0
		for _, id := range op.wgrad {
			total += len(P.Value(id))
		}
		workers := min(e.pool.n, n)
		for w := 0; w < workers; w++ {
			clear(e.wpart[w][:total])
		}
		e.pool.run(n, op.bwd)
		for w := 0; w < workers; w++ {
			off := 0
			for _, id := range op.wgrad {
				g := P.Gradient(id)
				kernels.AddInto(g, e.wpart[w][off:off+len(g)])
				off += len(g)
			}
		}
	default:
		e.pool.run(n, op.bwd)
	}
}

// packWeights packs the op's weights for its forward product, when it
// takes them packed.
//
// An inference plan's weights rarely change between passes, while at
// batch 1 packing them all took 15 % of a 6@768 pass: there the op keeps
// a copy of the weights it packed and repacks only when they differ,
// which comparing finds for a third of packing's time. Any writer of the
// parameters (an optimiser, a checkpoint load, a test) is seen without
// being told about.
func (op *cpuOp) packWeights(e *cpuExec) {
	w := e.params.Value(op.params[0])
	if op.packedFrom != nil {
		if op.packedOnce && sameBits(w, op.packedFrom) {
			return
		}
		copy(op.packedFrom, w)
		op.packedOnce = true
	}
	if op.packed != nil {
		op.conv.PackWeights(op.ins[0].S, w, op.packed)
	}
	if op.packedT != nil {
		op.conv.PackWeightsT(op.ins[0].S, w, op.packedT)
	}
}

// needsDX reports whether any input of the op takes a gradient (the image
// does not).
func (op *cpuOp) needsDX() bool {
	for _, d := range op.dins {
		if d.Data != nil {
			return true
		}
	}
	return false
}

// bindPair builds the loops of a pointwise conv that runs the depthwise
// conv before it per image (op.pairDW): forward computes the depthwise
// output into the worker's one-image buffer and reads it from there;
// backward recomputes it, back-propagates the pointwise conv into a
// second one-image buffer, and from there the depthwise conv, into the
// depthwise conv's input gradient.
func (op *cpuOp) bindPair(e *cpuExec) {
	P := e.params
	dwOp := op.pairDW
	x, y := dwOp.ins[0], op.out
	dwIn, pwIn := x.S, op.ins[0].S
	dwW, pwW := P.Value(dwOp.params[0]), P.Value(op.params[0])
	var bias []float32
	if len(op.params) > 1 {
		bias = P.Value(op.params[1])
	}
	n := pwIn.Elems()
	var dwB []float32
	if len(dwOp.params) > 1 {
		dwB = P.Value(dwOp.params[1])
	}
	pair := kernels.DWPointwise{DW: dwOp.conv, PW: op.conv}
	op.fwd = func(wk, lo, hi int) {
		act := e.pairAct[wk][:kernels.PairActLen(pwIn)]
		for i := lo; i < hi; i++ {
			pair.Forward(x.Img(i), dwIn, dwW, dwB, pwW, op.packed, bias, act, y.Img(i), e.scratch[wk])
			op.moments(e, y, i)
		}
	}
	if !e.p.Training {
		return
	}
	op.wgrad = append([]int{dwOp.params[0]}, op.params...)
	op.bwd = func(wk, lo, hi int) {
		part := e.wpart[wk]
		gDW := part[:len(dwW)]
		gPW := part[len(dwW) : len(dwW)+len(pwW)]
		var gB []float32
		if bias != nil {
			gB = part[len(dwW)+len(pwW) : len(dwW)+len(pwW)+len(bias)]
		}
		act, grad := e.pairAct[wk][:n], e.pairGrad[wk][:n]
		for i := lo; i < hi; i++ {
			kernels.ConvForward(dwOp.conv, x.Img(i), dwIn, dwW, dwB, act, e.scratch[wk])
			kernels.ConvBackwardPacked(op.conv, act, pwIn, pwW, op.packedT, op.dout.Img(i), grad, false, gPW, gB, e.scratch[wk])
			var dx []float32
			if dwOp.dins[0].Data != nil {
				dx = dwOp.dins[0].Img(i)
			}
			kernels.ConvBackward(dwOp.conv, x.Img(i), dwIn, dwW, grad, dx, dwOp.acc[0], gDW, nil, e.scratch[wk])
			dwOp.dxSums(e, i)
		}
	}
}
