package onnx

import (
	"testing"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
)

// TestReadViews checks how reads of a reused buffer name values: a view
// written whole, channel slices that tile it (one Concat, made once), a
// channel range of a larger value (a Slice), and a view nothing wrote.
func TestReadViews(t *testing.T) {
	b := newBuilder(&plan.Plan{}, nil, Options{})
	s := func(c int) ir.Shape { return ir.Shape{C: c, H: 2, W: 2} }
	view := func(buf, c0, c, of int) plan.View {
		return plan.View{Buffer: buf, Offset: c0 * 4, Stride: of * 4, Shape: s(c)}
	}
	b.write(view(1, 0, 2, 5), "cell/a")
	b.write(view(1, 2, 3, 5), "cell/b")
	whole := view(1, 0, 5, 5)
	got, err := b.read(whole)
	if err != nil || got != "cell/concat" {
		t.Fatalf("read of the tiled buffer: %q, %v", got, err)
	}
	if again, _ := b.read(whole); again != got || len(b.g.nodes) != 1 {
		t.Errorf("a second read made %q and %d nodes; the Concat should be reused", again, len(b.g.nodes))
	}
	if n := b.g.nodes[0]; n.opType != "Concat" || len(n.input) != 2 || n.input[0] != "cell/a" || n.input[1] != "cell/b" {
		t.Errorf("concat node %+v", n)
	}
	b.write(view(1, 2, 3, 5), "cell/c")
	if got, _ := b.read(whole); got != "cell/concat_2" {
		t.Errorf("after a slice was overwritten the read gave %q, want a new Concat", got)
	}
	if got, _ := b.read(view(1, 2, 3, 5)); got != "cell/c" {
		t.Errorf("read of a written slice: %q", got)
	}
	b.write(plan.View{Buffer: 2, Stride: 20, Shape: s(5)}, "x")
	got, err = b.read(view(2, 1, 2, 5))
	if err != nil || got != "x/channels" || b.g.nodes[len(b.g.nodes)-1].opType != "Slice" {
		t.Errorf("read of channels 1..3 of x: %q, %v", got, err)
	}
	// A value of another layout replaces everything in the buffer.
	b.write(plan.View{Buffer: 1, Stride: 8, Shape: s(2)}, "y")
	if _, err := b.read(view(1, 2, 3, 5)); err == nil {
		t.Error("a slice of a buffer's earlier layout is still readable")
	}
	if _, err := b.read(view(3, 0, 1, 1)); err == nil {
		t.Error("a buffer nothing wrote is readable")
	}
}
