package ir

import "fmt"

// Infer computes the output shape of an operation from its input shapes,
// or says why the inputs do not fit it.
func Infer(k Kind, a Attrs, in []Shape) (Shape, error) {
	if want := arity(k); want >= 0 && len(in) != want {
		return Shape{}, fmt.Errorf("%s takes %d input(s), got %d", k, want, len(in))
	}
	if k != Input && len(in) == 0 {
		return Shape{}, fmt.Errorf("%s needs at least one input", k)
	}
	switch k {
	case Input:
		return Shape{}, fmt.Errorf("input shapes are set, not inferred")
	case Conv, DWConv, AvgPool, MaxPool:
		x := in[0]
		h, err := spatial(x.H, a.KH, a.Stride, a.Dilation, a.Pad)
		if err != nil {
			return Shape{}, fmt.Errorf("%s %dx%d on %dx%d input: %v", k, a.KH, a.KW, x.H, x.W, err)
		}
		w, err := spatial(x.W, a.KW, a.Stride, a.Dilation, a.Pad)
		if err != nil {
			return Shape{}, fmt.Errorf("%s %dx%d on %dx%d input: %v", k, a.KH, a.KW, x.H, x.W, err)
		}
		c := x.C
		if k == Conv {
			c = a.Filters
		}
		return Shape{C: c, H: h, W: w}, nil
	case Zero:
		s := max(a.Stride, 1)
		return Shape{C: a.Filters, H: ceilDiv(in[0].H, s), W: ceilDiv(in[0].W, s)}, nil
	case Add:
		for _, s := range in[1:] {
			if s != in[0] {
				return Shape{}, fmt.Errorf("add of mismatched shapes %v and %v", in[0], s)
			}
		}
		return in[0], nil
	case Concat:
		out := in[0]
		for _, s := range in[1:] {
			if s.H != out.H || s.W != out.W {
				return Shape{}, fmt.Errorf("concat of mismatched spatial sizes %v and %v", in[0], s)
			}
			out.C += s.C
		}
		return out, nil
	case BatchNorm, ReLU, Shift, LayerNorm, InstNorm, DropPath, Dropout:
		return in[0], nil
	case GlobalAvg:
		return Shape{C: in[0].C, H: 1, W: 1}, nil
	case Dense:
		return Shape{C: a.Filters, H: 1, W: 1}, nil
	}
	return Shape{}, fmt.Errorf("unknown kind %q", k)
}

// InferChain runs Infer over a fused chain.
func InferChain(chain []ChainOp, in []Shape) (Shape, error) {
	for i, s := range chain {
		out, err := Infer(s.Kind, s.Attrs, in)
		if err != nil {
			return Shape{}, fmt.Errorf("step %d: %v", i, err)
		}
		in = []Shape{out}
	}
	return in[0], nil
}

// arity is the number of inputs a kind takes, or -1 for any number.
func arity(k Kind) int {
	switch k {
	case Input:
		return 0
	case Add, Concat, Fused:
		return -1
	}
	return 1
}

func spatial(n, k, stride, dilation int, pad Padding) (int, error) {
	stride, dilation = max(stride, 1), max(dilation, 1)
	if k < 1 {
		return 0, fmt.Errorf("kernel size %d", k)
	}
	if pad == Valid {
		eff := (k-1)*dilation + 1
		if n < eff {
			return 0, fmt.Errorf("input smaller than the kernel")
		}
		return (n-eff)/stride + 1, nil
	}
	return ceilDiv(n, stride), nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.H, s.W, s.C) }
