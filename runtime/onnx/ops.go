package onnx

import (
	"fmt"
	"math"

	"cellc/compiler/ir"
)

// op emits the nodes of one op of a step's chain on inputs ins and
// returns the name of its output value (whose shape the caller records).
func (b *builder) op(op ir.ChainOp, scope string, ins []string, ids []int) (string, error) {
	if op.Kind != ir.Add && op.Kind != ir.Concat && len(ins) != 1 {
		return "", fmt.Errorf("%d inputs, want 1", len(ins))
	}
	a := op.Attrs
	out := b.unique(scope)
	in := b.shapes[ins[0]]
	emit := func(t string, ins []string, attrs ...attributeProto) (string, error) {
		b.node(t, out, ins, []string{out}, attrs...)
		return out, nil
	}
	// withParams is ins[0] followed by the op's n parameters.
	withParams := func(n int) ([]string, error) {
		if len(ids) != n {
			return nil, fmt.Errorf("%d parameters, want %d", len(ids), n)
		}
		names := []string{ins[0]}
		for _, id := range ids {
			name, err := b.param(id, nil)
			if err != nil {
				return nil, err
			}
			names = append(names, name)
		}
		return names, nil
	}
	switch op.Kind {
	case ir.Conv, ir.DWConv:
		n := 1
		if a.Folded {
			n = 2 // the folded batch norm's offset is the conv's bias
		}
		x, err := withParams(n)
		if err != nil {
			return "", err
		}
		group := int64(1)
		if op.Kind == ir.DWConv {
			group = int64(in.C)
		}
		s, d := int64(max(a.Stride, 1)), int64(max(a.Dilation, 1))
		return emit("Conv", x,
			intsAttr("kernel_shape", int64(a.KH), int64(a.KW)),
			intsAttr("strides", s, s),
			intsAttr("dilations", d, d),
			intsAttr("pads", pads(in, a)...),
			intAttr("group", group))
	case ir.BatchNorm:
		x, err := withParams(4) // gamma, beta, moving mean, moving variance
		if err != nil {
			return "", err
		}
		return emit("BatchNormalization", x, floatAttr("epsilon", b.opts.Epsilon))
	case ir.InstNorm:
		x, err := withParams(2)
		if err != nil {
			return "", err
		}
		return emit("InstanceNormalization", x, floatAttr("epsilon", b.opts.Epsilon))
	case ir.LayerNorm:
		return b.layerNorm(out, ins[0], in, ids)
	case ir.ReLU:
		return emit("Relu", ins)
	case ir.AvgPool:
		s := int64(max(a.Stride, 1))
		return emit("AveragePool", ins,
			intsAttr("kernel_shape", int64(a.KH), int64(a.KW)),
			intsAttr("strides", s, s),
			intsAttr("pads", pads(in, a)...),
			intAttr("count_include_pad", 0))
	case ir.MaxPool:
		s := int64(max(a.Stride, 1))
		return emit("MaxPool", ins,
			intsAttr("kernel_shape", int64(a.KH), int64(a.KW)),
			intsAttr("strides", s, s),
			intsAttr("pads", pads(in, a)...))
	case ir.Add:
		switch len(ins) {
		case 1:
			return emit("Identity", ins)
		case 2:
			return emit("Add", ins)
		}
		return emit("Sum", ins)
	case ir.Concat:
		if len(ins) == 1 {
			return emit("Identity", ins)
		}
		return emit("Concat", ins, intAttr("axis", 1))
	case ir.Shift:
		// x[:, :, 1:, 1:], then a zero row and column at the bottom and
		// right: Slice then Pad (see the package comment).
		cut := b.unique(scope + "/slice")
		b.slice(cut, ins[0], []int64{1, 1}, []int64{math.MaxInt64, math.MaxInt64}, []int64{2, 3})
		b.value(cut, ir.Shape{C: in.C, H: in.H - 1, W: in.W - 1})
		padding := b.sharedInt64("const/shift_pads", 0, 0, 0, 0, 0, 0, 1, 1)
		return emit("Pad", []string{cut, padding})
	case ir.Zero:
		return b.zeros(out, ins[0], op.Shape)
	case ir.GlobalAvg:
		return emit("GlobalAveragePool", ins)
	case ir.Dense:
		x, err := withParams(2)
		if err != nil {
			return "", err
		}
		if !b.flat[x[0]] {
			flat := b.unique(scope + "/flatten")
			b.node("Flatten", flat, []string{x[0]}, []string{flat}, intAttr("axis", 1))
			b.flat[flat] = true
			b.value(flat, in)
			x[0] = flat
		}
		b.flat[out] = true
		return emit("Gemm", x, intAttr("transB", 1))
	case ir.DropPath, ir.Dropout:
		return "", fmt.Errorf("%s is a training-only op; inference plans have none", op.Kind)
	}
	return "", fmt.Errorf("no ONNX form for %s", op.Kind)
}

// layerNorm normalises each image over C, H and W with per-channel scale
// and offset. ONNX's LayerNormalization wants a scale of the normalised
// shape [C, H, W], so it is written out in primitives instead:
// (x − mean) / sqrt(var + eps) · gamma[C,1,1] + beta[C,1,1].
func (b *builder) layerNorm(out, x string, in ir.Shape, ids []int) (string, error) {
	if len(ids) != 2 {
		return "", fmt.Errorf("%d parameters, want 2", len(ids))
	}
	c := int64(in.C)
	gamma, err := b.param(ids[0], []int64{c, 1, 1})
	if err != nil {
		return "", err
	}
	beta, err := b.param(ids[1], []int64{c, 1, 1})
	if err != nil {
		return "", err
	}
	scalar := ir.Shape{C: 1, H: 1, W: 1}
	step := func(t, suffix string, s ir.Shape, ins []string, attrs ...attributeProto) string {
		v := b.unique(out + "/" + suffix)
		b.node(t, v, ins, []string{v}, attrs...)
		b.value(v, s)
		return v
	}
	axes, keep := intsAttr("axes", 1, 2, 3), intAttr("keepdims", 1)
	mean := step("ReduceMean", "mean", scalar, []string{x}, axes, keep)
	dev := step("Sub", "dev", in, []string{x, mean})
	sq := step("Mul", "sq", in, []string{dev, dev})
	variance := step("ReduceMean", "var", scalar, []string{sq}, axes, keep)
	eps := b.constFloat(out+"/eps", b.opts.Epsilon)
	std := step("Sqrt", "std", scalar, []string{step("Add", "var_eps", scalar, []string{variance, eps})})
	xhat := step("Div", "xhat", in, []string{dev, std})
	scaled := step("Mul", "scaled", in, []string{xhat, gamma})
	b.node("Add", out, []string{scaled, beta}, []string{out})
	return out, nil
}

// zeros makes zeros of shape [batch, s.C, s.H, s.W], the batch taken
// from x at run time.
func (b *builder) zeros(out, x string, s ir.Shape) (string, error) {
	batch := b.unique(out + "/batch")
	b.node("Shape", batch, []string{x}, []string{batch}, intAttr("start", 0), intAttr("end", 1))
	rest := b.constInt64(out+"/chw", int64(s.C), int64(s.H), int64(s.W))
	shape := b.unique(out + "/shape")
	b.node("Concat", shape, []string{batch, rest}, []string{shape}, intAttr("axis", 0))
	zero := floatTensor("", []int64{1}, []float32{0})
	b.node("ConstantOfShape", out, []string{shape}, []string{out}, attributeProto{name: "value", typ: attrTensor, t: &zero})
	return out, nil
}

// slice emits Slice(x, starts, ends, axes) as out.
func (b *builder) slice(out, x string, starts, ends, axes []int64) {
	st := b.constInt64(out+"/starts", starts...)
	en := b.constInt64(out+"/ends", ends...)
	ax := b.constInt64(out+"/axes", axes...)
	b.node("Slice", out, []string{x, st, en, ax}, []string{out})
}

// pads is TF's SAME padding (or none for VALID) as ONNX pads
// [top, left, bottom, right]: the total a window needs, the extra pixel
// after.
func pads(in ir.Shape, a ir.Attrs) []int64 {
	if a.Pad == ir.Valid {
		return []int64{0, 0, 0, 0}
	}
	s, d := max(a.Stride, 1), max(a.Dilation, 1)
	t, bot := samePads(in.H, a.KH, s, d)
	l, r := samePads(in.W, a.KW, s, d)
	return []int64{t, l, bot, r}
}

// samePads splits SAME padding of one axis as TensorFlow does.
func samePads(n, k, stride, dilation int) (before, after int64) {
	out := (n + stride - 1) / stride
	total := max((out-1)*stride+(k-1)*dilation+1-n, 0)
	return int64(total / 2), int64(total - total/2)
}

func intAttr(name string, v int64) attributeProto {
	return attributeProto{name: name, typ: attrInt, i: v}
}

func intsAttr(name string, v ...int64) attributeProto {
	return attributeProto{name: name, typ: attrInts, ints: v}
}

func floatAttr(name string, v float32) attributeProto {
	return attributeProto{name: name, typ: attrFloat, f: v}
}
