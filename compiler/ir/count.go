package ir

// Cost is what one node (or a whole graph) costs: trainable parameters,
// batch-norm moving statistics (non-trainable, as Keras counts them), and
// multiply-adds per image. Mult-adds follow the paper: convolutions,
// depthwise and pointwise convolutions and the classifier; pools, norms
// and elementwise ops are free.
type Cost struct {
	Params  int64
	Moving  int64
	MultAdd int64
}

// Total is trainable parameters plus moving statistics (Keras' "Total params").
func (c Cost) Total() int64 { return c.Params + c.Moving }

func (c *Cost) add(d Cost) {
	c.Params += d.Params
	c.Moving += d.Moving
	c.MultAdd += d.MultAdd
}

// StepCost is the cost of one operation with input shape in and output out.
func StepCost(k Kind, a Attrs, in, out Shape) Cost {
	switch k {
	case Conv:
		w := int64(a.KH) * int64(a.KW) * int64(in.C) * int64(out.C)
		c := Cost{Params: w, MultAdd: w * int64(out.H) * int64(out.W)}
		if a.Folded {
			c.Params += int64(out.C)
		}
		return c
	case DWConv:
		w := int64(a.KH) * int64(a.KW) * int64(in.C)
		return Cost{Params: w, MultAdd: w * int64(out.H) * int64(out.W)}
	case BatchNorm:
		return Cost{Params: 2 * int64(out.C), Moving: 2 * int64(out.C)}
	case LayerNorm, InstNorm:
		return Cost{Params: 2 * int64(out.C)}
	case Dense:
		w := int64(in.Elems()) * int64(out.C)
		return Cost{Params: w + int64(out.C), MultAdd: w}
	}
	return Cost{}
}

// NodeCost is the cost of one node, summing a fused node's chain.
func (g *Graph) NodeCost(n *Node) Cost {
	if n.Kind == Input {
		return Cost{}
	}
	in := g.Nodes[n.Inputs[0]].Shape
	if n.Kind != Fused {
		return StepCost(n.Kind, n.Attrs, in, n.Shape)
	}
	var c Cost
	for _, s := range n.Chain {
		c.add(StepCost(s.Kind, s.Attrs, in, s.Shape))
		in = s.Shape
	}
	return c
}

// Costs sums the cost of the main network and of the aux head separately.
func (g *Graph) Costs() (main, aux Cost) {
	for _, n := range g.Nodes {
		if n.Aux {
			aux.add(g.NodeCost(n))
		} else {
			main.add(g.NodeCost(n))
		}
	}
	return main, aux
}
