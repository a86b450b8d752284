// Package ir is the compiler's intermediate representation: a typed,
// shaped graph of primitive tensor operations in topological order.
//
// Nodes are stored in schedule order; a node's inputs always precede it.
// Shapes are per image (channels, height, width): the batch dimension is
// left to the runtime. Every node remembers the source span it came from,
// so a problem found by a late pass still points into the .cell file.
package ir

import "cellc/lang"

// Kind is the operation a node performs.
type Kind string

const (
	Input     Kind = "input"     // the image batch
	Conv      Kind = "conv"      // dense conv, SAME (or VALID) padding, no bias
	DWConv    Kind = "dwconv"    // depthwise conv, multiplier 1
	BatchNorm Kind = "bn"        // batch norm with scale and offset
	ReLU      Kind = "relu"      //
	AvgPool   Kind = "avgpool"   // padding excluded from the count (TF SAME)
	MaxPool   Kind = "maxpool"   //
	Add       Kind = "add"       // elementwise sum of all inputs
	Concat    Kind = "concat"    // along channels
	Shift     Kind = "shift"     // x[:, 1:, 1:] padded back at the bottom/right: factorized reduction's second path
	Zero      Kind = "zero"      // zeros of the output shape (DARTS "none")
	LayerNorm Kind = "layernorm" // over C,H,W per image, with per-channel scale/offset
	InstNorm  Kind = "instnorm"  // over H,W per image and channel, with scale/offset
	DropPath  Kind = "droppath"  // ScheduledDropPath; training only
	GlobalAvg Kind = "gap"       // mean over H,W
	Dropout   Kind = "dropout"   // training only
	Dense     Kind = "dense"     // fully connected, with bias
	Fused     Kind = "fused"     // a chain of the kinds above run as one kernel
)

// Padding of convolutions and pools.
type Padding string

const (
	Same  Padding = "same"
	Valid Padding = "valid"
)

// Shape is a per-image activation shape.
type Shape struct {
	C, H, W int
}

// Elems is the number of values in one image's activation.
func (s Shape) Elems() int { return s.C * s.H * s.W }

// Attrs are the attributes of an operation. Only the fields that matter to
// a kind are set; the rest stay zero.
type Attrs struct {
	KH, KW   int     // kernel (conv, dwconv, pools, dense: unused)
	Stride   int     // conv, dwconv, pools
	Dilation int     // conv, dwconv
	Pad      Padding // conv, dwconv, pools
	Filters  int     // output channels of conv and dense
	Keep     float64 // droppath, dropout: keep probability
	Folded   bool    // conv: a batch norm was folded in, so it has a bias
	BNScope  string  // conv: the scope of the folded batch norm, whose trained values it takes
}

// ChainOp is one operation inside a fused node's chain: its kind, attributes
// and output shape.
type ChainOp struct {
	Kind  Kind
	Attrs Attrs
	Shape Shape
	Scope string
}

// Node is one operation in the graph.
type Node struct {
	ID     int
	Kind   Kind
	Attrs  Attrs
	Inputs []int // IDs of earlier nodes
	Shape  Shape // output shape

	// Chain is set on Fused nodes: the steps run in order on Inputs[0]
	// (every step but the first has one input: the previous step's output).
	Chain []ChainOp

	// Scope names the node the way TF-slim names variables:
	// "cell_3/comb_iter_1/left/separable_3x3_1". Parameters are named
	// after it.
	Scope string
	// Aux marks the auxiliary head, built only for training.
	Aux bool
	// Cell is the cell index (TF-slim's cell_num) the node belongs to, or
	// -1 for the stem and the classifier.
	Cell int
	// Src is the source the node came from.
	Src lang.Span
	// Elided is set on a Concat whose inputs write straight into channel
	// slices of its buffer, so the concat itself copies nothing.
	Elided bool
}

// Graph is a network in IR form.
type Graph struct {
	Name   string
	Nodes  []*Node // schedule order; Nodes[i].ID == i
	Output int     // the logits
	// AuxOutput is the aux head's logits, or -1.
	AuxOutput int
	// Training says whether training-only nodes (aux head, drop path,
	// dropout) are present.
	Training bool
	// Endpoints names stage outputs (Stem, Cell_5, Reduction_Cell_0, ...).
	Endpoints []Endpoint
}

// Endpoint is a named node of interest, as TF-slim's end_points.
type Endpoint struct {
	Name string
	Node int
}

// Add appends n, giving it the next ID, and returns the ID.
func (g *Graph) Add(n *Node) int {
	n.ID = len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
	return n.ID
}

// Uses returns, for each node, the IDs of the nodes that read it.
func (g *Graph) Uses() [][]int {
	uses := make([][]int, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			uses[in] = append(uses[in], n.ID)
		}
	}
	return uses
}

// Clone returns a deep copy of g, so a pass can rewrite it freely.
func (g *Graph) Clone() *Graph {
	c := *g
	c.Nodes = make([]*Node, len(g.Nodes))
	for i, n := range g.Nodes {
		m := *n
		m.Inputs = append([]int(nil), n.Inputs...)
		m.Chain = append([]ChainOp(nil), n.Chain...)
		c.Nodes[i] = &m
	}
	c.Endpoints = append([]Endpoint(nil), g.Endpoints...)
	return &c
}
