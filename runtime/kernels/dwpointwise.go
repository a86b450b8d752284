package kernels

// DWPointwise is a depthwise conv and the 1×1 conv that reads its output
// (the two halves of a separable conv) run together on one image. Where
// the 1×1 conv runs on packed weights through the tile kernel, the
// depthwise conv writes its output straight into the 16-pixel strips
// that kernel multiplies (dwDest), which saves a pass over the output to
// unpad it and another to pack it.
type DWPointwise struct{ DW, PW Conv }

// PairActLen is the floats of the one-image buffer between the two
// convs, for a depthwise output of shape mid: the output itself or its
// strips, whichever is longer.
func PairActLen(mid Shape) int { return max(mid.Elems(), stripsLen(mid.C, mid.H*mid.W)) }

// strips reports whether the depthwise output goes into strips: the 1×1
// conv has stride 1, no fused ReLU and packed weights.
func (f DWPointwise) strips(mid Shape, pwPacked []float32) bool {
	return pwPacked != nil && f.PW.PackedLen(mid) > 0 && max(f.PW.Stride, 1) == 1 && !f.PW.ReLU
}

// Forward computes y = pw(dw(x) [+ dwBias]) [+ pwBias] for one image.
// pwPacked is nil or the 1×1 weights packed by PackWeights; act holds
// PairActLen(f.DW.Out(in)) floats and scratch the larger of the two
// convs' ScratchLen. Afterwards act holds the depthwise output, as C×H×W
// or in strips.
func (f DWPointwise) Forward(x []float32, in Shape, dwW, dwBias, pwW, pwPacked, pwBias, act, y, scratch []float32) {
	mid := f.DW.Out(in)
	if !f.strips(mid, pwPacked) {
		ConvForward(f.DW, x, in, dwW, dwBias, act[:mid.Elems()], scratch)
		ConvForwardPacked(f.PW, act, mid, pwW, pwPacked, pwBias, y, scratch)
		return
	}
	p := mid.H * mid.W
	if p == 0 || f.PW.Cout == 0 {
		return
	}
	f.DW.dwForward(f.DW.geom(in), in, x, dwW, dwBias, dwDest{y: act, strips: true}, scratch)
	args := tileArgs{vec: f.PW.tileVec(), bias: pwBias, accumulate: f.PW.Acc, packedA: pwPacked[:f.PW.PackedLen(mid)], packedB: act[:stripsLen(mid.C, p)]}
	tileGemm(false, f.PW.Cout, p, mid.C, pwW, mid.C, nil, p, y[:f.PW.Cout*p], p, args, f.PW.tilePack(mid, scratch))
}
