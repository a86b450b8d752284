package plan

import "cellc/compiler/ir"

// foldAdds removes, from an inference plan, every two-input add whose
// operands nothing else reads and whose later operand ends in a conv: the
// earlier operand's launch writes straight into the add's output, and the
// later one's conv adds its product into it (Launch.Accumulate), which a
// GEMM does for free as it stores. A NASNet cell's separable convs then
// write the cell's concatenation themselves: no launch of the add, no
// pass that reads two values and writes a third, and no buffers for the
// two operands.
//
// It runs after assignBuffers and changes no assignment: an add folds
// only where no other value lives in the add's output while the earlier
// operand is computed (the concat slice an add writes is usually live
// from the cell's first step), which verify checks again.
func (l *lowering) foldAdds() {
	g := l.g
	if g.Training {
		return
	}
	uses := g.Uses()
	start, last := l.liveness()
	// sole reports whether node id is a value of its own (no concat
	// slice, not an output) that only the add reads.
	sole := func(id, add int) bool {
		n := g.Nodes[id]
		return n.Kind != ir.Input && !n.Elided && l.root[id] == id &&
			len(uses[id]) == 1 && uses[id][0] == add && id != g.Output && id != g.AuxOutput
	}
	for _, a := range g.Nodes {
		if a.Kind != ir.Add || len(a.Inputs) != 2 || a.Inputs[0] == a.Inputs[1] || l.stepOf[a.ID] < 0 {
			continue
		}
		first, second := a.Inputs[0], a.Inputs[1]
		if l.stepOf[first] > l.stepOf[second] {
			first, second = second, first
		}
		if !sole(first, a.ID) || !sole(second, a.ID) || !endsInConv(g.Nodes[second]) || l.folded[first] >= 0 || l.folded[second] >= 0 {
			continue
		}
		// Nothing else may live in the add's output from the first
		// operand's step on. The add's concat and the concat's other
		// slices share its buffer by design.
		out := l.view[a.ID]
		free := true
		for _, n := range g.Nodes {
			id := n.ID
			if id == a.ID || id == first || id == second || id == l.root[a.ID] {
				continue
			}
			if start[id] < l.stepOf[a.ID] && last[id] >= l.stepOf[first] && overlaps(l.view[id], out) {
				free = false
				break
			}
		}
		if !free {
			continue
		}
		l.view[first], l.view[second] = out, out
		l.folded[first], l.folded[second], l.folded[a.ID] = a.ID, a.ID, a.ID
		l.accumulate[second] = true
	}
}

// endsInConv reports whether node n's last op is a dense conv, which can
// add its product into its output as it stores it.
func endsInConv(n *ir.Node) bool {
	if n.Kind == ir.Fused {
		return n.Chain[len(n.Chain)-1].Kind == ir.Conv
	}
	return n.Kind == ir.Conv
}

// overlaps reports whether two views of one buffer may share elements.
func overlaps(a, b View) bool {
	if a.Buffer != b.Buffer {
		return false
	}
	if a.Stride != b.Stride {
		return true
	}
	return a.Offset < b.Offset+b.Shape.Elems() && b.Offset < a.Offset+a.Shape.Elems()
}
