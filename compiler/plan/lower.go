package plan

import (
	"fmt"
	"path/filepath"
	"sort"

	"cellc/compiler/ir"
)

// Lower turns a graph (after the pass pipeline) into a plan: one step per
// node, parameters named after scopes, buffers assigned by liveness, and
// for training graphs the reverse schedule with its gradient buffers.
func Lower(g *ir.Graph) (*Plan, error) {
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("plan: invalid graph: %v", err)
	}
	l := &lowering{g: g, p: &Plan{Name: g.Name, Training: g.Training}}
	l.values()
	l.assignBuffers()
	l.foldAdds()
	l.steps()
	l.decideExec()
	if g.Training {
		l.backward()
	}
	if err := l.verify(); err != nil {
		return nil, fmt.Errorf("internal error: %v", err)
	}
	return l.p, nil
}

type lowering struct {
	g *ir.Graph
	p *Plan

	// root[id] is the node whose buffer holds node id's value (the
	// elided concat it writes into, or itself); offset[id] is where in
	// that buffer's image block it starts.
	root   []int
	offset []int
	// stepOf[id] is the forward step computing node id, -1 for none.
	stepOf []int
	view   []View
	// folded[id] is the add that node id is an operand of, or is, when
	// foldAdds folded that add (else -1): the add has no launch, and its
	// operands write its output, accumulate[id] marking the one that adds
	// into it.
	folded     []int
	accumulate []bool
}

func (l *lowering) values() {
	n := len(l.g.Nodes)
	l.root = make([]int, n)
	l.offset = make([]int, n)
	for i := range l.root {
		l.root[i] = i
	}
	// The elide-concat pass never elides a concat that reads an elided
	// concat, so roots are one level deep.
	for _, c := range l.g.Nodes {
		if !c.Elided {
			continue
		}
		off := 0
		for _, in := range c.Inputs {
			l.root[in] = c.ID
			l.offset[in] = off
			off += l.g.Nodes[in].Shape.Elems()
		}
	}
	l.folded = make([]int, n)
	for i := range l.folded {
		l.folded[i] = -1
	}
	l.accumulate = make([]bool, n)
	l.stepOf = make([]int, n)
	k := 0
	for _, nd := range l.g.Nodes {
		l.stepOf[nd.ID] = -1
		if nd.Kind != ir.Input && !nd.Elided {
			l.stepOf[nd.ID] = k
			k++
		}
	}
}

// interval is when a buffer root is live, in step numbers (-1 = before
// the first step; len(steps) = after the last).
type interval struct {
	root, start, end int
	elems            int64
}

func (l *lowering) assignBuffers() {
	g := l.g
	nsteps := 0
	for _, s := range l.stepOf {
		nsteps = max(nsteps, s+1)
	}
	ivs := map[int]*interval{}
	touch := func(id, at int) {
		r := l.root[id]
		iv := ivs[r]
		if iv == nil {
			iv = &interval{root: r, start: at, end: at, elems: int64(g.Nodes[r].Shape.Elems())}
			ivs[r] = iv
		}
		iv.start = min(iv.start, at)
		iv.end = max(iv.end, at)
	}
	for _, n := range g.Nodes {
		at := l.stepOf[n.ID]
		if n.Kind == ir.Input {
			touch(n.ID, -1)
			continue
		}
		if n.Elided {
			continue
		}
		touch(n.ID, at)
		for _, in := range n.Inputs {
			touch(in, at)
		}
	}
	touch(g.Output, nsteps)
	if g.AuxOutput >= 0 {
		touch(g.AuxOutput, nsteps)
	}

	list := make([]*interval, 0, len(ivs))
	for _, iv := range ivs {
		list = append(list, iv)
		l.p.Memory.Unshared += iv.elems * 4
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].start != list[j].start {
			return list[i].start < list[j].start
		}
		return list[i].root < list[j].root
	})
	if g.Training {
		// The backward pass reads most forward values, so those must
		// outlive every forward step; the rest (an average pool's output
		// that only an add reads, say) die after their last forward
		// reader like inference values, and their buffers are reused.
		kept := l.keptForBackward()
		for _, iv := range list {
			if kept[iv.root] {
				iv.end = nsteps + 1
			}
		}
	}
	bufOf := l.linearScan(list, &l.p.Buffers)
	for _, b := range l.p.Buffers {
		l.p.Memory.Forward += b.Elems * 4
	}
	l.view = make([]View, len(g.Nodes))
	for _, n := range g.Nodes {
		r := l.root[n.ID]
		l.view[n.ID] = View{Buffer: bufOf[r], Offset: l.offset[n.ID], Stride: g.Nodes[r].Shape.Elems(), Shape: n.Shape}
	}
	l.p.Input = l.view[0]
	l.p.Output = l.view[g.Output]
	if g.AuxOutput >= 0 {
		v := l.view[g.AuxOutput]
		l.p.AuxOutput = &v
	}
}

// keptForBackward marks the buffer roots holding a value that some
// step's backward reads: BackwardReadsInputs and BackwardReadsOutput say
// which, and a backend's gradient kernels must read no others.
func (l *lowering) keptForBackward() map[int]bool {
	kept := map[int]bool{}
	for _, n := range l.g.Nodes {
		if n.Kind == ir.Input || n.Elided {
			continue
		}
		if BackwardReadsOutput(n) {
			kept[l.root[n.ID]] = true
		}
		if BackwardReadsInputs(n) {
			for _, in := range n.Inputs {
				kept[l.root[in]] = true
			}
		}
	}
	return kept
}

// BackwardReadsInputs reports whether the gradient kernels of step n
// (a node, fused or not) may read the values of its inputs. Only the
// chain's first op reads them; the ops below back-propagate from the
// output gradient alone (an add, a concat, an average pool, a shift, a
// zero, a global average pool, drop path and dropout with their saved
// masks).
func BackwardReadsInputs(n *ir.Node) bool {
	first := n.Kind
	if n.Kind == ir.Fused {
		first = n.Chain[0].Kind
	}
	switch first {
	case ir.Add, ir.Concat, ir.AvgPool, ir.Shift, ir.Zero, ir.GlobalAvg, ir.DropPath, ir.Dropout:
		return false
	}
	return true
}

// BackwardReadsOutput reports whether the gradient kernels of step n may
// read its output value: every step but those ending in an op whose
// gradient needs only the inputs or nothing (convolutions, dense layers
// and the ops BackwardReadsInputs lists). A ReLU's mask, a max pool's
// argmax and a batch norm computed in place come from the output.
func BackwardReadsOutput(n *ir.Node) bool {
	last := n.Kind
	if n.Kind == ir.Fused {
		last = n.Chain[len(n.Chain)-1].Kind
	}
	switch last {
	case ir.Add, ir.Concat, ir.AvgPool, ir.Shift, ir.Zero, ir.GlobalAvg, ir.DropPath, ir.Dropout, ir.Conv, ir.DWConv, ir.Dense:
		return false
	}
	return true
}

// linearScan assigns buffers to live intervals, reusing a buffer once its
// last value is dead: best fit among free buffers, else grow the largest
// free one, else a new buffer.
func (l *lowering) linearScan(list []*interval, bufs *[]Buffer) map[int]int {
	bufOf := map[int]int{}
	type busy struct{ buf, end int }
	var active []busy
	var free []int
	for _, iv := range list {
		keep := active[:0]
		for _, a := range active {
			if a.end < iv.start {
				free = append(free, a.buf)
			} else {
				keep = append(keep, a)
			}
		}
		active = keep
		best := -1
		for i, b := range free {
			e := (*bufs)[b].Elems
			if e >= iv.elems && (best < 0 || e < (*bufs)[free[best]].Elems) {
				best = i
			}
		}
		if best < 0 && len(free) > 0 {
			for i, b := range free {
				if best < 0 || (*bufs)[b].Elems > (*bufs)[free[best]].Elems {
					best = i
				}
			}
		}
		var buf int
		if best >= 0 {
			buf = free[best]
			free = append(free[:best], free[best+1:]...)
			(*bufs)[buf].Elems = max((*bufs)[buf].Elems, iv.elems)
		} else {
			buf = len(*bufs)
			*bufs = append(*bufs, Buffer{ID: buf, Elems: iv.elems})
		}
		bufOf[iv.root] = buf
		active = append(active, busy{buf, iv.end})
	}
	return bufOf
}

func (l *lowering) steps() {
	g := l.g
	lastUse := map[int]int{} // buffer → last step reading or writing it
	for _, n := range g.Nodes {
		if l.stepOf[n.ID] < 0 || l.folded[n.ID] == n.ID {
			continue
		}
		chain := n.Chain
		if n.Kind != ir.Fused {
			chain = []ir.ChainOp{{Kind: n.Kind, Attrs: n.Attrs, Shape: n.Shape, Scope: n.Scope}}
		}
		st := Launch{
			ID:     len(l.p.Launches),
			Kernel: KernelName(n),
			Ops:    chain,
			Output: l.view[n.ID],
			Scope:  n.Scope,
			Aux:    n.Aux,
			Cell:   n.Cell,

			Accumulate: l.accumulate[n.ID],
		}
		if n.Src.File != "" {
			st.Src = fmt.Sprintf("%s:%d:%d", filepath.Base(n.Src.File), n.Src.Start.Line, n.Src.Start.Col)
		}
		for _, in := range n.Inputs {
			st.Inputs = append(st.Inputs, l.view[in])
			lastUse[l.view[in].Buffer] = st.ID
		}
		lastUse[st.Output.Buffer] = st.ID
		in := g.Nodes[n.Inputs[0]].Shape
		for _, op := range chain {
			st.Params = append(st.Params, l.params(op, in))
			in = op.Shape
		}
		l.p.Launches = append(l.p.Launches, st)
	}
	for _, p := range l.p.Params {
		l.p.Memory.Params += p.Elems() * 4
	}
	if g.Training {
		return
	}
	keepBuf := map[int]bool{l.p.Output.Buffer: true}
	if l.p.AuxOutput != nil {
		keepBuf[l.p.AuxOutput.Buffer] = true
	}
	// Free lists tell a runtime when a buffer's contents are dead (useful
	// for checking and for allocators that release memory).
	bufs := make([]int, 0, len(lastUse))
	for b := range lastUse {
		bufs = append(bufs, b)
	}
	sort.Ints(bufs)
	for _, b := range bufs {
		if !keepBuf[b] {
			s := &l.p.Launches[lastUse[b]]
			s.Free = append(s.Free, b)
		}
	}
}

// params declares the parameters of one op with input shape in. Weight
// layouts are the runtime's: convs OIHW [out, in, kh, kw], depthwise
// [channels, 1, kh, kw], dense [out, in].
func (l *lowering) params(op ir.ChainOp, in ir.Shape) []int {
	add := func(kind ParamKind, trainable bool, fanOut int, dims ...int) int {
		id := len(l.p.Params)
		l.p.Params = append(l.p.Params, Param{ID: id, Name: op.Scope + "/" + string(kind), Kind: kind, Dims: dims, Trainable: trainable, FanOut: fanOut})
		return id
	}
	a := op.Attrs
	switch op.Kind {
	case ir.Conv:
		ids := []int{add(Weights, true, a.KH*a.KW*a.Filters, a.Filters, in.C, a.KH, a.KW)}
		if a.Folded {
			ids = append(ids, add(Biases, true, 0, a.Filters))
		}
		return ids
	case ir.DWConv:
		return []int{add(Weights, true, a.KH*a.KW, in.C, 1, a.KH, a.KW)}
	case ir.BatchNorm:
		c := op.Shape.C
		return []int{add(Gamma, true, 0, c), add(Beta, true, 0, c), add(MovingMean, false, 0, c), add(MovingVariance, false, 0, c)}
	case ir.LayerNorm, ir.InstNorm:
		c := op.Shape.C
		return []int{add(Gamma, true, 0, c), add(Beta, true, 0, c)}
	case ir.Dense:
		return []int{add(Weights, true, a.Filters, a.Filters, in.Elems()), add(Biases, true, 0, a.Filters)}
	}
	return nil
}

// backward builds the reverse schedule. Gradient buffers are assigned by
// liveness in reverse time: a value's gradient is born at the backward
// step of its last forward reader and dies after its producer's backward
// step has read it.
func (l *lowering) backward() {
	g := l.g
	n := len(g.Nodes)
	steps := l.p.Launches
	// Which forward step produced each node, and the node of each step.
	nodeOf := make([]int, len(steps))
	for id, s := range l.stepOf {
		if s >= 0 {
			nodeOf[s] = id
		}
	}
	// Gradient roots mirror value roots: the gradient of a concat input
	// is a slice of the concat's gradient.
	gradStart := map[int]int{} // root → first backward position writing it
	gradEnd := map[int]int{}   // root → last backward position reading it
	touch := func(id, at int) {
		r := l.topRoot(id)
		if _, ok := gradStart[r]; !ok {
			gradStart[r], gradEnd[r] = at, at
		}
		gradStart[r] = min(gradStart[r], at)
		gradEnd[r] = max(gradEnd[r], at)
	}
	order := make([]int, 0, len(steps)) // backward position → forward step
	for s := len(steps) - 1; s >= 0; s-- {
		order = append(order, s)
	}
	touch(g.Output, -1)
	if g.AuxOutput >= 0 {
		touch(g.AuxOutput, -1)
	}
	for pos, s := range order {
		id := nodeOf[s]
		touch(id, pos)
		for _, in := range g.Nodes[id].Inputs {
			if g.Nodes[in].Kind != ir.Input {
				touch(in, pos)
			}
		}
	}
	var list []*interval
	for r, st := range gradStart {
		list = append(list, &interval{root: r, start: st, end: gradEnd[r], elems: int64(g.Nodes[r].Shape.Elems())})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].start != list[j].start {
			return list[i].start < list[j].start
		}
		return list[i].root < list[j].root
	})
	bufOf := l.linearScan(list, &l.p.GradBuffers)
	for _, b := range l.p.GradBuffers {
		l.p.Memory.Gradients += b.Elems * 4
	}
	gview := func(id int) View {
		v := l.view[id]
		v.Buffer = bufOf[l.topRoot(id)]
		return v
	}
	og := gview(g.Output)
	l.p.OutputGrad = &og
	if g.AuxOutput >= 0 {
		ag := gview(g.AuxOutput)
		l.p.AuxOutputGrad = &ag
	}
	written := make([]bool, n)
	for _, s := range order {
		id := nodeOf[s]
		gs := GradLaunch{Forward: s, OutGrad: gview(id)}
		for _, in := range g.Nodes[id].Inputs {
			if g.Nodes[in].Kind == ir.Input {
				gs.InGrads = append(gs.InGrads, nil)
				gs.Accumulate = append(gs.Accumulate, false)
				continue
			}
			v := gview(in)
			gs.InGrads = append(gs.InGrads, &v)
			// An elided concat's input shares its gradient: once the
			// concat's reader has written that, the slice is written.
			gs.Accumulate = append(gs.Accumulate, written[in] || written[l.root[in]])
			written[in] = true
		}
		l.p.Backward = append(l.p.Backward, gs)
	}
}

// topRoot is the node whose buffer holds id's value.
func (l *lowering) topRoot(id int) int { return l.root[id] }
