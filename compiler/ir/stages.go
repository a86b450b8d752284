package ir

import (
	"fmt"
	"strings"
)

// A graph's stages, the rows of `cellc build`'s summary and the clusters
// of `cellc draw`: the input, the stem, each cell, the classifier and the
// aux head, found from the nodes' cells and scopes.

// Stage is one row of a network's summary: a group of nodes (the stem conv,
// one cell, the aux head, the classifier) with their summed cost.
type Stage struct {
	Key  string // unique per stage: "input", "stem", "cell 3", "aux", "final"
	Name string // for display: the cell's scope, "stem", "final_layer"
	Kind string // "image", "conv", "stem cell", "normal", "reduction", "aux head", "classifier"
	Out  Shape  // the stage's output (its last endpoint's, else its last node's)
	Cost Cost   // summed over its nodes
	Aux  bool   // part of the aux head
}

// StageOf names the stage a node belongs to: its key (unique per stage),
// a display name and a kind. Cells are grouped by Node.Cell; the nodes
// outside cells (Cell == -1) by Aux and scope.
func StageOf(n *Node) (key, name, kind string) {
	prefix, _, _ := strings.Cut(n.Scope, "/")
	switch {
	case n.Kind == Input:
		return "input", "input", "image"
	case n.Aux:
		return "aux", prefix, "aux head"
	case n.Cell >= 0:
		kind := "normal"
		switch {
		case strings.HasPrefix(prefix, "cell_stem_"):
			kind = "stem cell"
		case strings.HasPrefix(prefix, "reduction_cell_"):
			kind = "reduction"
		}
		return fmt.Sprintf("cell %d", n.Cell), prefix, kind
	case strings.HasPrefix(prefix, "final_layer"):
		return "final", "final_layer", "classifier"
	}
	return "stem", "stem", "conv"
}

// Stages groups g's nodes into summary rows in schedule order, the aux
// head last. A row's output shape is its last endpoint's (the cell output,
// the logits), else its last node's.
func Stages(g *Graph) []*Stage {
	byKey := map[string]*Stage{}
	var order []*Stage
	for _, n := range g.Nodes {
		key, name, kind := StageOf(n)
		s := byKey[key]
		if s == nil {
			s = &Stage{Key: key, Name: name, Kind: kind, Aux: n.Aux}
			byKey[key] = s
			order = append(order, s)
		}
		c := g.NodeCost(n)
		s.Cost.Params += c.Params
		s.Cost.Moving += c.Moving
		s.Cost.MultAdd += c.MultAdd
		s.Out = n.Shape
	}
	for _, e := range g.Endpoints {
		key, _, _ := StageOf(g.Nodes[e.Node])
		byKey[key].Out = g.Nodes[e.Node].Shape
	}
	// A cell named like a normal one that halves the resolution is a
	// reduction in place of a layer (PNASNet's and DARTS' cell_4, cell_8).
	lastH := 0
	for _, s := range order {
		if !strings.HasPrefix(s.Key, "cell ") || s.Aux {
			continue
		}
		if s.Kind == "normal" && lastH > 0 && s.Out.H < lastH {
			s.Kind = "reduction"
		}
		lastH = s.Out.H
	}
	var rows, aux []*Stage
	for _, s := range order {
		if s.Aux {
			aux = append(aux, s)
		} else {
			rows = append(rows, s)
		}
	}
	return append(rows, aux...)
}
