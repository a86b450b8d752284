package runtime

import "cellc/compiler/plan"

// renameBuffers returns a copy of an inference plan in which each of p's
// buffers becomes up to copies buffers of its size, the values it holds
// over time dealt to them in turn, so that launches which the plan only
// ordered because they reuse a buffer (one writes what another has just
// finished reading) may run at the same time (see launchDeps). A value is
// the set of writes some read of the plan sees together (a concat's
// slices and the launches that read them whole are one value), so every
// write and read of it moves to the same copy at the same offsets; the
// renamed plan computes exactly what p computes.
func renameBuffers(p *plan.Plan, copies int) *plan.Plan {
	n := len(p.Launches)
	input := n // the writer id of the input, which Forward copies in
	uf := newUnionFind(n + 1)
	// The writer of every element of every buffer so far, as spans.
	last := make([]spans, len(p.Buffers))
	readFrom := func(v plan.View) int {
		first := -1
		last[v.Buffer].each(v.Offset, v.Offset+v.Shape.Elems(), func(w int) {
			if first < 0 {
				first = w
			} else {
				uf.union(first, w)
			}
		})
		return first
	}
	last[p.Input.Buffer].set(p.Input.Offset, p.Input.Offset+p.Input.Shape.Elems(), input)
	// reader[j][k] is a writer whose value launch j's input k reads (-1:
	// none, the launch reads what nothing wrote).
	reader := make([][]int, n)
	for j, st := range p.Launches {
		for _, v := range st.Inputs {
			reader[j] = append(reader[j], readFrom(v))
		}
		o := st.Output
		if st.Accumulate {
			// It adds into what is there: one value with that write.
			if w := readFrom(o); w >= 0 {
				uf.union(w, j)
			}
		}
		last[o.Buffer].set(o.Offset, o.Offset+o.Shape.Elems(), j)
	}
	outFrom := readFrom(p.Output)

	// Deal the values of each buffer to its copies in the order they are
	// first written.
	type slot struct{ buf, copy int }
	copyOf := map[int]int{} // value (union root) → copy
	next := make([]int, len(p.Buffers))
	ids := map[slot]int{}
	q := *p
	q.Buffers = nil
	id := func(buf, w int) int {
		k := 0
		if w >= 0 {
			r := uf.find(w)
			c, ok := copyOf[r]
			if !ok {
				c = next[buf] % copies
				next[buf]++
				copyOf[r] = c
			}
			k = c
		}
		s := slot{buf, k}
		if i, ok := ids[s]; ok {
			return i
		}
		i := len(q.Buffers)
		ids[s] = i
		q.Buffers = append(q.Buffers, plan.Buffer{ID: i, Elems: p.Buffers[buf].Elems})
		return i
	}
	move := func(v plan.View, w int) plan.View {
		v.Buffer = id(v.Buffer, w)
		return v
	}
	q.Input = move(p.Input, input)
	q.Launches = make([]plan.Launch, n)
	for j, st := range p.Launches {
		st.Inputs = append([]plan.View(nil), st.Inputs...)
		for k, v := range st.Inputs {
			st.Inputs[k] = move(v, reader[j][k])
		}
		st.Output = move(st.Output, j)
		st.Free = nil // the renamed buffers' lifetimes are not p's
		q.Launches[j] = st
	}
	q.Output = move(p.Output, outFrom)
	return &q
}

// spans records which writer last wrote each element of a buffer:
// sorted, disjoint half-open ranges.
type spans []span

type span struct{ lo, hi, w int }

// set records w as the writer of [lo, hi).
func (s *spans) set(lo, hi, w int) {
	var out spans
	for _, x := range *s {
		if x.hi <= lo || x.lo >= hi {
			out = append(out, x)
			continue
		}
		if x.lo < lo {
			out = append(out, span{x.lo, lo, x.w})
		}
		if x.hi > hi {
			out = append(out, span{hi, x.hi, x.w})
		}
	}
	out = append(out, span{lo, hi, w})
	*s = out
}

// each calls fn with the writer of every span that meets [lo, hi).
func (s spans) each(lo, hi int, fn func(w int)) {
	for _, x := range s {
		if x.lo < hi && lo < x.hi {
			fn(x.w)
		}
	}
}

type unionFind []int

func newUnionFind(n int) unionFind {
	u := make(unionFind, n)
	for i := range u {
		u[i] = i
	}
	return u
}

func (u unionFind) find(x int) int {
	for u[x] != x {
		u[x] = u[u[x]]
		x = u[x]
	}
	return x
}

func (u unionFind) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a != b {
		u[max(a, b)] = min(a, b)
	}
}
