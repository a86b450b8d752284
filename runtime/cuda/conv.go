package cuda

// Dense convolutions and fully connected layers as cuBLAS products.
//
// cuBLAS is column-major and our tensors are row-major, so each product
// is written transposed: a row-major R×C matrix with row stride ld is a
// column-major C×R matrix with leading dimension ld. Per image, a conv
// is Y (Cout×P) = W (Cout×K) · col (K×P), where K = Cin·KH·KW, P = OH·OW
// and col is the im2col matrix (the input itself for a 1×1 stride-1
// conv); column-major that is Yᵀ (P×Cout) = colᵀ (P×K) · Wᵀ (K×Cout), one
// strided-batched GEMM over the images with W repeated (stride 0).

func (o *op) convForward(e *executable) error {
	n, x, y := e.n, o.ins[0], o.out
	in := x.s
	K, P, cout := in.C*o.geo.kh*o.geo.kw, o.geo.oh*o.geo.ow, y.s.C
	a, sa, err := o.operand(e)
	if err != nil {
		return err
	}
	// A folded add's conv adds its product onto what y holds (Beta 1).
	err = e.dev.Gemm(gemm{M: P, N: cout, K: K, Alpha: 1,
		A: a, LDA: P, StrideA: sa,
		B: e.param(o.params[0]), LDB: K,
		Beta: float32(b2int(o.accumulate)), C: y.p, LDC: P, StrideC: int64(y.stride), Batch: n})
	if err != nil || len(o.params) < 2 {
		return err
	}
	return e.launch(e.k.biasAdd, n*y.elems(), argInt(n), argInt(cout), argInt(P), argPtr(e.param(o.params[1])), argPtr(y.p), argInt(y.stride))
}

// operand prepares the conv's GEMM operand, the batch's K×P matrices,
// and returns it and the stride between images: the input itself for a
// 1×1 stride-1 conv, its rectified copy when a ReLU is fused in, else the
// im2col matrices (which apply a fused ReLU as they gather).
func (o *op) operand(e *executable) (dptr, int64, error) {
	n, x := e.n, o.ins[0]
	in := x.s
	switch {
	case o.direct() && !o.reluIn:
		return x.p, int64(x.stride), nil
	case o.direct():
		err := e.launch(e.k.relu, n*in.Elems(), argInt(n), argInt(in.Elems()), argPtr(x.p), argInt(x.stride), argPtr(e.work), argInt(in.Elems()))
		return e.work, int64(in.Elems()), err
	}
	args := append([]uint64{argInt(n), argInt(in.C)}, o.geo.args(true)...)
	args = append(args, argPtr(x.p), argInt(x.stride), argInt(b2int(o.reluIn)), argPtr(e.work))
	K, P := in.C*o.geo.kh*o.geo.kw, o.geo.oh*o.geo.ow
	return e.work, int64(K * P), e.launch(e.k.im2col, n*K*P, args...)
}

// convBackward: the weight gradient per image, dWᵀ (K×Cout) = col (K×P
// as the transpose of the column-major P×K) · dYᵀ (P×Cout), into
// partials summed in image order (deterministic, unlike atomics); then
// the input gradient dcolᵀ (P×K) = dYᵀ (P×Cout) · W (Cout×K), scattered
// back by col2im, or for a 1×1 stride-1 conv written straight into dx
// (through scratch and the ReLU's mask when one is fused in).
func (o *op) convBackward(e *executable) error {
	n, x, dy, dx := e.n, o.ins[0], o.dout, o.dins[0]
	in := x.s
	K, P, cout := in.C*o.geo.kh*o.geo.kw, o.geo.oh*o.geo.ow, o.out.s.C
	col, sCol, err := o.operand(e)
	if err != nil {
		return err
	}
	partOff, dxOff, _ := o.workLayout(e.batch)
	part := e.work.add(partOff)
	err = e.dev.Gemm(gemm{TransA: true, M: K, N: cout, K: P, Alpha: 1,
		A: col, LDA: P, StrideA: sCol,
		B: dy.p, LDB: P, StrideB: int64(dy.stride),
		C: part, LDC: K, StrideC: int64(K * cout), Batch: n})
	if err != nil {
		return err
	}
	if err := e.launch(e.k.sumRowsAdd, K*cout, argInt(n), argInt(K*cout), argPtr(part), argPtr(e.grad(o.params[0]))); err != nil {
		return err
	}
	if len(o.params) > 1 {
		if err := e.reduce(e.k.chanSumAdd, cout, argInt(n), argInt(cout), argInt(P), argPtr(dy.p), argInt(dy.stride), argPtr(e.grad(o.params[1]))); err != nil {
			return err
		}
	}
	if dx.p == 0 {
		return nil
	}
	acc := b2int(o.acc[0])
	if o.direct() && !o.reluIn {
		return e.dev.Gemm(gemm{TransB: true, M: P, N: K, K: cout, Alpha: 1,
			A: dy.p, LDA: P, StrideA: int64(dy.stride),
			B: e.param(o.params[0]), LDB: K,
			Beta: float32(acc), C: dx.p, LDC: P, StrideC: int64(dx.stride), Batch: n})
	}
	// The input gradient of the product goes to scratch first: the
	// im2col matrices (col2im scatters them back), or for a 1×1 conv the
	// space after the partials, masked into dx by the fused ReLU.
	dcol, sdcol := col, int64(K*P)
	if o.direct() {
		dcol, sdcol = e.work.add(dxOff), int64(in.Elems())
	}
	err = e.dev.Gemm(gemm{TransB: true, M: P, N: K, K: cout, Alpha: 1,
		A: dy.p, LDA: P, StrideA: int64(dy.stride),
		B: e.param(o.params[0]), LDB: K,
		C: dcol, LDC: P, StrideC: sdcol, Batch: n})
	if err != nil {
		return err
	}
	if o.direct() {
		// ew_relu_grad masks by its first operand > 0: x > 0 is where
		// the ReLU passed its input.
		return e.launch(e.k.reluGrad, n*in.Elems(), argInt(n), argInt(in.Elems()), argPtr(x.p), argInt(x.stride), argPtr(dcol), argInt(in.Elems()), argPtr(dx.p), argInt(dx.stride), argInt(acc))
	}
	args := append([]uint64{argInt(n), argInt(in.C)}, o.geo.args(true)...)
	args = append(args, argPtr(col), argPtr(x.p), argInt(x.stride), argInt(b2int(o.reluIn)), argPtr(dx.p), argInt(dx.stride), argInt(acc))
	return e.launch(e.k.col2im, n*in.Elems(), args...)
}

// A dense layer over the batch: Y (n×out) = X (n×in) · Wᵀ, W being
// out×in; column-major Yᵀ (out×n) = W (out×in, the transpose of the
// column-major in×out) · Xᵀ (in×n).
func (o *op) denseForward(e *executable) error {
	n, x, y := e.n, o.ins[0], o.out
	in, out := x.elems(), y.elems()
	err := e.dev.Gemm(gemm{TransA: true, M: out, N: n, K: in, Alpha: 1,
		A: e.param(o.params[0]), LDA: in,
		B: x.p, LDB: x.stride,
		C: y.p, LDC: y.stride, Batch: 1})
	if err != nil {
		return err
	}
	return e.launch(e.k.biasAdd, n*out, argInt(n), argInt(out), argInt(1), argPtr(e.param(o.params[1])), argPtr(y.p), argInt(y.stride))
}

// denseBackward: dXᵀ (in×n) = Wᵀ (in×out) · dYᵀ (out×n); dWᵀ (in×out)
// += Xᵀ (in×n) · dY (n×out); db += the column sums of dY.
func (o *op) denseBackward(e *executable) error {
	n, x, dy, dx := e.n, o.ins[0], o.dout, o.dins[0]
	in, out := x.elems(), dy.elems()
	err := e.dev.Gemm(gemm{TransB: true, M: in, N: out, K: n, Alpha: 1,
		A: x.p, LDA: x.stride,
		B: dy.p, LDB: dy.stride,
		Beta: 1, C: e.grad(o.params[0]), LDC: in, Batch: 1})
	if err != nil {
		return err
	}
	if err := e.reduce(e.k.chanSumAdd, out, argInt(n), argInt(out), argInt(1), argPtr(dy.p), argInt(dy.stride), argPtr(e.grad(o.params[1]))); err != nil {
		return err
	}
	if dx.p == 0 {
		return nil
	}
	beta := float32(0)
	if o.acc[0] {
		beta = 1
	}
	return e.dev.Gemm(gemm{M: in, N: n, K: out, Alpha: 1,
		A: e.param(o.params[0]), LDA: in,
		B: dy.p, LDB: dy.stride,
		Beta: beta, C: dx.p, LDC: dx.stride, Batch: 1})
}
