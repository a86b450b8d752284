package plan

import (
	"testing"

	"cellc/compiler/ir"
)

// chainGraph is input → relu → relu → add(relu1, relu2): relu1 is live
// until the add, so relu2 must not share its buffer.
func chainGraph() *ir.Graph {
	g := &ir.Graph{Name: "t", AuxOutput: -1}
	s := ir.Shape{C: 4, H: 2, W: 2}
	g.Add(&ir.Node{Kind: ir.Input, Shape: s})
	g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{0}, Shape: s})
	g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{1}, Shape: s})
	g.Add(&ir.Node{Kind: ir.Add, Inputs: []int{1, 2}, Shape: s})
	g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{3}, Shape: s})
	g.Output = 4
	return g
}

func TestVerifyCatchesSharedLiveBuffers(t *testing.T) {
	g := chainGraph()
	l := &lowering{g: g, p: &Plan{Name: g.Name}}
	l.values()
	l.assignBuffers()
	l.steps()
	if err := l.verify(); err != nil {
		t.Fatalf("correct assignment rejected: %v", err)
	}
	if l.view[1].Buffer == l.view[2].Buffer {
		t.Fatalf("relu1 and relu2 are live together but share b%d", l.view[1].Buffer)
	}
	l.view[2].Buffer = l.view[1].Buffer // corrupt it
	if err := l.verify(); err == nil {
		t.Fatal("overlapping live values not detected")
	}
}

func TestInferenceReusesBuffers(t *testing.T) {
	p, err := Lower(chainGraph())
	if err != nil {
		t.Fatal(err)
	}
	// input, relu1, relu2 are needed together at the add; the last relu
	// can reuse a dead buffer.
	if len(p.Buffers) != 3 {
		t.Errorf("%d buffers, want 3", len(p.Buffers))
	}
	if p.Memory.Forward >= p.Memory.Unshared {
		t.Errorf("no reuse: forward %d, unshared %d", p.Memory.Forward, p.Memory.Unshared)
	}
}

func TestBackwardAccumulatesSharedInputs(t *testing.T) {
	g := chainGraph()
	g.Training = true
	p, err := Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Backward) != len(p.Launches) {
		t.Fatalf("%d backward steps for %d forward", len(p.Backward), len(p.Launches))
	}
	// Reverse order: relu3, add, relu2, relu1. The add writes relu1's
	// gradient first, relu2's backward then adds to it.
	order := []int{3, 2, 1, 0}
	for i, gs := range p.Backward {
		if gs.Forward != order[i] {
			t.Fatalf("backward[%d] is step %d, want %d", i, gs.Forward, order[i])
		}
	}
	add, relu2 := p.Backward[1], p.Backward[2]
	if add.Accumulate[0] || add.Accumulate[1] {
		t.Errorf("add overwrites its input gradients, got accumulate %v", add.Accumulate)
	}
	if !relu2.Accumulate[0] || *relu2.InGrads[0] != *add.InGrads[0] {
		t.Errorf("relu2 must accumulate into relu1's gradient %v, got %v accumulate=%v", *add.InGrads[0], *relu2.InGrads[0], relu2.Accumulate)
	}
	if p.Backward[3].InGrads[0] != nil {
		t.Errorf("the image needs no gradient")
	}
}
