package kernels

// Conv describes a 2-D convolution with TensorFlow semantics; weights are
// OIHW [Cout, Cin, KH, KW], depthwise [C, 1, KH, KW].
//
// Stride applies to both spatial axes, as does Dilation (the gap between
// kernel taps; 1 is a plain convolution). A Stride or Dilation below 1 is
// taken as 1. Same selects SAME padding (SamePad: the output is
// ceil(in/stride) and the padding before is half the total, the rest going
// after); otherwise VALID (no padding). A depthwise convolution has one
// filter per channel (channel multiplier 1), so Cout is taken to be Cin.
//
// The kernels below are single-threaded, work on one image in NCHW layout
// (C*H*W floats, channel-major) and allocate nothing: whatever space they
// need beyond their arguments is the scratch slice, ScratchLen floats
// long. Their shape preconditions, which the compiler has checked before
// a plan runs, are: in.C == c.Cin; len(x) ≥ in.Elems(); w holds
// Cout*Cin*KH*KW floats (C*KH*KW for depthwise); bias and dbias, when not
// nil, hold Cout; y, dy and dx hold Out(in).Elems() or in.Elems() floats
// as their role says; len(scratch) ≥ ScratchLen(in). Slices that violate
// them are a caller bug (and make an index panic).
type Conv struct {
	KH, KW, Stride, Dilation int
	Same                     bool
	Cin, Cout                int
	Depthwise                bool
	// ReLU fuses a ReLU in front of the conv: it reads max(x, 0), and
	// ConvBackward's dx is the gradient with respect to x before the
	// ReLU. The executor uses it so that no ReLU output is ever stored:
	// the depthwise kernels apply it while copying their padded planes,
	// the others to a scratch copy of the image.
	ReLU bool
	// Acc adds a dense conv's output into y instead of overwriting it
	// (an add folded into the conv, plan.Launch.Accumulate); the forward
	// kernels of depthwise convs do not take it.
	Acc bool
	// Vec caps the vector instructions of the depthwise tap loops and of
	// the 1×1 products' tile kernel; the zero value uses the widest the
	// CPU runs. The packed weights (PackedLen, PackWeights) follow the
	// tile kernel's panels, so they must be packed with the same Vec.
	Vec Vec
}

// convGeom is a Conv resolved against an input shape.
type convGeom struct {
	vec          Vec // the tap loops' path: loopVec of the Conv's or Pool's Vec
	kh, kw, s, d int
	h, w         int // input height, width
	oh, ow       int // output height, width
	pt, pl       int // padding before (top, left)
}

func (c Conv) geom(in Shape) convGeom {
	g := convGeom{vec: loopVec(c.Vec), kh: c.KH, kw: c.KW, s: max(c.Stride, 1), d: max(c.Dilation, 1), h: in.H, w: in.W}
	if c.Same {
		g.oh, g.pt = SamePad(in.H, c.KH, g.s, g.d)
		g.ow, g.pl = SamePad(in.W, c.KW, g.s, g.d)
	} else {
		g.oh = validOut(in.H, c.KH, g.s, g.d)
		g.ow = validOut(in.W, c.KW, g.s, g.d)
	}
	return g
}

// validOut is ValidOut, but 0 whenever the dilated kernel is larger than
// the input (ValidOut's truncating division gives 1 when it is larger by
// less than the stride).
func validOut(in, k, s, d int) int {
	if in < (k-1)*d+1 {
		return 0
	}
	return ValidOut(in, k, s, d)
}

// pointwise reports whether the convolution is dense 1×1. Its padding is
// always zero (SAME pads a 1×1 kernel by nothing at any stride), so it
// reads input pixel (o*stride) for output pixel o.
func (c Conv) pointwise() bool { return !c.Depthwise && c.KH == 1 && c.KW == 1 }

// Out is the per-image output shape for input shape in.
func (c Conv) Out(in Shape) Shape {
	g := c.geom(in)
	oc := c.Cout
	if c.Depthwise {
		oc = in.C
	}
	return Shape{C: oc, H: g.oh, W: g.ow}
}

// ScratchLen is the number of floats of scratch one ConvForward or
// ConvBackward call needs: the im2col matrix [Cin*KH*KW, OH*OW] for a
// dense convolution, [Cin, OH*OW] for a strided 1×1 one, two padded
// channel planes for a stride-1 depthwise one (dwplane.go), the phase
// planes of one channel for a strided depthwise one (dwphase.go), and
// nothing for a stride-1 1×1 one.
//
// A fused ReLU adds one image (dense) or one channel plane (depthwise):
// the rectified input, then the gradient before the ReLU's mask. A 1×1
// conv whose input gradient runs through tileGemm adds its packing space.
func (c Conv) ScratchLen(in Shape) int {
	n := c.scratchLen(in)
	if c.ReLU {
		if c.Depthwise {
			n += in.H * in.W
		} else {
			n += in.Elems()
		}
	}
	if c.tileForward(in) || c.tileDX(in) || c.PackedLen(in) > 0 {
		n += max(tilePackLen(c.Cout, in.C), tilePackLen(in.C, c.Cout))
	}
	return n
}

// PackedLen is the floats of a 1×1 conv's weights packed for its forward
// product (PackWeights), or 0 when the conv takes no packed weights: only
// 1×1 convs with at least 16 output pixels on CPUs with the tile kernel.
//
// An executor whose weights stay the same for many images (every image
// of a batch, or every batch of an inference run) packs them once and
// passes them to ConvForwardPacked, which then runs the product through
// tileGemm with no packing of the weights at all, the bias added and a
// fused ReLU applied to the input as the pixels are packed. That is
// faster than OpenBLAS on every 1×1 shape of NASNet-A CIFAR but one
// (BenchmarkTileGemm: 82–93 against 60–80 GFLOP/s from 64 channels on,
// 66 against 47 for 32×32 by 32×1024; 69 against 72 for 32×192 by
// 192×1024, where the fused ReLU and bias still save two passes).
func (c Conv) PackedLen(in Shape) int {
	g := c.geom(in)
	if c.tileVec() == VecGo || !c.pointwise() || g.oh*g.ow < tileCols {
		return 0
	}
	return tilePackAllLen(c.tileVec(), c.Cout, in.C)
}

// tileVec is the tile kernel's path for this conv.
func (c Conv) tileVec() Vec { return tileVec(c.Vec) }

// PackWeights packs w (Cout×Cin) into packed, PackedLen(in) floats.
func (c Conv) PackWeights(in Shape, w, packed []float32) {
	tilePackAllA(c.tileVec(), false, c.Cout, in.C, w, in.C, packed[:c.PackedLen(in)])
}

// PackedTLen is the floats of a stride-1 1×1 conv's transposed weights
// packed for its input gradient wᵀ·dy (PackWeightsT, ConvBackwardPacked),
// or 0 when the conv takes none. Packed once per backward pass, they put
// that product on the tile kernel at every shape; packing them for each
// image had made it slower than OpenBLAS from 128 channels on (55 against
// 77 GFLOP/s).
func (c Conv) PackedTLen(in Shape) int {
	if c.PackedLen(in) == 0 || max(c.Stride, 1) != 1 {
		return 0
	}
	return tilePackAllLen(c.tileVec(), in.C, c.Cout)
}

// PackWeightsT packs wᵀ (Cin×Cout, w stored Cout×Cin) into packed,
// PackedTLen(in) floats.
func (c Conv) PackWeightsT(in Shape, w, packed []float32) {
	tilePackAllA(c.tileVec(), true, in.C, c.Cout, w, in.C, packed[:c.PackedTLen(in)])
}

// tilePack is the scratch tileGemm packs into: after the im2col area and
// the fused ReLU's image.
func (c Conv) tilePack(in Shape, scratch []float32) []float32 {
	n := c.scratchLen(in)
	if c.ReLU {
		n += in.Elems()
	}
	return scratch[n:]
}

// tileForward reports whether the forward product w·x of a stride-1 1×1
// conv runs through tileGemm (see useTileGemm), which adds the bias as it
// stores instead of filling the output with it first.
func (c Conv) tileForward(in Shape) bool {
	g := c.geom(in)
	return c.pointwise() && g.s == 1 && useTileGemm(c.tileVec(), c.Cout, g.oh*g.ow, in.C, false)
}

// tileDX reports whether the input gradient wᵀ·dy of a stride-1 1×1 conv
// runs through tileGemm, which also applies a fused ReLU's mask and the
// accumulation into dx as it stores.
func (c Conv) tileDX(in Shape) bool {
	g := c.geom(in)
	return c.pointwise() && g.s == 1 && useTileGemm(c.tileVec(), in.C, g.oh*g.ow, c.Cout, true)
}

// scratchLen is ScratchLen without the fused ReLU's share.
func (c Conv) scratchLen(in Shape) int {
	g := c.geom(in)
	if c.Depthwise {
		n := dwPlaneOf(g).scratch()
		if g.s != 1 {
			n = dwPhasesOf(g).scratch(g)
		}
		if dwLanesFits(g) {
			n = max(n, dwLanesScratch(g))
		}
		return n
	}
	if c.pointwise() && g.s == 1 {
		return 0
	}
	return in.C * c.KH * c.KW * g.oh * g.ow
}

// ConvForward computes one image's convolution y = w ⊛ x + bias. y is
// overwritten; bias may be nil. Dense convolutions run as one Sgemm of the
// weights [Cout, Cin*KH*KW] by the im2col matrix (by the image itself for
// a stride-1 1×1, by its subsampled pixels for a strided 1×1); depthwise
// ones as direct loops per channel.
func ConvForward(c Conv, x []float32, in Shape, w, bias []float32, y []float32, scratch []float32) {
	ConvForwardPacked(c, x, in, w, nil, bias, y, scratch)
}

// ConvForwardPacked is ConvForward with the weights also packed by
// PackWeights, or packed nil when the conv takes none (PackedLen 0).
func ConvForwardPacked(c Conv, x []float32, in Shape, w, packed, bias []float32, y []float32, scratch []float32) {
	g := c.geom(in)
	p := g.oh * g.ow
	if c.Depthwise {
		c.dwForward(g, in, x, w, bias, dwDest{y: y}, scratch)
		return
	}
	if packed != nil {
		// The pixels straight from x (stride 1) or subsampled first,
		// rectified as tileGemm packs them.
		b := x
		if g.s > 1 {
			b = scratch[:in.C*p]
			convSubsample(g, in.C, x, b)
		}
		tileGemm(false, c.Cout, p, in.C, w, in.C, b, p, y[:c.Cout*p], p, tileArgs{vec: c.tileVec(), bias: bias, accumulate: c.Acc, packedA: packed[:c.PackedLen(in)], reluB: c.ReLU}, c.tilePack(in, scratch))
		return
	}
	var pack []float32
	if c.tileForward(in) {
		pack = c.tilePack(in, scratch)
	}
	if c.ReLU {
		base := c.scratchLen(in)
		r := scratch[base : base+in.Elems()]
		ReLUForward(x[:in.Elems()], r)
		x, scratch = r, scratch[:base]
	}
	cout := c.Cout
	y = y[:cout*p]
	if p == 0 || cout == 0 {
		return
	}
	if pack != nil {
		tileGemm(false, cout, p, in.C, w, in.C, x, p, y, p, tileArgs{vec: c.tileVec(), bias: bias, accumulate: c.Acc}, pack)
		return
	}
	beta := float32(0)
	if c.Acc {
		beta = 1
	}
	if bias != nil {
		for o := range cout {
			if c.Acc {
				convAddConst(y[o*p:(o+1)*p], bias[o])
			} else {
				convFill(y[o*p:(o+1)*p], bias[o])
			}
		}
		beta = 1
	}
	k := in.C * g.kh * g.kw
	switch {
	case c.pointwise() && g.s == 1:
		Sgemm(false, false, cout, p, k, 1, w, max(k, 1), x, p, beta, y, p)
	case c.pointwise():
		col := scratch[:k*p]
		convSubsample(g, in.C, x, col)
		Sgemm(false, false, cout, p, k, 1, w, max(k, 1), col, p, beta, y, p)
	default:
		col := scratch[:k*p]
		convIm2col(g, in.C, x, col)
		Sgemm(false, false, cout, p, k, 1, w, max(k, 1), col, p, beta, y, p)
	}
}

// dwForward is the depthwise forward pass into y.
func (c Conv) dwForward(g convGeom, in Shape, x, w, bias []float32, y dwDest, scratch []float32) {
	if g.oh*g.ow == 0 {
		return
	}
	if g.s == 1 {
		convDWPlaneForward(g, in.C, x, w, bias, y, scratch, c.ReLU)
		return
	}
	if dwLanesForward(g, in.C, x, w, bias, y, scratch, c.ReLU) {
		return
	}
	convDWPhaseForward(g, in.C, x, w, bias, y, scratch, c.ReLU)
}

// ConvBackward computes one image's gradients given dy = ∂L/∂y. dw and
// dbias accumulate (+=), so that a caller can sum over images; dx is
// overwritten, or added to when accumulateDX (for an input read by more
// than one op). dx == nil skips the input gradient, dw == nil the weight
// gradient and dbias == nil the bias gradient.
func ConvBackward(c Conv, x []float32, in Shape, w, dy []float32, dx []float32, accumulateDX bool, dw, dbias []float32, scratch []float32) {
	ConvBackwardPacked(c, x, in, w, nil, dy, dx, accumulateDX, dw, dbias, scratch)
}

// ConvBackwardPacked is ConvBackward with the transposed weights also
// packed by PackWeightsT, or packedT nil when the conv takes none
// (PackedTLen 0).
func ConvBackwardPacked(c Conv, x []float32, in Shape, w, packedT, dy []float32, dx []float32, accumulateDX bool, dw, dbias []float32, scratch []float32) {
	if packedT != nil {
		packedT = packedT[:c.PackedTLen(in)]
	}
	g := c.geom(in)
	if c.Depthwise {
		if g.s == 1 {
			convDWPlaneBackward(g, in.C, x, w, dy, dx, accumulateDX, dw, dbias, scratch, c.ReLU)
			return
		}
		convDWPhaseBackward(g, in.C, x, w, dy, dx, accumulateDX, dw, dbias, scratch, c.ReLU)
		return
	}
	if c.ReLU {
		// The weight gradients read the rectified image; then the same
		// scratch takes the gradient at the ReLU's output, which the
		// ReLU's mask (x > 0) carries back to dx.
		inner := c
		inner.ReLU = false
		base := c.scratchLen(in)
		r := scratch[base : base+in.Elems()]
		x = x[:in.Elems()]
		switch {
		case dw == nil && dbias == nil:
		case dw == nil:
			// The bias gradient reads only dy (ConvWeightGrads took dw).
			ConvBackward(inner, x, in, w, dy, nil, false, nil, dbias, scratch[:base])
		case c.pointwise() && g.s == 1 && dw != nil && vecWeightGrad(c.Vec, c.Cout, in.C, in.H*in.W, 1, dy, 0, x, 0, true, dw):
			// dw += dy·max(x, 0)ᵀ, rectified as it is read; the bias
			// gradient reads only dy.
			if dbias != nil {
				ConvBackward(inner, x, in, w, dy, nil, false, nil, dbias, scratch[:base])
			}
		default:
			ReLUForward(x, r)
			ConvBackward(inner, r, in, w, dy, nil, false, dw, dbias, scratch[:base])
		}
		switch {
		case dx == nil:
		case packedT != nil || c.tileDX(in):
			// dx (+)= where(x > 0, wᵀ·dy, 0) in one pass.
			p := in.H * in.W
			tileGemm(true, in.C, p, c.Cout, w, in.C, dy, p, dx, p, tileArgs{vec: c.tileVec(), mask: x, ldm: p, accumulate: accumulateDX, packedA: packedT}, c.tilePack(in, scratch))
		default:
			ConvBackward(inner, x, in, w, dy, r, false, nil, nil, scratch[:base])
			ReLUBackward(x, r, dx, accumulateDX)
		}
		return
	}
	p := g.oh * g.ow
	cout := c.Cout
	k := in.C * g.kh * g.kw
	dy = dy[:cout*p]
	if dbias != nil {
		for o := range cout {
			dbias[o] += convSum(dy[o*p : (o+1)*p])
		}
	}
	dxBeta := float32(0)
	if accumulateDX {
		dxBeta = 1
	}
	if p == 0 || cout == 0 || k == 0 {
		if dx != nil && !accumulateDX {
			clear(dx[:in.Elems()])
		}
		return
	}
	if c.pointwise() && g.s == 1 {
		// dw += dy · xᵀ; dx = wᵀ · dy.
		if dw != nil && !vecWeightGrad(c.Vec, cout, k, p, 1, dy, 0, x, 0, false, dw) {
			Sgemm(false, true, cout, k, p, 1, dy, p, x, p, 1, dw, k)
		}
		switch {
		case dx == nil:
		case packedT != nil || c.tileDX(in):
			tileGemm(true, k, p, cout, w, k, dy, p, dx, p, tileArgs{vec: c.tileVec(), accumulate: accumulateDX, packedA: packedT}, c.tilePack(in, scratch))
		default:
			Sgemm(true, false, k, p, cout, 1, w, k, dy, p, dxBeta, dx, p)
		}
		return
	}
	col := scratch[:k*p]
	if dw != nil {
		if c.pointwise() {
			convSubsample(g, in.C, x, col)
		} else {
			convIm2col(g, in.C, x, col)
		}
		Sgemm(false, true, cout, k, p, 1, dy, p, col, p, 1, dw, k)
	}
	if dx == nil {
		return
	}
	// The column gradient wᵀ · dy reuses the im2col buffer, then scatters
	// back onto the image.
	Sgemm(true, false, k, p, cout, 1, w, k, dy, p, 0, col, p)
	dx = dx[:in.Elems()]
	if !accumulateDX {
		clear(dx)
	}
	if c.pointwise() {
		convUnsubsample(g, in.C, col, dx)
	} else {
		convCol2im(g, in.C, col, dx)
	}
}

// convRange returns the outputs o in [0, n) whose input index o*s+off
// lies in [0, in), as the half-open range [lo, hi) (lo == hi when empty).
func convRange(n, in, s, off int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if in-off > 0 {
		hi = (in - off + s - 1) / s
	}
	hi = min(hi, n)
	lo = min(lo, hi)
	return lo, hi
}

// convIm2col writes the [cin*KH*KW, OH*OW] matrix whose row (ci, kh, kw)
// holds, for each output pixel, the input that tap reads (0 in padding).
func convIm2col(g convGeom, cin int, x, col []float32) {
	p := g.oh * g.ow
	hw := g.h * g.w
	row := 0
	for ci := range cin {
		plane := x[ci*hw : (ci+1)*hw]
		for kh := range g.kh {
			offH := kh*g.d - g.pt
			ohLo, ohHi := convRange(g.oh, g.h, g.s, offH)
			for kw := range g.kw {
				offW := kw*g.d - g.pl
				owLo, owHi := convRange(g.ow, g.w, g.s, offW)
				dst := col[row*p : (row+1)*p]
				row++
				clear(dst[:ohLo*g.ow])
				clear(dst[ohHi*g.ow:])
				for oh := ohLo; oh < ohHi; oh++ {
					src := plane[(oh*g.s+offH)*g.w:][:g.w]
					d := dst[oh*g.ow : (oh+1)*g.ow]
					clear(d[:owLo])
					clear(d[owHi:])
					if owLo == owHi {
						continue
					}
					if g.s == 1 {
						copy(d[owLo:owHi], src[owLo+offW:owHi+offW])
						continue
					}
					d = d[owLo:owHi]
					src = src[owLo*g.s+offW:]
					for i := range d {
						d[i] = src[i*g.s]
					}
				}
			}
		}
	}
}

// convCol2im adds each entry of the [cin*KH*KW, OH*OW] column matrix col to
// the input pixel it was read from: the adjoint of im2col.
func convCol2im(g convGeom, cin int, col, dx []float32) {
	p := g.oh * g.ow
	hw := g.h * g.w
	row := 0
	for ci := range cin {
		plane := dx[ci*hw : (ci+1)*hw]
		for kh := range g.kh {
			offH := kh*g.d - g.pt
			ohLo, ohHi := convRange(g.oh, g.h, g.s, offH)
			for kw := range g.kw {
				offW := kw*g.d - g.pl
				owLo, owHi := convRange(g.ow, g.w, g.s, offW)
				src := col[row*p : (row+1)*p]
				row++
				if owLo == owHi {
					continue
				}
				for oh := ohLo; oh < ohHi; oh++ {
					d := plane[(oh*g.s+offH)*g.w:][:g.w]
					s := src[oh*g.ow+owLo : oh*g.ow+owHi]
					if g.s == 1 {
						convAxpy(1, s, d[owLo+offW:owHi+offW])
						continue
					}
					d = d[owLo*g.s+offW:]
					for i, v := range s {
						d[i*g.s] += v
					}
				}
			}
		}
	}
}

// convSubsample writes the [cin, OH*OW] matrix of the pixels a strided 1×1
// convolution reads: (oh*s, ow*s) of each channel.
func convSubsample(g convGeom, cin int, x, col []float32) {
	p := g.oh * g.ow
	hw := g.h * g.w
	for ci := range cin {
		plane := x[ci*hw : (ci+1)*hw]
		dst := col[ci*p : (ci+1)*p]
		for oh := range g.oh {
			src := plane[oh*g.s*g.w:]
			d := dst[oh*g.ow : (oh+1)*g.ow]
			for i := range d {
				d[i] = src[i*g.s]
			}
		}
	}
}

// convUnsubsample adds the [cin, OH*OW] matrix col onto the pixels convSubsample
// read them from.
func convUnsubsample(g convGeom, cin int, col, dx []float32) {
	p := g.oh * g.ow
	hw := g.h * g.w
	for ci := range cin {
		plane := dx[ci*hw : (ci+1)*hw]
		src := col[ci*p : (ci+1)*p]
		for oh := range g.oh {
			d := plane[oh*g.s*g.w:]
			s := src[oh*g.ow : (oh+1)*g.ow]
			for i, v := range s {
				d[i*g.s] += v
			}
		}
	}
}

// convDWFused adds Σ_t w[t]·x[i + t*d] to y[i] for up to five taps in
// one pass; x starts at the first tap's input for y[0] and holds every
// input read. It is the plain-Go form of fusedTaps.
func convDWFused(y, x, w []float32, d int) {
	n := len(y)
	x = x[:n+(len(w)-1)*d]
	switch len(w) {
	case 1:
		convAxpy(w[0], x, y)
	case 2:
		w0, w1 := w[0], w[1]
		x0, x1 := x[:n], x[d:d+n]
		for i := range y {
			y[i] += w0*x0[i] + w1*x1[i]
		}
	case 3:
		w0, w1, w2 := w[0], w[1], w[2]
		x0, x1, x2 := x[:n], x[d:d+n], x[2*d:2*d+n]
		for i := range y {
			y[i] += w0*x0[i] + w1*x1[i] + w2*x2[i]
		}
	case 4:
		w0, w1, w2, w3 := w[0], w[1], w[2], w[3]
		x0, x1, x2, x3 := x[:n], x[d:d+n], x[2*d:2*d+n], x[3*d:3*d+n]
		for i := range y {
			y[i] += (w0*x0[i] + w1*x1[i]) + (w2*x2[i] + w3*x3[i])
		}
	case 5:
		w0, w1, w2, w3, w4 := w[0], w[1], w[2], w[3], w[4]
		x0, x1, x2, x3, x4 := x[:n], x[d:d+n], x[2*d:2*d+n], x[3*d:3*d+n], x[4*d:4*d+n]
		for i := range y {
			y[i] += (w0*x0[i] + w1*x1[i]) + (w2*x2[i] + w3*x3[i]) + w4*x4[i]
		}
	}
}

// convDWFusedDW adds Σ_i dy[i]·x[i + t*d] to dw[t] for up to five taps
// in one pass; x is laid out as for convDWFused. It is the plain-Go form
// of fusedTapDots.
func convDWFusedDW(dy, x, dw []float32, d int) {
	n := len(dy)
	x = x[:n+(len(dw)-1)*d]
	// Separate scalar accumulators: Go keeps them in registers, not an
	// array.
	switch len(dw) {
	case 1:
		dw[0] += convDot(dy, x)
	case 2:
		var a0, a1 float32
		x0, x1 := x[:n], x[d:d+n]
		for i, v := range dy {
			a0 += v * x0[i]
			a1 += v * x1[i]
		}
		dw[0] += a0
		dw[1] += a1
	case 3:
		var a0, a1, a2 float32
		x0, x1, x2 := x[:n], x[d:d+n], x[2*d:2*d+n]
		for i, v := range dy {
			a0 += v * x0[i]
			a1 += v * x1[i]
			a2 += v * x2[i]
		}
		dw[0] += a0
		dw[1] += a1
		dw[2] += a2
	case 4:
		var a0, a1, a2, a3 float32
		x0, x1, x2, x3 := x[:n], x[d:d+n], x[2*d:2*d+n], x[3*d:3*d+n]
		for i, v := range dy {
			a0 += v * x0[i]
			a1 += v * x1[i]
			a2 += v * x2[i]
			a3 += v * x3[i]
		}
		dw[0] += a0
		dw[1] += a1
		dw[2] += a2
		dw[3] += a3
	case 5:
		var a0, a1, a2, a3, a4 float32
		x0, x1, x2, x3, x4 := x[:n], x[d:d+n], x[2*d:2*d+n], x[3*d:3*d+n], x[4*d:4*d+n]
		for i, v := range dy {
			a0 += v * x0[i]
			a1 += v * x1[i]
			a2 += v * x2[i]
			a3 += v * x3[i]
			a4 += v * x4[i]
		}
		dw[0] += a0
		dw[1] += a1
		dw[2] += a2
		dw[3] += a3
		dw[4] += a4
	}
}

// convAxpy adds a*x[i] to y[i] for i < len(y); x must be at least as long.
func convAxpy(a float32, x, y []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		ys := y[i : i+4 : i+4]
		xs := x[i : i+4 : i+4]
		ys[0] += a * xs[0]
		ys[1] += a * xs[1]
		ys[2] += a * xs[2]
		ys[3] += a * xs[3]
	}
	for ; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

// convDot is the sum of x[i]*y[i] for i < len(x); y must be at least as long.
func convDot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xs := x[i : i+4 : i+4]
		ys := y[i : i+4 : i+4]
		s0 += xs[0] * ys[0]
		s1 += xs[1] * ys[1]
		s2 += xs[2] * ys[2]
		s3 += xs[3] * ys[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// convSum is the sum of x's elements.
func convSum(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// convFill sets every element of x to v.
// convAddConst adds v to every element of x.
func convAddConst(x []float32, v float32) {
	for i := range x {
		x[i] += v
	}
}

func convFill(x []float32, v float32) {
	if v == 0 {
		clear(x)
		return
	}
	for i := range x {
		x[i] = v
	}
}
