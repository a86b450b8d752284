package compiler

import (
	"strings"
	"testing"

	"cellc/compiler/ir"
)

// Every pass's ordering constraints hold in the table.
func TestPassOrder(t *testing.T) {
	pos := map[string]int{}
	for i, p := range passes {
		if _, dup := pos[p.name]; dup {
			t.Errorf("pass %s listed twice", p.name)
		}
		pos[p.name] = i
	}
	for i, p := range passes {
		for _, a := range p.after {
			j, ok := pos[a]
			if !ok {
				t.Errorf("pass %s runs after unknown pass %s", p.name, a)
			} else if j >= i {
				t.Errorf("pass %s must run after %s, but the table has it at %d, %s at %d", p.name, a, i, a, j)
			}
		}
	}
}

func TestFusionRules(t *testing.T) {
	cfg, _ := Preset("cifar")
	for _, training := range []bool{true, false} {
		cfg.Training = training
		cfg.N, cfg.BaseFilters = 1, 8
		res := buildSpec(t, "../specs/nasnet_a.cell", cfg)
		kernels := map[string]int{}
		for _, n := range res.Graph.Nodes {
			if n.Kind == ir.Fused {
				var names []string
				for _, s := range n.Chain {
					names = append(names, string(s.Kind))
				}
				kernels[strings.Join(names, ">")]++
			}
			if n.Kind == ir.DWConv {
				t.Errorf("unfused depthwise conv %s", res.Graph.NodeString(n))
			}
			if !training && n.Kind == ir.BatchNorm && res.Graph.Nodes[n.Inputs[0]].Kind == ir.Conv {
				t.Errorf("inference graph keeps a foldable BN: %s", res.Graph.NodeString(n))
			}
		}
		want := "relu>dwconv>conv>bn"
		if !training {
			want = "relu>dwconv>conv"
		}
		if kernels[want] == 0 {
			t.Errorf("training=%v: no %s kernels; got %v", training, want, kernels)
		}
		// Fusion never changes what is computed: same parameters.
		before, _ := res.Built.Costs()
		after, _ := res.Graph.Costs()
		if training && before != after {
			t.Errorf("fusion changed costs: %+v → %+v", before, after)
		}
		if !training && after.Moving >= before.Moving {
			t.Errorf("BN folding left moving statistics %d (was %d)", after.Moving, before.Moving)
		}
	}
}

func TestDeadStateElimination(t *testing.T) {
	g := &ir.Graph{Name: "t", AuxOutput: -1}
	s := ir.Shape{C: 2, H: 2, W: 2}
	g.Add(&ir.Node{Kind: ir.Input, Shape: s})
	g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{0}, Shape: s}) // dead
	g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{0}, Shape: s})
	g.Output = 2
	out := eliminateDead(g)
	if len(out.Nodes) != 2 || out.Output != 1 {
		t.Fatalf("got %d nodes, output %%%d:\n%s", len(out.Nodes), out.Output, out)
	}
	if err := ir.Verify(out); err != nil {
		t.Fatal(err)
	}
}

// mergeCommon merges a pool computed twice from the same input (and so a
// pool of a merged pool), and never merges what differs in kind,
// attributes or input, nor ReLUs, drop path or dropout.
func TestMergeCommon(t *testing.T) {
	g := &ir.Graph{Name: "t", AuxOutput: -1}
	s := ir.Shape{C: 2, H: 4, W: 4}
	pool := ir.Attrs{KH: 3, KW: 3, Stride: 1, Pad: ir.Same}
	in := g.Add(&ir.Node{Kind: ir.Input, Shape: s})
	a := g.Add(&ir.Node{Kind: ir.AvgPool, Attrs: pool, Inputs: []int{in}, Shape: s})
	b := g.Add(&ir.Node{Kind: ir.AvgPool, Attrs: pool, Inputs: []int{in}, Shape: s}) // = a
	c := g.Add(&ir.Node{Kind: ir.MaxPool, Attrs: pool, Inputs: []int{in}, Shape: s})
	d := g.Add(&ir.Node{Kind: ir.AvgPool, Attrs: pool, Inputs: []int{a}, Shape: s})
	e := g.Add(&ir.Node{Kind: ir.AvgPool, Attrs: pool, Inputs: []int{b}, Shape: s}) // = d, through b = a
	r1 := g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{in}, Shape: s})
	r2 := g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{in}, Shape: s})
	p1 := g.Add(&ir.Node{Kind: ir.DropPath, Attrs: ir.Attrs{Keep: 0.5}, Inputs: []int{d}, Shape: s})
	p2 := g.Add(&ir.Node{Kind: ir.DropPath, Attrs: ir.Attrs{Keep: 0.5}, Inputs: []int{e}, Shape: s})
	g.Output = g.Add(&ir.Node{Kind: ir.Add, Inputs: []int{b, c, e, r1, r2, p1, p2}, Shape: s})
	out := mergeCommon(g)
	if err := ir.Verify(out); err != nil {
		t.Fatal(err)
	}
	counts := map[ir.Kind]int{}
	for _, n := range out.Nodes {
		counts[n.Kind]++
	}
	want := map[ir.Kind]int{ir.Input: 1, ir.AvgPool: 2, ir.MaxPool: 1, ir.ReLU: 2, ir.DropPath: 2, ir.Add: 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s nodes after merging, want %d:\n%s", counts[k], k, n, out)
		}
	}
	// The add reads the surviving pool where it read b, and the pool of
	// it where it read e.
	add := out.Nodes[out.Output]
	first, second := out.Nodes[add.Inputs[0]], out.Nodes[add.Inputs[2]]
	if first.Kind != ir.AvgPool || first.Inputs[0] != 0 || second.Kind != ir.AvgPool || second.Inputs[0] != first.ID {
		t.Errorf("the add reads %v:\n%s", add.Inputs, out)
	}
}
