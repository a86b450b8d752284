package plan

import "fmt"

// verify checks the buffer assignment: two values that are live at the
// same time never share memory, unless one is a slice of the other (an
// elided concat's input) or both are parts of one folded add (foldAdds).
// Lower runs it on every plan it returns.
func (l *lowering) verify() error {
	g := l.g
	start, last := l.liveness()
	byBuf := map[int][]int{}
	for _, n := range g.Nodes {
		byBuf[l.view[n.ID].Buffer] = append(byBuf[l.view[n.ID].Buffer], n.ID)
	}
	// The operands of a folded add are parts of the add's value.
	rep := func(id int) int {
		if l.folded[id] >= 0 {
			return l.folded[id]
		}
		return id
	}
	for buf, ids := range byBuf {
		for i, a := range ids {
			for _, b := range ids[i+1:] {
				ra, rb := rep(a), rep(b)
				if ra == rb || l.root[ra] == rb || l.root[rb] == ra {
					continue
				}
				if start[a] > last[b] || start[b] > last[a] {
					continue // not live together
				}
				va, vb := l.view[a], l.view[b]
				disjoint := va.Stride == vb.Stride && (va.Offset+va.Shape.Elems() <= vb.Offset || vb.Offset+vb.Shape.Elems() <= va.Offset)
				if !disjoint {
					return fmt.Errorf("plan: %%%d (steps %d..%d) and %%%d (steps %d..%d) overlap in buffer b%d", a, start[a], last[a], b, start[b], last[b], buf)
				}
			}
		}
	}
	return nil
}

// liveness returns each node's live range in step numbers (stepOf): from
// the step that computes it (an elided concat: its first input's) to its
// last reader's, the end for the outputs and, in training, for the values
// the backward pass reads.
func (l *lowering) liveness() (start, last []int) {
	g := l.g
	end := 0
	for _, s := range l.stepOf {
		end = max(end, s+1)
	}
	start = make([]int, len(g.Nodes))
	last = make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		start[n.ID] = l.stepOf[n.ID]
		last[n.ID] = start[n.ID]
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			last[in] = max(last[in], l.stepOf[n.ID])
		}
	}
	// An elided concat is live from its first input's step to its last
	// reader's.
	for _, n := range g.Nodes {
		if n.Elided {
			start[n.ID] = end
			for _, in := range n.Inputs {
				start[n.ID] = min(start[n.ID], start[in])
			}
		}
	}
	last[g.Output] = end
	if g.AuxOutput >= 0 {
		last[g.AuxOutput] = end
	}
	if g.Training {
		// The backward pass reads these after every forward step.
		kept := l.keptForBackward()
		for i := range last {
			if kept[l.root[i]] {
				last[i] = end
			}
		}
	}
	return start, last
}
