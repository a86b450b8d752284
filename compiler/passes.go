package compiler

import (
	"fmt"
	"time"

	"cellc/compiler/ir"
)

// pass is one named rewrite of the graph. The pipeline reads top to
// bottom in the passes table; ordering constraints are checked by a test.
type pass struct {
	name  string
	doc   string
	fn    func(*ir.Graph) *ir.Graph
	when  func(Config) bool // nil: always
	after []string          // passes that must run earlier
}

// passes is the pipeline. Every pass returns a new graph (or the same one
// untouched) and the verifier runs after each.
var passes = []pass{
	{name: "shapes", doc: "re-infer and check every shape", fn: inferShapes},
	{name: "cse", doc: "merge ops that compute the same value (the same pool of the same input twice)", fn: mergeCommon, after: []string{"shapes"}},
	{name: "dse", doc: "dead-state elimination: drop nodes no output reads", fn: eliminateDead, after: []string{"shapes", "cse"}},
	{name: "fold-bn", doc: "fold batch norms into the convs before them (inference only)", fn: foldBatchNorm, when: func(c Config) bool { return !c.Training }, after: []string{"dse"}},
	{name: "fuse", doc: "fuse ReLU→conv→BN and depthwise→pointwise chains (rules in fusion.go)", fn: fuse, after: []string{"dse", "fold-bn"}},
	{name: "elide-concat", doc: "let concat inputs write into slices of one buffer", fn: elideConcats, after: []string{"fuse"}},
}

// PassTiming is one pass's wall time.
type PassTiming struct {
	Name     string
	Duration time.Duration
	Nodes    int // nodes after the pass
}

// RunPasses runs the pipeline on g, verifying after each pass.
func RunPasses(g *ir.Graph, cfg Config, opts Options, res *Result) (*ir.Graph, error) {
	if err := checkDumpNames(opts.DumpAfter); err != nil {
		return nil, err
	}
	dump := map[string]bool{}
	for _, n := range opts.DumpAfter {
		dump[n] = true
	}
	for _, p := range passes {
		if p.when != nil && !p.when(cfg) {
			continue
		}
		start := time.Now()
		g = p.fn(g)
		if res != nil {
			res.Timings = append(res.Timings, PassTiming{Name: p.name, Duration: time.Since(start), Nodes: len(g.Nodes)})
		}
		if !opts.NoVerify {
			if err := ir.Verify(g); err != nil {
				return nil, fmt.Errorf("internal error: IR fails verification after pass %s: %v", p.name, err)
			}
		}
		if dump[p.name] && res != nil {
			res.Dumps[p.name] = g.String()
		}
	}
	return g, nil
}

// inferShapes recomputes every shape from the inputs'. The builder
// already inferred them; this pass is the reference the verifier checks.
func inferShapes(g *ir.Graph) *ir.Graph {
	g = g.Clone()
	for _, n := range g.Nodes {
		if n.Kind == ir.Input {
			continue
		}
		in := make([]ir.Shape, len(n.Inputs))
		for i, id := range n.Inputs {
			in[i] = g.Nodes[id].Shape
		}
		var s ir.Shape
		var err error
		if n.Kind == ir.Fused {
			s, err = ir.InferChain(n.Chain, in)
		} else {
			s, err = ir.Infer(n.Kind, n.Attrs, in)
		}
		if err == nil {
			n.Shape = s
		}
	}
	return g
}

// eliminateDead keeps only the nodes the outputs depend on.
func eliminateDead(g *ir.Graph) *ir.Graph {
	live := make([]bool, len(g.Nodes))
	var stack []int
	push := func(id int) {
		if id >= 0 && !live[id] {
			live[id] = true
			stack = append(stack, id)
		}
	}
	push(g.Output)
	push(g.AuxOutput)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, in := range g.Nodes[id].Inputs {
			push(in)
		}
	}
	live[0] = true // the image input stays even if nothing reads it
	return rebuild(g, func(n *ir.Node) (keep bool, alias int) { return live[n.ID], -1 })
}

// mergeCommon replaces every node that computes what an earlier node
// computes — the same parameter-free, deterministic op (a pool, a shift,
// a global average) with the same attributes on the same inputs — by
// that earlier node. NASNet-A's normal cell averages h_{i-1} with two
// identical 3×3 pools and adds them; one pool is enough. Ops with
// parameters, and drop path and dropout, whose masks are drawn per node,
// are never merged; nor are ReLUs: each ReLU in front of a conv fuses
// into it (and costs nothing there), while a shared one would have to
// store its output.
func mergeCommon(g *ir.Graph) *ir.Graph {
	type key struct {
		kind   ir.Kind
		attrs  ir.Attrs
		inputs string
		aux    bool
	}
	canon := make([]int, len(g.Nodes))
	seen := map[key]int{}
	merged := false
	for _, n := range g.Nodes {
		canon[n.ID] = n.ID
		switch n.Kind {
		case ir.AvgPool, ir.MaxPool, ir.Shift, ir.GlobalAvg:
		default:
			continue
		}
		k := key{kind: n.Kind, attrs: n.Attrs, aux: n.Aux}
		for _, in := range n.Inputs {
			k.inputs += fmt.Sprintf("%d,", canon[in])
		}
		if first, ok := seen[k]; ok {
			canon[n.ID] = first
			merged = true
			continue
		}
		seen[k] = n.ID
	}
	if !merged {
		return g
	}
	return rebuild(g, func(n *ir.Node) (bool, int) {
		if canon[n.ID] != n.ID {
			return false, canon[n.ID]
		}
		return true, -1
	})
}

// rebuild copies g keeping the nodes keep accepts; a dropped node with an
// alias >= 0 is replaced by that (earlier) node wherever it is read.
func rebuild(g *ir.Graph, keep func(*ir.Node) (bool, int)) *ir.Graph {
	out, _ := rebuildMap(g, keep)
	return out
}

// rebuildMap is rebuild that also returns each old node's new ID (-1 when
// dropped without an alias).
func rebuildMap(g *ir.Graph, keep func(*ir.Node) (bool, int)) (*ir.Graph, []int) {
	out := &ir.Graph{Name: g.Name, Training: g.Training, AuxOutput: -1}
	newID := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		ok, alias := keep(n)
		if !ok {
			newID[n.ID] = -1
			if alias >= 0 {
				newID[n.ID] = newID[alias]
			}
			continue
		}
		m := *n
		m.Inputs = make([]int, len(n.Inputs))
		for i, in := range n.Inputs {
			m.Inputs[i] = newID[in]
		}
		m.Chain = append([]ir.ChainOp(nil), n.Chain...)
		newID[n.ID] = out.Add(&m)
	}
	out.Output = newID[g.Output]
	if g.AuxOutput >= 0 {
		out.AuxOutput = newID[g.AuxOutput]
	}
	for _, e := range g.Endpoints {
		if id := newID[e.Node]; id >= 0 {
			out.Endpoints = append(out.Endpoints, ir.Endpoint{Name: e.Name, Node: id})
		}
	}
	return out, newID
}

// foldBatchNorm folds a BN into the conv it follows when the conv has no
// other reader: inference-time BN is an affine map, so it becomes the
// conv's scaled weights and a bias.
func foldBatchNorm(g *ir.Graph) *ir.Graph {
	uses := g.Uses()
	folded := map[int]bool{}
	for _, n := range g.Nodes {
		if n.Kind != ir.BatchNorm {
			continue
		}
		prev := g.Nodes[n.Inputs[0]]
		if prev.Kind == ir.Conv && len(uses[prev.ID]) == 1 && !prev.Attrs.Folded {
			folded[n.ID] = true
		}
	}
	out := rebuild(g, func(n *ir.Node) (bool, int) {
		if folded[n.ID] {
			return false, n.Inputs[0]
		}
		return true, -1
	})
	// Mark the convs that absorbed a BN. rebuild kept their order, so
	// walk both graphs together.
	j := 0
	for _, n := range g.Nodes {
		if folded[n.ID] {
			continue
		}
		if n.Kind == ir.Conv {
			for _, r := range uses[n.ID] {
				if folded[r] {
					out.Nodes[j].Attrs.Folded = true
					out.Nodes[j].Attrs.BNScope = g.Nodes[r].Scope
				}
			}
		}
		j++
	}
	return out
}

// elideConcats marks every concat whose inputs can write straight into
// its buffer. An input other ops read too (a NASNet cell's adjusted input
// h, which its branches read and the cell's output concatenates) can live
// there as well, if they all run before the concat's first reader: in the
// backward pass that reader then writes the whole concat's gradient
// first, and they add theirs into the input's slice of it. An input read
// by another concat, the graph's input and outputs, and an input given
// twice keep their own buffers.
func elideConcats(g *ir.Graph) *ir.Graph {
	g = g.Clone()
	uses := g.Uses()
	for _, n := range g.Nodes {
		if n.Kind == ir.Concat {
			n.Elided = ir.ConcatElidable(g, uses, n) == nil
		}
	}
	return g
}
