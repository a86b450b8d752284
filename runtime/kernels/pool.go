package kernels

import "math"

// Pool is a 2-D average or max pool over each channel of one image.
//
// Semantics follow TensorFlow: SAME padding is split as SamePad does (the
// extra pixel goes after), padded positions never take part (an average
// divides by the number of real pixels in the window, a max ignores them),
// and max pool's gradient goes to the first maximum of the window in
// row-major order. Stride must be at least 1.
type Pool struct {
	Max    bool
	KH, KW int
	Stride int
	Same   bool
	// Vec caps the vector instructions of the stride-1 average pools'
	// box sums (the depthwise tap loops), of the max pools' forward
	// column and row maxima (vecPoolColMax, vecPoolRowMax) and of the
	// strided average pools' forward column sums (vecPoolColSum); the
	// zero value uses the widest the CPU runs.
	Vec Vec
}

// geometry returns the output size and the padding before each axis.
func (p Pool) geometry(in Shape) (oh, ow, padT, padL int) {
	if p.Same {
		oh, padT = SamePad(in.H, p.KH, p.Stride, 1)
		ow, padL = SamePad(in.W, p.KW, p.Stride, 1)
		return oh, ow, padT, padL
	}
	return ValidOut(in.H, p.KH, p.Stride, 1), ValidOut(in.W, p.KW, p.Stride, 1), 0, 0
}

// Out is the per-image output shape for input shape in.
func (p Pool) Out(in Shape) Shape {
	oh, ow, _, _ := p.geometry(in)
	return Shape{C: in.C, H: oh, W: ow}
}

// poolSpan clips output position o's window to the input: [lo, hi).
// Under SAME or VALID padding the clipped window is never empty.
func poolSpan(o, stride, pad, k, n int) (lo, hi int) {
	lo = o*stride - pad
	hi = lo + k
	if lo < 0 {
		lo = 0
	}
	if hi > n {
		hi = n
	}
	return lo, hi
}

// poolMaxW is the widest input row the fast paths handle; their per-row
// buffers live on the stack. Wider inputs take the direct path.
const poolMaxW = 512

// poolMaxH is the tallest input the max backward's packed candidates
// (16 bits of row) handle.
const poolMaxH = 1 << 16

// poolKey maps a float32 to an int32 with the same order, so max can run
// on integers (which Go compiles to conditional moves). -0 becomes +0
// first, so the two zeros stay equal. A NaN sorts above +Inf (so a max
// propagates it) when its sign bit is clear, below -Inf when set.
func poolKey(v float32) int32 {
	b := int32(math.Float32bits(v + 0))
	return b ^ ((b >> 31) & 0x7fffffff)
}

// poolUnkey inverts poolKey.
func poolUnkey(k int32) float32 {
	return math.Float32frombits(uint32(k ^ ((k >> 31) & 0x7fffffff)))
}

// poolPack packs a max pool candidate: its key above 32 bits, then the
// complements of its row and column, so a larger pack is a larger value,
// or an equal value earlier in row-major order. h < poolMaxH, w < 1<<16.
func poolPack(v float32, h, w int) int64 {
	return int64(poolKey(v))<<32 | int64(0xffff-h)<<16 | int64(0xffff-w)
}

// poolUnpack returns the offset h*W+w of a packed candidate.
func poolUnpack(p int64, W int) int {
	h := 0xffff - int(p>>16&0xffff)
	w := 0xffff - int(p&0xffff)
	return h*W + w
}

// PoolForward pools one image x of shape in into y (shape p.Out(in)),
// using scratch (p.ScratchLen(in) floats).
func PoolForward(p Pool, x []float32, in Shape, y, scratch []float32) {
	oh, ow, pt, pl := p.geometry(in)
	if oh <= 0 || ow <= 0 {
		return
	}
	if p.avgPlane() {
		avgPlaneForward(p, x, in, y, scratch)
		return
	}
	H, W := in.H, in.W
	hw, ohw := H*W, oh*ow
	if W > poolMaxW {
		poolForwardDirect(p, x, in, y, oh, ow, pt, pl)
		return
	}
	// Reduce the window's rows into a column buffer, then each output
	// over its columns: (KH-1)*W + (KW-1)*OW operations per output row
	// instead of KH*KW*OW. Max works on poolKey values, whose integer max
	// compiles without branches.
	var buf [poolMaxW]float32
	var kbuf [poolMaxW]int32
	col, kcol := buf[:W], kbuf[:W]
	vec := loopVec(p.Vec)
	for c := 0; c < in.C; c++ {
		xc := x[c*hw : c*hw+hw]
		yc := y[c*ohw : c*ohw+ohw]
		for i := 0; i < oh; i++ {
			h0, h1 := poolSpan(i, p.Stride, pt, p.KH, H)
			yr := yc[i*ow : i*ow+ow]
			if p.Max {
				// The vector loops take a prefix of the columns, then of
				// the outputs whose window lies inside the row (stride
				// 1, and 2 on AVX-512); plain Go does the rest. All work on the same keys,
				// so every path gives the same bits.
				n := vecPoolColMax(vec, kcol, xc[h0*W:h1*W], h1-h0, W)
				kc := kcol[n:W]
				for w, v := range xc[h0*W+n : h0*W+W] {
					kc[w] = poolKey(v)
				}
				for h := h0 + 1; h < h1; h++ {
					row := xc[h*W+n : h*W+W]
					kc := kc[:len(row)]
					for w, v := range row {
						kc[w] = max(kc[w], poolKey(v))
					}
				}
				j0, j1 := ow, ow // the outputs the vector loop did
				if st := p.Stride; vec != VecGo && st <= 2 {
					// Output j's window starts at st*j-pl: whole for
					// pl <= st*j <= W-KW+pl.
					j0 = min((pl+st-1)/st, ow)
					j1 = j0
					if e := W - p.KW + pl; e >= 0 {
						j1 = max(min(e/st+1, ow), j0)
					}
					if j0 < j1 {
						j1 = j0 + vecPoolRowMax(vec, st, yr[j0:j1], kcol[j0*st-pl:], p.KW)
					}
				}
				poolMaxOuts(yr, kcol, 0, j0, p.Stride, pl, p.KW, W)
				poolMaxOuts(yr, kcol, j1, ow, p.Stride, pl, p.KW, W)
				continue
			}
			n := vecPoolColSum(vec, col, xc[h0*W:h1*W], h1-h0, W)
			cl := col[n:W]
			copy(cl, xc[h0*W+n:h0*W+W])
			for h := h0 + 1; h < h1; h++ {
				row := xc[h*W+n : h*W+W]
				cl := cl[:len(row)]
				for w, v := range row {
					cl[w] += v
				}
			}
			rows := h1 - h0
			for j := range yr {
				w0, w1 := poolSpan(j, p.Stride, pl, p.KW, W)
				var s float32
				for _, v := range col[w0:w1] {
					s += v
				}
				yr[j] = s / float32(rows*(w1-w0))
			}
		}
	}
}

// poolMaxOuts sets the max pool's outputs yr[j0:j1] from the column
// maxima kcol (poolKey values).
func poolMaxOuts(yr []float32, kcol []int32, j0, j1, stride, pl, kw, w int) {
	for j := j0; j < j1; j++ {
		w0, w1 := poolSpan(j, stride, pl, kw, w)
		m := kcol[w0]
		for _, v := range kcol[w0+1 : w1] {
			m = max(m, v)
		}
		yr[j] = poolUnkey(m)
	}
}

// poolForwardDirect is PoolForward window by window, for any width.
func poolForwardDirect(p Pool, x []float32, in Shape, y []float32, oh, ow, pt, pl int) {
	H, W := in.H, in.W
	hw, ohw := H*W, oh*ow
	for c := 0; c < in.C; c++ {
		xc := x[c*hw : c*hw+hw]
		yc := y[c*ohw : c*ohw+ohw]
		for i := 0; i < oh; i++ {
			h0, h1 := poolSpan(i, p.Stride, pt, p.KH, H)
			yr := yc[i*ow : i*ow+ow]
			for j := range yr {
				w0, w1 := poolSpan(j, p.Stride, pl, p.KW, W)
				if p.Max {
					m := poolKey(xc[h0*W+w0])
					for h := h0; h < h1; h++ {
						for _, v := range xc[h*W+w0 : h*W+w1] {
							m = max(m, poolKey(v))
						}
					}
					yr[j] = poolUnkey(m)
					continue
				}
				var s float32
				for h := h0; h < h1; h++ {
					for _, v := range xc[h*W+w0 : h*W+w1] {
						s += v
					}
				}
				yr[j] = s / float32((h1-h0)*(w1-w0))
			}
		}
	}
}

// PoolBackward adds (accumulate) or writes the gradient of the pool with
// respect to x into dx, given the output gradient dy. y, the forward
// output, is accepted for symmetry with the other kernels but not read:
// max pool recomputes its argmax from x, so an in-place op that later
// rewrote y cannot misroute the gradient.
func PoolBackward(p Pool, x []float32, in Shape, y, dy, dx []float32, accumulate bool, scratch []float32) {
	_ = y
	H, W := in.H, in.W
	hw := H * W
	if !accumulate {
		clear(dx[:in.C*hw])
	}
	oh, ow, pt, pl := p.geometry(in)
	if oh <= 0 || ow <= 0 {
		return
	}
	if p.avgPlane() {
		avgPlaneBackward(p, in, dy, dx, true, scratch) // dx is clear already
		return
	}
	if W > poolMaxW || H > poolMaxH {
		poolBackwardDirect(p, x, in, dy, dx, oh, ow, pt, pl)
		return
	}
	ohw := oh * ow
	// Column buffers, as in PoolForward. Max: each candidate is packed
	// into one int64 that orders by value, then by earlier row, then by
	// earlier column, so the largest pack is the first maximum in
	// row-major order and a branch-free max finds it. Avg: each output
	// row's gradient is spread over columns, then added to its rows.
	var vbuf [poolMaxW]float32
	var pbuf [poolMaxW]int64
	col, pcol := vbuf[:W], pbuf[:W]
	for c := 0; c < in.C; c++ {
		xc := x[c*hw : c*hw+hw]
		dxc := dx[c*hw : c*hw+hw]
		dyc := dy[c*ohw : c*ohw+ohw]
		for i := 0; i < oh; i++ {
			h0, h1 := poolSpan(i, p.Stride, pt, p.KH, H)
			dyr := dyc[i*ow : i*ow+ow]
			if p.Max {
				for w, v := range xc[h0*W : h0*W+W] {
					pcol[w] = poolPack(v, h0, w)
				}
				for h := h0 + 1; h < h1; h++ {
					row := xc[h*W : h*W+W]
					for w, v := range row {
						pcol[w] = max(pcol[w], poolPack(v, h, w))
					}
				}
				for j, g := range dyr {
					w0, w1 := poolSpan(j, p.Stride, pl, p.KW, W)
					m := pcol[w0]
					for _, v := range pcol[w0+1 : w1] {
						m = max(m, v)
					}
					dxc[poolUnpack(m, W)] += g
				}
				continue
			}
			clear(col)
			rows := h1 - h0
			for j, g := range dyr {
				w0, w1 := poolSpan(j, p.Stride, pl, p.KW, W)
				g /= float32(rows * (w1 - w0))
				for w := w0; w < w1; w++ {
					col[w] += g
				}
			}
			for h := h0; h < h1; h++ {
				AddInto(dxc[h*W:h*W+W], col)
			}
		}
	}
}

// poolBackwardDirect is PoolBackward window by window, for any width; dx
// is already cleared unless accumulating.
func poolBackwardDirect(p Pool, x []float32, in Shape, dy, dx []float32, oh, ow, pt, pl int) {
	H, W := in.H, in.W
	hw, ohw := H*W, oh*ow
	for c := 0; c < in.C; c++ {
		xc := x[c*hw : c*hw+hw]
		dxc := dx[c*hw : c*hw+hw]
		dyc := dy[c*ohw : c*ohw+ohw]
		for i := 0; i < oh; i++ {
			h0, h1 := poolSpan(i, p.Stride, pt, p.KH, H)
			dyr := dyc[i*ow : i*ow+ow]
			for j, g := range dyr {
				w0, w1 := poolSpan(j, p.Stride, pl, p.KW, W)
				if p.Max {
					arg := h0*W + w0
					m := poolKey(xc[arg])
					for h := h0; h < h1; h++ {
						row := h * W
						for w := w0; w < w1; w++ {
							if k := poolKey(xc[row+w]); k > m {
								m, arg = k, row+w
							}
						}
					}
					dxc[arg] += g
					continue
				}
				g /= float32((h1 - h0) * (w1 - w0))
				for h := h0; h < h1; h++ {
					r := dxc[h*W+w0 : h*W+w1]
					for k := range r {
						r[k] += g
					}
				}
			}
		}
	}
}
