package ir

import "fmt"

// Verify checks the graph's invariants: IDs match positions, inputs come
// before their readers, every shape is what its inputs imply, outputs and
// endpoints exist. Passes run it after every rewrite, so a broken pass is
// caught at the pass, not in the runtime.
func Verify(g *Graph) error {
	for i, n := range g.Nodes {
		if n.ID != i {
			return fmt.Errorf("node at position %d has ID %d", i, n.ID)
		}
		in := make([]Shape, len(n.Inputs))
		for j, id := range n.Inputs {
			if id < 0 || id >= i {
				return fmt.Errorf("%s: input %%%d is not an earlier node", g.NodeString(n), id)
			}
			in[j] = g.Nodes[id].Shape
		}
		if n.Kind == Input {
			if len(n.Inputs) != 0 || n.Shape.Elems() == 0 {
				return fmt.Errorf("%s: malformed input node", g.NodeString(n))
			}
			continue
		}
		var got Shape
		var err error
		if n.Kind == Fused {
			if len(n.Chain) == 0 {
				return fmt.Errorf("%s: fused node with an empty chain", g.NodeString(n))
			}
			if len(n.Inputs) != 1 {
				return fmt.Errorf("%s: fused node with %d inputs", g.NodeString(n), len(n.Inputs))
			}
			got, err = InferChain(n.Chain, in)
		} else {
			got, err = Infer(n.Kind, n.Attrs, in)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", g.NodeString(n), err)
		}
		if n.Elided {
			if err := verifyElided(g, n); err != nil {
				return err
			}
		}
		if got != n.Shape {
			return fmt.Errorf("%s: shape is %v, inputs imply %v", g.NodeString(n), n.Shape, got)
		}
	}
	if g.Output < 0 || g.Output >= len(g.Nodes) {
		return fmt.Errorf("output %%%d is not a node", g.Output)
	}
	if g.AuxOutput >= len(g.Nodes) {
		return fmt.Errorf("aux output %%%d is not a node", g.AuxOutput)
	}
	for _, e := range g.Endpoints {
		if e.Node < 0 || e.Node >= len(g.Nodes) {
			return fmt.Errorf("endpoint %s: %%%d is not a node", e.Name, e.Node)
		}
	}
	return nil
}

// verifyElided checks that an elided concat's inputs can write into its
// buffer (see ConcatElidable).
func verifyElided(g *Graph, n *Node) error {
	if n.Kind != Concat {
		return fmt.Errorf("%s: only a concat can be elided", g.NodeString(n))
	}
	return ConcatElidable(g, g.Uses(), n)
}

// ConcatElidable says why the concat n cannot be elided, or nil when its
// inputs can write straight into slices of its buffer: each input is given
// once, is neither the image, an output, nor an elided concat, and any
// other op reading it is not a concat and runs before the concat's first
// reader. That last rule keeps the backward pass simple: the concat's
// reader writes the whole concat gradient first, and the input's other
// readers then add theirs into its slice. uses is g.Uses().
func ConcatElidable(g *Graph, uses [][]int, n *Node) error {
	firstReader := -1
	for _, u := range uses[n.ID] {
		if firstReader < 0 || u < firstReader {
			firstReader = u
		}
	}
	seen := map[int]bool{}
	for _, in := range n.Inputs {
		m := g.Nodes[in]
		switch {
		case seen[in]:
			return fmt.Errorf("%s: elided concat reads %%%d twice", g.NodeString(n), in)
		case m.Kind == Input || m.Elided || in == g.Output || in == g.AuxOutput:
			return fmt.Errorf("%s: elided concat input %%%d cannot write into a slice", g.NodeString(n), in)
		}
		seen[in] = true
		for _, u := range uses[in] {
			if u == n.ID {
				continue
			}
			if firstReader < 0 || u > firstReader || g.Nodes[u].Kind == Concat {
				return fmt.Errorf("%s: elided concat input %%%d is also read by %%%d, which does not run before the concat's readers", g.NodeString(n), in, u)
			}
		}
	}
	return nil
}
