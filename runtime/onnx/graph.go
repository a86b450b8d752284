package onnx

import (
	"fmt"
	"strings"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
)

// builder turns a plan's steps into ONNX nodes.
type builder struct {
	p       *plan.Plan
	weights func(int) []float32
	opts    Options
	g       graphProto

	// names holds every value and node name given out, so each is unique.
	names map[string]bool
	// shapes is each value's per-image shape; flat marks values that are
	// [batch, C] rather than [batch, C, H, W] (a Gemm's output).
	shapes map[string]ir.Shape
	flat   map[string]bool
	// order is the values in the order they were made, for value_info.
	order []string
	// consts maps a shared constant's name to its initializer's.
	consts map[string]string

	// regions says which value each buffer's elements hold now: the
	// plan reuses buffers, so a view names a value only at a point in
	// the schedule. concats are the Concat nodes already made from
	// several regions, valid until one of those regions is overwritten.
	regions, concats map[int][]region
}

// region is a value occupying part of a buffer: elements [off, off+elems)
// of each image's stride-long block.
type region struct {
	off, elems, stride int
	shape              ir.Shape
	name               string
}

func newBuilder(p *plan.Plan, weights func(int) []float32, opts Options) *builder {
	return &builder{
		p: p, weights: weights, opts: opts,
		g:       graphProto{name: p.Name, docString: opts.DocString},
		names:   map[string]bool{InputName: true, OutputName: true},
		shapes:  map[string]ir.Shape{},
		flat:    map[string]bool{},
		consts:  map[string]string{},
		regions: map[int][]region{},
		concats: map[int][]region{},
	}
}

func (b *builder) build() error {
	in := b.p.Input.Shape
	b.shapes[InputName] = in
	b.g.input = append(b.g.input, valueInfoProto{name: InputName, dims: b.dims(InputName)})
	b.write(b.p.Input, InputName)
	for _, st := range b.p.Launches {
		if err := b.step(st); err != nil {
			return fmt.Errorf("step s%d (%s, %s): %v", st.ID, st.Kernel, st.Scope, err)
		}
	}
	out, err := b.read(b.p.Output)
	if err != nil {
		return fmt.Errorf("the output: %v", err)
	}
	if b.flat[out] {
		b.rename(out, OutputName)
	} else {
		b.node("Flatten", OutputName, []string{out}, []string{OutputName}, intAttr("axis", 1))
	}
	b.shapes[OutputName] = b.p.Output.Shape
	b.flat[OutputName] = true
	b.g.output = append(b.g.output, valueInfoProto{name: OutputName, dims: b.dims(OutputName)})
	for _, name := range b.order {
		if name != OutputName {
			b.g.valueInfo = append(b.g.valueInfo, valueInfoProto{name: name, dims: b.dims(name)})
		}
	}
	return nil
}

// step emits one plan step: its inputs read from their views, its chain
// of ops one node (or a few) each, its output recorded in its view.
func (b *builder) step(st plan.Launch) error {
	if len(st.Params) != len(st.Ops) {
		return fmt.Errorf("%d parameter lists for %d ops", len(st.Params), len(st.Ops))
	}
	ins := make([]string, len(st.Inputs))
	for i, v := range st.Inputs {
		name, err := b.read(v)
		if err != nil {
			return fmt.Errorf("input %d (%v): %v", i, v, err)
		}
		ins[i] = name
	}
	// A folded add: the chain's result goes onto what the output holds.
	var addend string
	if st.Accumulate {
		name, err := b.read(st.Output)
		if err != nil {
			return fmt.Errorf("the value it adds to (%v): %v", st.Output, err)
		}
		addend = name
	}
	for k, op := range st.Ops {
		if k > 0 && len(ins) != 1 {
			return fmt.Errorf("op %d (%s) of a chain has %d inputs", k, op.Kind, len(ins))
		}
		scope := op.Scope
		if scope == "" {
			scope = st.Scope
		}
		out, err := b.op(op, scope, ins, st.Params[k])
		if err != nil {
			return fmt.Errorf("op %d (%s): %v", k, op.Kind, err)
		}
		b.value(out, op.Shape)
		ins = []string{out}
	}
	if got := b.shapes[ins[0]]; got != st.Output.Shape {
		return fmt.Errorf("the chain makes %v, the step's output is %v", got, st.Output.Shape)
	}
	if st.Accumulate {
		sum := b.unique(commonScope([]string{addend, ins[0]}) + "add")
		b.node("Add", sum, []string{addend, ins[0]}, []string{sum})
		b.value(sum, st.Output.Shape)
		ins = []string{sum}
	}
	b.write(st.Output, ins[0])
	return nil
}

// write records that view v now holds value name, forgetting whatever
// it overwrites.
func (b *builder) write(v plan.View, name string) {
	r := region{off: v.Offset, elems: v.Shape.Elems(), stride: v.Stride, shape: v.Shape, name: name}
	b.regions[v.Buffer] = append(keepDisjoint(b.regions[v.Buffer], r), r)
	b.concats[v.Buffer] = keepDisjoint(b.concats[v.Buffer], r)
}

// keepDisjoint returns the regions that r leaves intact: those of the
// same layout outside r's elements. A value of another layout (stride)
// means the buffer now holds a different value, so everything goes.
func keepDisjoint(rs []region, r region) []region {
	var keep []region
	for _, q := range rs {
		if q.stride == r.stride && (q.off+q.elems <= r.off || q.off >= r.off+r.elems) {
			keep = append(keep, q)
		}
	}
	return keep
}

// read names the value view v holds: a value written there whole, a
// Concat of the channel slices that tile it, or a Slice of a value that
// contains it.
func (b *builder) read(v plan.View) (string, error) {
	elems := v.Shape.Elems()
	rs := b.regions[v.Buffer]
	for _, list := range [][]region{rs, b.concats[v.Buffer]} {
		for _, r := range list {
			if r.stride == v.Stride && r.off == v.Offset && r.shape == v.Shape {
				return r.name, nil
			}
		}
	}
	// Channel slices that tile the view: an elided concat.
	var parts []region
	for off := v.Offset; off < v.Offset+elems; {
		i := -1
		for j, r := range rs {
			if r.stride == v.Stride && r.off == off && r.shape.H == v.Shape.H && r.shape.W == v.Shape.W {
				i = j
			}
		}
		if i < 0 {
			parts = nil
			break
		}
		parts = append(parts, rs[i])
		off += rs[i].elems
	}
	if len(parts) > 1 {
		names := make([]string, len(parts))
		for i, r := range parts {
			names[i] = r.name
		}
		out := b.unique(commonScope(names) + "concat")
		b.node("Concat", out, names, []string{out}, intAttr("axis", 1))
		b.value(out, v.Shape)
		b.concats[v.Buffer] = append(b.concats[v.Buffer], region{off: v.Offset, elems: elems, stride: v.Stride, shape: v.Shape, name: out})
		return out, nil
	}
	// A channel range of a larger value.
	hw := v.Shape.H * v.Shape.W
	for _, r := range rs {
		if r.stride != v.Stride || r.shape.H != v.Shape.H || r.shape.W != v.Shape.W || hw == 0 {
			continue
		}
		if r.off <= v.Offset && v.Offset+elems <= r.off+r.elems && (v.Offset-r.off)%hw == 0 {
			c0 := int64((v.Offset - r.off) / hw)
			out := b.unique(r.name + "/channels")
			b.slice(out, r.name, []int64{c0}, []int64{c0 + int64(v.Shape.C)}, []int64{1})
			b.value(out, v.Shape)
			return out, nil
		}
	}
	return "", fmt.Errorf("no earlier step wrote %v (%v)", v, v.Shape)
}

// commonScope is the longest "a/b/" prefix all names share.
func commonScope(names []string) string {
	p := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, p) {
			p = p[:len(p)-1]
		}
	}
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// unique returns name, or name_2, name_3, ... if it is taken, and takes it.
func (b *builder) unique(name string) string {
	n := name
	for i := 2; b.names[n]; i++ {
		n = fmt.Sprintf("%s_%d", name, i)
	}
	b.names[n] = true
	return n
}

// node appends a node.
func (b *builder) node(op, name string, in, out []string, attrs ...attributeProto) {
	b.g.nodes = append(b.g.nodes, nodeProto{input: in, output: out, name: name, opType: op, attribute: attrs})
}

// value records an activation's per-image shape, for value_info.
func (b *builder) value(name string, s ir.Shape) {
	b.shapes[name] = s
	b.order = append(b.order, name)
}

// rename gives value from the name to.
func (b *builder) rename(from, to string) {
	for i := range b.g.nodes {
		for _, list := range [][]string{b.g.nodes[i].input, b.g.nodes[i].output} {
			for j := range list {
				if list[j] == from {
					list[j] = to
				}
			}
		}
	}
	for i := range b.order {
		if b.order[i] == from {
			b.order[i] = to
		}
	}
}

// dims is a value's ONNX shape: the symbolic batch, then C, H, W (or C
// alone for flat values).
func (b *builder) dims(name string) []dim {
	s := b.shapes[name]
	if b.flat[name] {
		return []dim{{param: BatchDim}, {value: int64(s.Elems())}}
	}
	return []dim{{param: BatchDim}, {value: int64(s.C)}, {value: int64(s.H)}, {value: int64(s.W)}}
}
