package plan_test

import (
	"testing"

	"cellc/compiler/plan"
)

// TestFoldAddsNASNet: NASNet-A's inference plan folds the adds of its
// separable-conv pairs and pool-then-conv pairs. Each accumulating
// launch adds into what an earlier launch wrote to the same view, and
// nothing between them reads or writes that view; the training plan
// folds none.
func TestFoldAddsNASNet(t *testing.T) {
	p := lowerSpec(t, "../../specs/nasnet_a.cell", false)
	folded := 0
	for j, st := range p.Launches {
		if !st.Accumulate {
			continue
		}
		folded++
		if k := st.Ops[len(st.Ops)-1].Kind; k != "conv" {
			t.Errorf("s%d accumulates from a %s", st.ID, k)
		}
		i := j - 1
		for ; i >= 0 && p.Launches[i].Output != st.Output; i-- {
			between := p.Launches[i]
			if meets(between.Output, st.Output) {
				t.Errorf("s%d writes %v between the two halves of s%d's add", between.ID, between.Output, st.ID)
			}
			for _, v := range between.Inputs {
				if meets(v, st.Output) {
					t.Errorf("s%d reads %v between the two halves of s%d's add", between.ID, v, st.ID)
				}
			}
		}
		if i < 0 {
			t.Errorf("s%d accumulates into %v, which no earlier launch wrote", st.ID, st.Output)
		}
	}
	if folded == 0 {
		t.Fatal("no add folded")
	}
	for _, st := range lowerSpec(t, "../../specs/nasnet_a.cell", true).Launches {
		if st.Accumulate {
			t.Fatalf("the training plan's s%d accumulates", st.ID)
		}
	}
}

func meets(a, b plan.View) bool {
	return a.Buffer == b.Buffer && a.Offset < b.Offset+b.Shape.Elems() && b.Offset < a.Offset+a.Shape.Elems()
}
