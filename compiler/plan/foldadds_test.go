package plan

import (
	"testing"

	"cellc/compiler/ir"
)

// addGraph is input → a → b, add(a, b) → relu (the output), with a and
// b convs (1×1, 4 channels) or pools as asked; extra, when set, makes a
// second reader of a.
func addGraph(aConv, bConv, extra bool) *ir.Graph {
	g := &ir.Graph{Name: "t", AuxOutput: -1}
	s := ir.Shape{C: 4, H: 4, W: 4}
	op := func(conv bool, in int) *ir.Node {
		if conv {
			return &ir.Node{Kind: ir.Conv, Attrs: ir.Attrs{KH: 1, KW: 1, Stride: 1, Filters: 4}, Inputs: []int{in}, Shape: s}
		}
		return &ir.Node{Kind: ir.AvgPool, Attrs: ir.Attrs{KH: 3, KW: 3, Stride: 1}, Inputs: []int{in}, Shape: s}
	}
	g.Add(&ir.Node{Kind: ir.Input, Shape: s})
	a := g.Add(op(aConv, 0))
	b := g.Add(op(bConv, 0))
	sum := g.Add(&ir.Node{Kind: ir.Add, Inputs: []int{a, b}, Shape: s})
	out := g.Add(&ir.Node{Kind: ir.ReLU, Inputs: []int{sum}, Shape: s})
	if extra {
		out = g.Add(&ir.Node{Kind: ir.Add, Inputs: []int{out, a}, Shape: s})
	}
	g.Output = out
	return g
}

// TestFoldAddsRefuses checks the adds that must not fold: the later
// operand not a conv, an operand with another reader, a training plan,
// and (in these small graphs, where the add's output reuses the buffer
// of a value still live while its operands are computed) a buffer that
// is not free. foldadds_nasnet_test.go checks the adds that do fold.
func TestFoldAddsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name                string
		aConv, bConv, extra bool
		training            bool
	}{
		{"conv then pool", true, false, false, false},
		{"operand read twice", true, true, true, false},
		{"training", true, true, false, true},
		{"buffer not free", true, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := addGraph(tc.aConv, tc.bConv, tc.extra)
			g.Training = tc.training
			p, err := Lower(g)
			if err != nil {
				t.Fatal(err)
			}
			adds := 0
			for _, st := range p.Launches {
				if st.Kernel == "add" {
					adds++
				}
				if st.Accumulate {
					t.Errorf("s%d accumulates", st.ID)
				}
			}
			if want := 1 + btoi(tc.extra); adds != want {
				t.Errorf("%d add launches, want %d", adds, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
