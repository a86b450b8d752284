package compiler

import "cellc/compiler/ir"

// fusionRule fuses a straight chain of nodes into one kernel. Rules are
// data: a name and the kinds to match, tried in order, longest first, so
// what is fused is decided here and nowhere else.
type fusionRule struct {
	name  string
	chain []matcher
}

// matcher matches one node of a chain.
type matcher struct {
	kind      ir.Kind
	pointwise bool // a 1x1, stride-1 conv
}

func (m matcher) match(n *ir.Node) bool {
	if n.Kind != m.kind {
		return false
	}
	if m.pointwise {
		a := n.Attrs
		return a.KH == 1 && a.KW == 1 && a.Stride == 1
	}
	return true
}

var (
	relu = matcher{kind: ir.ReLU}
	conv = matcher{kind: ir.Conv}
	dw   = matcher{kind: ir.DWConv}
	pw   = matcher{kind: ir.Conv, pointwise: true}
	bn   = matcher{kind: ir.BatchNorm}
)

// fusionRules: the paper's ReLU→conv→BN ordering and its separable convs
// (depthwise then pointwise with nothing between) make these the chains
// that occur; after BN folding the BN-less forms remain.
var fusionRules = []fusionRule{
	{"relu-sep-bn", []matcher{relu, dw, pw, bn}},
	{"relu-sep", []matcher{relu, dw, pw}},
	{"sep-bn", []matcher{dw, pw, bn}},
	{"relu-conv-bn", []matcher{relu, conv, bn}},
	{"sep", []matcher{dw, pw}},
	{"relu-conv", []matcher{relu, conv}},
	{"conv-bn", []matcher{conv, bn}},
}

// fuse replaces every chain a rule matches with one Fused node placed
// where the chain's last node was. A chain may only continue through a
// node whose sole reader is the next node, so no intermediate value that
// something else needs disappears.
func fuse(g *ir.Graph) *ir.Graph {
	uses := g.Uses()
	taken := make([]bool, len(g.Nodes))
	chainAt := map[int][]int{} // last node → chain of node IDs
	for _, n := range g.Nodes {
		if taken[n.ID] {
			continue
		}
		for _, r := range fusionRules {
			ids := matchChain(g, uses, taken, n, r.chain)
			if ids == nil {
				continue
			}
			for _, id := range ids {
				taken[id] = true
			}
			chainAt[ids[len(ids)-1]] = ids
			break
		}
	}
	out, newID := rebuildMap(g, func(n *ir.Node) (bool, int) {
		if taken[n.ID] && chainAt[n.ID] == nil {
			return false, -1 // inside a chain: never read from outside it
		}
		return true, -1
	})
	// rebuild kept each chain's last node in place; turn it into the
	// fused node.
	for last, ids := range chainAt {
		f := out.Nodes[newID[last]]
		first := g.Nodes[ids[0]]
		f.Kind = ir.Fused
		f.Attrs = ir.Attrs{}
		f.Chain = make([]ir.ChainOp, len(ids))
		for i, id := range ids {
			m := g.Nodes[id]
			f.Chain[i] = ir.ChainOp{Kind: m.Kind, Attrs: m.Attrs, Shape: m.Shape, Scope: m.Scope}
		}
		f.Inputs = []int{newID[first.Inputs[0]]}
		f.Scope = first.Scope
		f.Src = first.Src
	}
	return out
}

// matchChain returns the IDs of the chain starting at n that rule
// matches, or nil.
func matchChain(g *ir.Graph, uses [][]int, taken []bool, n *ir.Node, rule []matcher) []int {
	ids := make([]int, 0, len(rule))
	cur := n
	for i, m := range rule {
		if taken[cur.ID] || !m.match(cur) || (i > 0 && len(cur.Inputs) != 1) {
			return nil
		}
		ids = append(ids, cur.ID)
		if i == len(rule)-1 {
			break
		}
		if len(uses[cur.ID]) != 1 || cur.ID == g.Output || cur.ID == g.AuxOutput {
			return nil
		}
		cur = g.Nodes[uses[cur.ID][0]]
	}
	return ids
}
