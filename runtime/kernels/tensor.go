// Package kernels holds the CPU compute kernels of cellc's runtime:
// forward and backward for every operation a plan can contain, on float32
// NCHW data. Kernels are plain functions over Tensors; they allocate
// nothing in steady state (scratch space is passed in) and parallelise
// over images or channels with goroutines where the work is large enough.
package kernels

// Shape is a per-image shape: channels, height, width (NCHW, batch outermost).
type Shape struct{ C, H, W int }

// Elems is C*H*W.
func (s Shape) Elems() int { return s.C * s.H * s.W }

// Tensor is a batch of N images inside a flat buffer. Image n occupies
// Data[n*Stride+Off : n*Stride+Off+S.Elems()], laid out C, H, W. Stride
// can exceed S.Elems() when the tensor is a channel slice of a larger
// buffer (a concat's input writing into its slice).
type Tensor struct {
	Data   []float32
	Off    int
	Stride int
	N      int
	S      Shape
}

// Img returns image n's values.
func (t Tensor) Img(n int) []float32 {
	o := n*t.Stride + t.Off
	return t.Data[o : o+t.S.Elems()]
}

// Dense returns a tensor over data with the natural stride.
func Dense(data []float32, n int, s Shape) Tensor {
	return Tensor{Data: data, Stride: s.Elems(), N: n, S: s}
}

// SamePad returns TensorFlow's SAME padding for one spatial axis: the
// output size and the padding before (the rest goes after).
func SamePad(in, k, stride, dilation int) (out, before int) {
	eff := (k-1)*dilation + 1
	out = (in + stride - 1) / stride
	total := (out-1)*stride + eff - in
	if total < 0 {
		total = 0
	}
	return out, total / 2
}

// ValidOut is the output size of a VALID convolution or pool.
func ValidOut(in, k, stride, dilation int) int {
	return (in-((k-1)*dilation+1))/stride + 1
}
