package cli

import (
	"fmt"
	"io"
	"strings"

	"cellc/compiler/ir"
)

// dotQuote quotes s as a DOT string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// writeGraphDOT writes g as a Graphviz digraph: one node per IR node
// labelled with its operation and output shape, one cluster per stage
// (the stem, each cell, the aux head, the classifier).
func writeGraphDOT(w io.Writer, g *ir.Graph) {
	fmt.Fprintf(w, "digraph %s {\n", dotQuote(g.Name))
	fmt.Fprintln(w, "  rankdir=TB;")
	fmt.Fprintln(w, `  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=10];`)
	fmt.Fprintln(w, `  edge [arrowsize=0.6];`)
	type cluster struct {
		key, name string
		nodes     []*ir.Node
	}
	var clusters []*cluster
	byKey := map[string]*cluster{}
	for _, n := range g.Nodes {
		key, name, _ := stageOf(n)
		c := byKey[key]
		if c == nil {
			c = &cluster{key: key, name: name}
			byKey[key] = c
			clusters = append(clusters, c)
		}
		c.nodes = append(c.nodes, n)
	}
	for i, c := range clusters {
		indent := "  "
		if c.key != "input" {
			fmt.Fprintf(w, "  subgraph cluster_%d {\n    label=%s;\n    style=rounded; color=gray60; fontname=\"Helvetica\";\n", i, dotQuote(c.name))
			indent = "    "
		}
		for _, n := range c.nodes {
			fmt.Fprintf(w, "%sn%d [label=%s, fillcolor=%s, tooltip=%s];\n", indent, n.ID, dotQuote(nodeLabel(n)), kindColor(n.Kind), dotQuote(n.Scope))
		}
		if c.key != "input" {
			fmt.Fprintln(w, "  }")
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			fmt.Fprintf(w, "  n%d -> n%d;\n", in, n.ID)
		}
	}
	fmt.Fprintln(w, "}")
}

func nodeLabel(n *ir.Node) string {
	op := ir.OpString(n.Kind, n.Attrs)
	if n.Kind == ir.Fused {
		parts := make([]string, len(n.Chain))
		for i, s := range n.Chain {
			parts[i] = ir.OpString(s.Kind, s.Attrs)
		}
		op = strings.Join(parts, "\n")
	}
	if n.Elided {
		op += " (elided)"
	}
	return op + "\n" + n.Shape.String()
}

func kindColor(k ir.Kind) string {
	switch k {
	case ir.Conv, ir.DWConv, ir.Dense, ir.Fused:
		return dotQuote("#fff2a8")
	case ir.Add, ir.Concat:
		return dotQuote("#c8e6b9")
	case ir.AvgPool, ir.MaxPool, ir.GlobalAvg:
		return dotQuote("#cfe2f3")
	}
	return "white"
}
