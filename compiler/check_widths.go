package compiler

// Widths. A branch's width, in units of the cell's F, follows from its
// input and its ops' primitives (PrimInfo.Projects); an add of two
// branches of different widths, or an id of a state not F wide, would be
// a shape error deep in the builder, so it is reported here, at the
// block.

import (
	"fmt"
)

// checkWidths finds the width mismatches the cell would have in every
// network it is built into, and reports them at the block rather than as
// a shape error from the builder. Widths are in units of the cell's
// filter count F: cell inputs are brought to F (all but the first cells
// of a network, whose inputs may be the stem's), a concat block is as wide
// as its two branches together, and an op outputs F if it ends in a stage
// that projects (PrimInfo.Projects: conv, pw, fit, project, freduce,
// zero), else its input's width.
func (c *checker) checkWidths(cell *Cell) bool {
	ok := true
	widths := make([]int, len(cell.Blocks))
	width := func(r StateRef) int {
		if r.isInput() {
			return 1
		}
		return widths[r.Block]
	}
	refName := func(r StateRef) string {
		if r.isInput() {
			if r.Input == 0 {
				return "h_i"
			}
			return fmt.Sprintf("h_i-%d", r.Input)
		}
		return cell.Blocks[r.Block].Name
	}
	for bi, b := range cell.Blocks {
		var w [2]int
		for side, in := range b.Inputs {
			w[side] = width(in)
			for _, p := range b.Ops[side].Prims {
				switch {
				case primitives[p.Name].Projects:
					w[side] = 1
				case p.Name == "id":
					if w[side] != 1 {
						c.diags.Errorf(b.OpSpans[side], "op %q applies id to %s, which is %s wide", b.Ops[side].Name, refName(in), units(w[side])).Detail =
							"id passes only F-wide states through unchanged; use identity or skip_connect, which project to F"
						ok = false
					}
				}
			}
		}
		widths[bi] = max(w[0], w[1])
		switch b.Combine {
		case "concat":
			widths[bi] = w[0] + w[1]
		default:
			if w[0] == w[1] {
				continue
			}
			wide := 0
			if w[1] > w[0] {
				wide = 1
			}
			c.diags.Errorf(cell.Decl.Blocks[bi].Combine.Span, "block %s cannot %s branches of widths %s and %s", b.Name, b.Combine, units(w[0]), units(w[1])).Detail =
				fmt.Sprintf("%s keeps the width of %s (%s); end it in a stage that outputs F (conv, pw, fit or project, as identity does), or use combine: concat", b.Ops[wide].Name, refName(b.Inputs[wide]), units(w[wide]))
			ok = false
		}
	}
	return ok
}

// units prints a width in units of F: F, 2F, ...
func units(n int) string {
	if n == 1 {
		return "F"
	}
	return fmt.Sprintf("%dF", n)
}
