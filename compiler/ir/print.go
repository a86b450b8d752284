package ir

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Fprint writes the graph as stable, compact text: one line per node,
//
//	%12 = conv 3x3 s1 f32 (%11) 32x32x32 cell_0/comb_iter_0/left  p=9216 @nasnet_a.cell:4:30
//
// It is the format of `cellc build --emit ir` and of the golden files.
func Fprint(w io.Writer, g *Graph) {
	mode := "inference"
	if g.Training {
		mode = "training"
	}
	fmt.Fprintf(w, "graph %s (%s)\n", g.Name, mode)
	for _, n := range g.Nodes {
		fmt.Fprintln(w, g.NodeString(n))
	}
	fmt.Fprintf(w, "output %%%d", g.Output)
	if g.AuxOutput >= 0 {
		fmt.Fprintf(w, " aux %%%d", g.AuxOutput)
	}
	fmt.Fprintln(w)
	for _, e := range g.Endpoints {
		fmt.Fprintf(w, "endpoint %s %%%d %v\n", e.Name, e.Node, g.Nodes[e.Node].Shape)
	}
}

// String is Fprint into a string.
func (g *Graph) String() string {
	var b strings.Builder
	Fprint(&b, g)
	return b.String()
}

// NodeString is one node's line of the text form.
func (g *Graph) NodeString(n *Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%%%d = ", n.ID)
	if n.Kind == Fused {
		names := make([]string, len(n.Chain))
		for i, s := range n.Chain {
			names[i] = OpString(s.Kind, s.Attrs)
		}
		b.WriteString("fused[" + strings.Join(names, " > ") + "]")
	} else {
		b.WriteString(OpString(n.Kind, n.Attrs))
	}
	if len(n.Inputs) > 0 {
		ins := make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			ins[i] = fmt.Sprintf("%%%d", in)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(ins, ", "))
	}
	fmt.Fprintf(&b, " %v", n.Shape)
	if n.Scope != "" {
		b.WriteString(" " + n.Scope)
	}
	if n.Aux {
		b.WriteString(" aux")
	}
	if n.Elided {
		b.WriteString(" elided")
	}
	c := g.NodeCost(n)
	if c.Params > 0 {
		fmt.Fprintf(&b, " p=%d", c.Params)
	}
	if n.Src.File != "" {
		fmt.Fprintf(&b, " @%s:%d:%d", filepath.Base(n.Src.File), n.Src.Start.Line, n.Src.Start.Col)
	}
	return b.String()
}

// OpString is the compact text of one operation: "conv 3x3 s2 d1 f32".
func OpString(k Kind, a Attrs) string {
	s := string(k)
	switch k {
	case Conv, DWConv, AvgPool, MaxPool:
		s += fmt.Sprintf(" %dx%d s%d", a.KH, a.KW, a.Stride)
		if a.Dilation > 1 {
			s += fmt.Sprintf(" d%d", a.Dilation)
		}
		if a.Pad == Valid {
			s += " valid"
		}
		if k == Conv {
			s += fmt.Sprintf(" f%d", a.Filters)
		}
		if a.Folded {
			s += " +bias"
		}
	case Zero:
		s += fmt.Sprintf(" s%d f%d", a.Stride, a.Filters)
	case Dense:
		s += fmt.Sprintf(" f%d", a.Filters)
	case DropPath, Dropout:
		s += fmt.Sprintf(" keep=%.4g", a.Keep)
	}
	return s
}
