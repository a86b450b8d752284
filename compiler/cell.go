package compiler

import (
	"fmt"

	"cellc/compiler/ir"
	"cellc/lang"
)

// cell lowers one cell (TF-slim _cell_base + blocks + _combine_unused_states).
// f is the cell's filter count F; reduce puts stride 2 on every op that
// reads a cell input; back is how many layers further back than usual its
// earlier inputs are read (skip_reduction_layer_input: see build).
func (b *builder) cell(c *Cell, scope string, cellNum int, reduce bool, f int, history []cellOut, back int) cellOut {
	src := c.Decl.Name.Span
	node := func(k ir.Kind, a ir.Attrs, name string, at lang.Span, in ...int) int {
		return b.add(&ir.Node{Kind: k, Attrs: a, Inputs: in, Scope: scope + "/" + name, Cell: cellNum, Src: at})
	}
	conv1x1 := func(name string, in, filters, stride int) int {
		return node(ir.Conv, ir.Attrs{KH: 1, KW: 1, Stride: stride, Dilation: 1, Pad: ir.Same, Filters: filters}, name, src, in)
	}

	cur := history[len(history)-1].route(0)
	states := make([]int, 0, c.Inputs+len(c.Blocks))

	// h_i: always ReLU → 1x1 conv → BN to F; with ENAS' calibrate, first
	// brought to F the same way when it is not F wide.
	x := cur
	if b.calibrate && b.g.Nodes[cur].Shape.C != f {
		x = node(ir.ReLU, ir.Attrs{}, "calibrate/relu", src, x)
		x = conv1x1("calibrate/1x1", x, f, 1)
		x = node(ir.BatchNorm, ir.Attrs{}, "calibrate/bn", src, x)
	}
	x = node(ir.ReLU, ir.Attrs{}, "relu", src, x)
	x = conv1x1("1x1", x, f, 1)
	states = append(states, node(ir.BatchNorm, ir.Attrs{}, "beginning_bn", src, x))

	// h_i-m: TF-slim _reduce_prev_layer (ENAS' calibrate is the same), or
	// DARTS' preprocess0.
	for m := 1; m < c.Inputs; m++ {
		idx := len(history) - 1 - m - back
		if idx < 0 || history[idx] == nil {
			states = append(states, cur) // "prev is None": the raw cell input
			continue
		}
		prev := history[idx].route(m)
		name := fmt.Sprintf("prev_%d", m)
		ps, cs := b.g.Nodes[prev].Shape, b.g.Nodes[cur].Shape
		switch {
		case ps.H != cs.H:
			prev = node(ir.ReLU, ir.Attrs{}, name+"/relu", src, prev)
			for r := 0; b.g.Nodes[prev].Shape.H > cs.H && !b.diags.HasErrors(); r++ {
				prev = b.factorizedReduction(prev, f, 2, fmt.Sprintf("%s/factorized_%d", scope+"/"+name, r), cellNum, src)
			}
		case ps.C != f || b.preprocess: // DARTS' ReLUConvBN is there whatever the width
			prev = node(ir.ReLU, ir.Attrs{}, name+"/relu", src, prev)
			prev = conv1x1(name+"/1x1", prev, f, 1)
			prev = node(ir.BatchNorm, ir.Attrs{}, name+"/bn", src, prev)
		}
		states = append(states, prev)
	}

	stateOf := func(r StateRef) int {
		if r.isInput() {
			return states[r.Input]
		}
		return states[c.Inputs+r.Block]
	}
	keep := 1 - float64(cellNum+1)/float64(b.totalCells)*(1-b.cfg.DropPathKeepProb)
	dropPath := b.cfg.Training && b.cfg.DropPathKeepProb < 1

	for bi, blk := range c.Blocks {
		iter := fmt.Sprintf("comb_iter_%d", bi)
		var branch [2]int
		for side := 0; side < 2; side++ {
			ref := blk.Inputs[side]
			in := stateOf(ref)
			stride := 1
			if reduce && ref.isInput() {
				stride = 2
			}
			opScope := fmt.Sprintf("%s/%s/%s", scope, iter, [2]string{"left", "right"}[side])
			out := b.op(blk.Ops[side], in, f, stride, opScope, cellNum, blk.OpSpans[side])
			if dropPath && !blk.Ops[side].IsIdentity() {
				out = b.add(&ir.Node{Kind: ir.DropPath, Attrs: ir.Attrs{Keep: keep}, Inputs: []int{out}, Scope: opScope + "/drop_path", Cell: cellNum, Src: blk.OpSpans[side]})
			}
			branch[side] = out
		}
		if l, r := b.g.Nodes[branch[0]].Shape, b.g.Nodes[branch[1]].Shape; !b.diags.HasErrors() && (l.H != r.H || (l.C != r.C && blk.Combine != "concat")) {
			d := b.diags.Errorf(blk.Span, "block %s of cell %q cannot %s its branches: %s gives %v, %s gives %v", blk.Name, c.Name, blk.Combine, blk.Ops[0].Name, l, blk.Ops[1].Name, r)
			d.Detail = "both branches must have the same size"
			if reduce {
				d.Detail += "; in a reduction cell, ops on cell inputs run at stride 2 and ops on blocks at stride 1"
			}
		}
		var y int
		switch blk.Combine {
		case "concat":
			y = node(ir.Concat, ir.Attrs{}, iter+"/concat", blk.Span, branch[0], branch[1])
		default:
			y = node(ir.Add, ir.Attrs{}, iter+"/add", blk.Span, branch[0], branch[1])
			switch blk.Combine {
			case "add_ln":
				y = node(ir.LayerNorm, ir.Attrs{}, iter+"/layer_norm", blk.Span, y)
			case "add_in":
				y = node(ir.InstNorm, ir.Attrs{}, iter+"/instance_norm", blk.Span, y)
			}
		}
		states = append(states, y)
	}

	if c.Route {
		out := make(cellOut, len(c.Out))
		for i, r := range c.Out {
			out[i] = stateOf(r)
		}
		return out
	}

	// Concatenate the output states, first bringing any whose size or
	// width differs from the last block's to it (TF-slim
	// _combine_unused_states).
	last := b.g.Nodes[states[len(states)-1]].Shape
	parts := make([]int, len(c.Out))
	for i, r := range c.Out {
		s := stateOf(r)
		sh := b.g.Nodes[s].Shape
		if sh.H != last.H || sh.C != last.C {
			stride := 1
			if sh.H != last.H {
				stride = 2
			}
			s = b.factorizedReduction(s, last.C, stride, fmt.Sprintf("%s/reduction_%d", scope, i), cellNum, r.Span)
		}
		parts[i] = s
	}
	if len(parts) == 1 {
		return cellOut{parts[0]}
	}
	return cellOut{node(ir.Concat, ir.Attrs{}, "cell_output/concat", src, parts...)}
}

// factorizedReduction is TF-slim's factorized_reduction: at stride 2, two
// 1x1 convs of F/2 filters on the input and on the input shifted by one
// pixel, concatenated, then BN; at stride 1 a 1x1 conv and BN.
func (b *builder) factorizedReduction(x, f, stride int, scope string, cellNum int, src lang.Span) int {
	node := func(k ir.Kind, a ir.Attrs, name string, in ...int) int {
		return b.add(&ir.Node{Kind: k, Attrs: a, Inputs: in, Scope: scope + "/" + name, Cell: cellNum, Src: src})
	}
	conv := func(name string, in, filters int) int {
		return node(ir.Conv, ir.Attrs{KH: 1, KW: 1, Stride: stride, Dilation: 1, Pad: ir.Same, Filters: filters}, name, in)
	}
	if stride == 1 {
		return node(ir.BatchNorm, ir.Attrs{}, "path_bn", conv("path_conv", x, f))
	}
	// An odd F gives the second path the extra filter, as TF-slim does.
	p1 := conv("path1_conv", x, f/2)
	p2 := conv("path2_conv", node(ir.Shift, ir.Attrs{}, "path2_shift", x), f/2+f%2)
	return node(ir.BatchNorm, ir.Attrs{}, "final_path_bn", node(ir.Concat, ir.Attrs{}, "concat", p1, p2))
}

// op lowers an operation's primitives onto x. stride binds $stride.
func (b *builder) op(o *Op, x, f, stride int, scope string, cellNum int, at lang.Span) int {
	count := map[string]int{}
	node := func(k ir.Kind, a ir.Attrs, name string, in int) int {
		count[name]++
		return b.add(&ir.Node{Kind: k, Attrs: a, Inputs: []int{in}, Scope: fmt.Sprintf("%s/%s/%s_%d", scope, o.Name, name, count[name]), Cell: cellNum, Src: at})
	}
	conv1x1 := func(in, s int) int {
		return node(ir.Conv, ir.Attrs{KH: 1, KW: 1, Stride: s, Dilation: 1, Pad: ir.Same, Filters: f}, "1x1", in)
	}
	for _, p := range o.Prims {
		s := p.Stride
		if p.StrideVar {
			s = stride
		}
		in := b.g.Nodes[x].Shape
		switch p.Name {
		case "relu":
			x = node(ir.ReLU, ir.Attrs{}, "relu", x)
		case "bn":
			x = node(ir.BatchNorm, ir.Attrs{}, "bn", x)
		case "conv":
			x = node(ir.Conv, ir.Attrs{KH: p.KH, KW: p.KW, Stride: s, Dilation: p.Dilation, Pad: ir.Same, Filters: b.width(o, p, f, at)}, "conv", x)
		case "dw":
			x = node(ir.DWConv, ir.Attrs{KH: p.KH, KW: p.KW, Stride: s, Dilation: p.Dilation, Pad: ir.Same}, "dw", x)
		case "pw":
			x = node(ir.Conv, ir.Attrs{KH: 1, KW: 1, Stride: 1, Dilation: 1, Pad: ir.Same, Filters: b.width(o, p, f, at)}, "pw", x)
		case "avgpool":
			x = node(ir.AvgPool, ir.Attrs{KH: p.KH, KW: p.KW, Stride: s, Pad: ir.Same}, "avgpool", x)
		case "maxpool":
			x = node(ir.MaxPool, ir.Attrs{KH: p.KH, KW: p.KW, Stride: s, Pad: ir.Same}, "maxpool", x)
		case "id":
			if (s != 1 || in.C != f) && !b.diags.HasErrors() {
				b.diags.Errorf(at, "op %s: id needs a %d-wide input at stride 1, got %d wide at stride %d", o.Name, f, in.C, s).Detail = "use project or freduce, which adapt width and stride"
			}
		case "zero":
			x = node(ir.Zero, ir.Attrs{Stride: s, Filters: f}, "zero", x)
		case "fit":
			if in.C != f {
				x = node(ir.BatchNorm, ir.Attrs{}, "bn", conv1x1(x, 1))
			}
		case "project":
			if s > 1 || in.C != f {
				x = node(ir.BatchNorm, ir.Attrs{}, "bn", conv1x1(node(ir.ReLU, ir.Attrs{}, "relu", x), s))
			}
		case "freduce":
			switch {
			case s > 1:
				count["freduce"]++
				x = b.factorizedReduction(node(ir.ReLU, ir.Attrs{}, "relu", x), f, s, fmt.Sprintf("%s/%s/freduce_%d", scope, o.Name, count["freduce"]), cellNum, at)
			case in.C != f:
				x = node(ir.BatchNorm, ir.Attrs{}, "bn", conv1x1(node(ir.ReLU, ir.Attrs{}, "relu", x), 1))
			}
		default:
			b.diags.Errorf(at, "internal error: primitive %q has no lowering", p.Name)
		}
	}
	return x
}

// width is a conv's or pw's filter count at F = f. A relative width that
// truncates to nothing is an error: network_utils.py builds AmoebaNet's
// 1x7_7x1 without its bottleneck when int(F / 4) < 1, a different op,
// which the language does not express.
func (b *builder) width(o *Op, p Prim, f int, at lang.Span) int {
	w := p.Width.Of(f)
	if w < 1 && !b.diags.HasErrors() {
		b.diags.Errorf(at, "op %s: %s is %d filters at F = %d", o.Name, p.Width, w, f).Detail = "build with more filters (--filters or --base-filters)"
		return 1
	}
	return w
}
