package kernels

import (
	"math"
	"math/rand/v2"
)

// Elementwise kernels and the small per-image reshaping ops (shift, global
// average pool) and the drop path / dropout masks. Unless a comment says
// otherwise, output slices are as long as the first input and may alias
// an input of the same length (every element is read before it is
// written).

// ReLUForward writes y = max(x, 0). y may alias x.
func ReLUForward(x, y []float32) {
	y = y[:len(x)]
	n := vecReLU(x, y)
	x, y = x[n:], y[n:]
	// Branch-free: activations are negative about half the time, so a
	// compare-and-branch mispredicts constantly. An arithmetic shift of
	// the sign bit gives an all-ones mask for negatives (and -0), which
	// clears them.
	for i, v := range x {
		b := math.Float32bits(v)
		y[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// positiveMask is all ones where v > 0, else 0 (also for -0, +0 and
// negative NaNs).
func positiveMask(v float32) uint32 {
	b := math.Float32bits(v)
	// b-1 underflows to a negative int32 only for +0; negatives have the
	// sign bit set already.
	return ^uint32(int32(b|(b-1)) >> 31)
}

// ReLUBackward writes (or adds) dx = dy where the forward output y is
// positive, 0 elsewhere (TF: the gradient at 0 is 0). dx may alias dy.
func ReLUBackward(y, dy, dx []float32, accumulate bool) {
	dy = dy[:len(y)]
	dx = dx[:len(y)]
	n := vecReLUGrad(y, dy, dx, accumulate)
	y, dy, dx = y[n:], dy[n:], dx[n:]
	if accumulate {
		for i, v := range y {
			dx[i] += math.Float32frombits(math.Float32bits(dy[i]) & positiveMask(v))
		}
		return
	}
	for i, v := range y {
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & positiveMask(v))
	}
}

// Add2 writes y = a + b.
func Add2(a, b, y []float32) {
	b = b[:len(a)]
	y = y[:len(a)]
	n := vecAdd(a, b, y)
	a, b, y = a[n:], b[n:], y[n:]
	for i, v := range a {
		y[i] = v + b[i]
	}
}

// elemBlock is AddN's stack-buffer length.
const elemBlock = 512

// AddN writes y = Σ xs[k] (all of y's length). y may alias any of xs.
// With no inputs y is zeroed.
func AddN(y []float32, xs [][]float32) {
	switch len(xs) {
	case 0:
		clear(y)
		return
	case 1:
		copy(y, xs[0][:len(y)])
		return
	case 2:
		Add2(xs[0][:len(y)], xs[1], y)
		return
	}
	var acc [elemBlock]float32
	for lo := 0; lo < len(y); lo += elemBlock {
		hi := min(lo+elemBlock, len(y))
		a := acc[:hi-lo]
		copy(a, xs[0][lo:hi])
		for _, x := range xs[1:] {
			x = x[lo:hi]
			for i := range a {
				a[i] += x[i]
			}
		}
		copy(y[lo:hi], a)
	}
}

// Copy writes y = x.
func Copy(x, y []float32) { copy(y[:len(x)], x) }

// Zero clears y.
func Zero(y []float32) { clear(y) }

// AddInto adds src to dst: dst += src.
func AddInto(dst, src []float32) {
	src = src[:len(dst)]
	n := vecAdd(dst, src, dst)
	dst, src = dst[n:], src[n:]
	for i := range dst {
		dst[i] += src[i]
	}
}

// Scale writes y = s*x. y may alias x. It is drop path's forward and
// backward (with the per-image scale of DropPathMask).
func Scale(x, y []float32, s float32) {
	y = y[:len(x)]
	if s == 1 && len(x) > 0 && &x[0] == &y[0] {
		return // drop path kept the image, in place
	}
	n := vecScale(x, y, s)
	x, y = x[n:], y[n:]
	for i, v := range x {
		y[i] = s * v
	}
}

// AddScaled adds s*src to dst: dst += s*src.
func AddScaled(dst, src []float32, s float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += s * src[i]
	}
}

// Mul writes y = x*mask (dropout's forward). y may alias x.
func Mul(x, mask, y []float32) {
	mask = mask[:len(x)]
	y = y[:len(x)]
	n := vecMul(x, mask, y)
	x, mask, y = x[n:], mask[n:], y[n:]
	for i, v := range x {
		y[i] = v * mask[i]
	}
}

// Div writes y = x/d. y may alias x.
func Div(x, d, y []float32) {
	d = d[:len(x)]
	y = y[:len(x)]
	n := vecDiv(x, d, y)
	x, d, y = x[n:], d[n:], y[n:]
	for i, v := range x {
		y[i] = v / d[i]
	}
}

// MulBackward writes (or adds) dx = dy*mask (dropout's backward).
func MulBackward(dy, mask, dx []float32, accumulate bool) {
	mask = mask[:len(dy)]
	dx = dx[:len(dy)]
	if accumulate {
		for i, g := range dy {
			dx[i] += g * mask[i]
		}
		return
	}
	for i, g := range dy {
		dx[i] = g * mask[i]
	}
}

// ShiftForward is factorized reduction's second path before its pool:
// y[c,h,w] = x[c,h+1,w+1], zero in the last row and column (TF: pad
// bottom/right by one, crop [1:, 1:]). y must not alias x.
func ShiftForward(x []float32, s Shape, y []float32) {
	H, W := s.H, s.W
	hw := H * W
	for c := 0; c < s.C; c++ {
		xc := x[c*hw : c*hw+hw]
		yc := y[c*hw : c*hw+hw]
		for h := 0; h < H-1; h++ {
			copy(yc[h*W:h*W+W-1], xc[(h+1)*W+1:(h+1)*W+W])
			yc[h*W+W-1] = 0
		}
		if H > 0 {
			clear(yc[(H-1)*W : hw])
		}
	}
}

// ShiftBackward writes (or adds) ShiftForward's gradient:
// dx[c,h,w] = dy[c,h-1,w-1], zero in the first row and column.
// dx must not alias dy.
func ShiftBackward(dy []float32, s Shape, dx []float32, accumulate bool) {
	H, W := s.H, s.W
	hw := H * W
	for c := 0; c < s.C; c++ {
		dyc := dy[c*hw : c*hw+hw]
		dxc := dx[c*hw : c*hw+hw]
		if !accumulate && H > 0 {
			clear(dxc[:W])
		}
		for h := 1; h < H; h++ {
			src := dyc[(h-1)*W : (h-1)*W+W-1]
			dst := dxc[h*W+1 : h*W+W]
			if accumulate {
				AddInto(dst, src)
			} else {
				dxc[h*W] = 0
				copy(dst, src)
			}
		}
	}
}

// GAPForward writes the mean over (H, W) of each channel of x into y
// (len C).
func GAPForward(x []float32, s Shape, y []float32) {
	hw := s.H * s.W
	for c := 0; c < s.C; c++ {
		y[c] = float32(normSum64(x[c*hw:c*hw+hw]) / float64(hw))
	}
}

// GAPBackward writes (or adds) dx[c,h,w] = dy[c]/(H*W).
func GAPBackward(dy []float32, s Shape, dx []float32, accumulate bool) {
	hw := s.H * s.W
	inv := 1 / float32(hw)
	for c := 0; c < s.C; c++ {
		g := dy[c] * inv
		d := dx[c*hw : c*hw+hw]
		if accumulate {
			for i := range d {
				d[i] += g
			}
			continue
		}
		for i := range d {
			d[i] = g
		}
	}
}

// DropPathMask is one image's drop path scale, floor(keep+u)/keep for u
// uniform in [0, 1) (TF-slim drop_path): 1/keep with probability keep,
// else 0. The executor applies it with Scale. keep must be in (0, 1].
func DropPathMask(keep, u float32) float32 {
	// The sum is exact in float64, and the clamp keeps a u rounded up to
	// 1 (float32 of a float64 just below 1) from giving 2/keep.
	b := math.Floor(float64(keep) + float64(u))
	if b > 1 {
		b = 1
	}
	return float32(b) / keep
}

// DropoutMask fills mask with independent DropPathMask values: 1/keep
// with probability keep, else 0 (TF dropout). keep must be in (0, 1];
// with keep = 1 the mask is all ones and r is not used.
func DropoutMask(mask []float32, keep float32, r *rand.Rand) {
	if keep >= 1 {
		for i := range mask {
			mask[i] = 1
		}
		return
	}
	for i := range mask {
		mask[i] = DropPathMask(keep, r.Float32())
	}
}
