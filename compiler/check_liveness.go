package compiler

// Liveness. A cell without out: outputs the paper's rule, the blocks no
// block reads; a block whose result reaches no output is legal but dead
// (the builder removes it), so it gets a warning, not an error.

import (
	"fmt"

	"cellc/lang"
)

// unusedBlocks is the paper's output rule: the blocks no block reads.
func unusedBlocks(cell *Cell) []StateRef {
	used := make([]bool, len(cell.Blocks))
	for _, b := range cell.Blocks {
		for _, in := range b.Inputs {
			if !in.isInput() {
				used[in.Block] = true
			}
		}
	}
	var out []StateRef
	for i, u := range used {
		if !u {
			out = append(out, StateRef{Input: -1, Block: i, Span: cell.Blocks[i].Span})
		}
	}
	return out
}

// warnDead warns about blocks whose result reaches no output.
func (c *checker) warnDead(cell *Cell) {
	live := make([]bool, len(cell.Blocks))
	var mark func(r StateRef)
	mark = func(r StateRef) {
		if r.isInput() || live[r.Block] {
			return
		}
		live[r.Block] = true
		for _, in := range cell.Blocks[r.Block].Inputs {
			mark(in)
		}
	}
	for _, o := range cell.Out {
		mark(o)
	}
	for i, l := range live {
		if !l {
			c.diags = append(c.diags, lang.Diagnostic{
				Severity: lang.Warning,
				Summary:  fmt.Sprintf("block %s of cell %q reaches no output and will be removed", cell.Blocks[i].Name, cell.Name),
				Detail:   "list it in out: or read it from a later block",
				Subject:  cell.Blocks[i].Span,
			})
		}
	}
}
