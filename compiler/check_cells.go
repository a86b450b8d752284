package compiler

// Cells: each block reads two states through two ops and combines them.
// This file checks a cell's blocks (two inputs, two ops, a known combiner;
// a reduction cell's ops that read an input must stride), resolves state
// references (h_i .. h_i-3, b0 .. bN or a block's name; only earlier
// blocks; reserved and duplicate names) and the out:/route: list (no state
// twice; a routed cell creates as many states as it reads). The parser has
// typed each reference, so nothing here re-reads its text.

import (
	"fmt"
	"slices"
	"sort"

	"cellc/lang"
)

// maxInputs is the most cell inputs a cell may read: h_i .. h_i-3.
const maxInputs = 4

// cellScope is what resolving a state reference inside one cell needs.
type cellScope struct {
	decl   *lang.CellDecl
	names  map[string]int // block name → index, for named blocks
	labels []string       // each block's name: its own, or b0, b1, ..
}

// blockNames checks the names given to blocks and labels every block.
func (c *checker) blockNames(d *lang.CellDecl) (*cellScope, bool) {
	s := &cellScope{decl: d, names: map[string]int{}, labels: make([]string, len(d.Blocks))}
	ok := true
	for bi, bd := range d.Blocks {
		s.labels[bi] = fmt.Sprintf("b%d", bi)
		if bd.Name == nil {
			continue
		}
		n := bd.Name.Name
		if prev, dup := s.names[n]; dup {
			first := d.Blocks[prev].Name.Span
			c.diags.Errorf(bd.Name.Span, "block name %q is used twice in cell %q", n, d.Name.Name).Detail = fmt.Sprintf("the first is at %s; rename one of them", first.Start.Format(first.File))
			ok = false
			continue
		}
		if _, pos := lang.BlockIndex(n); pos && n != s.labels[bi] {
			c.diags.Errorf(bd.Name.Span, "block name %q is reserved", n).Detail = fmt.Sprintf("b0, b1, .. name blocks by position and this block is %s: call it %s or choose another name", s.labels[bi], s.labels[bi])
			ok = false
			continue
		}
		s.names[n] = bi
		s.labels[bi] = n
	}
	return s, ok
}

func (c *checker) cell(d *lang.CellDecl) {
	cell := &Cell{Name: d.Name.Name, Kind: d.Kind, Inputs: 2, Decl: d}
	ok := true
	if len(d.Blocks) == 0 {
		c.diags.Errorf(d.Name.Span, "cell %q has no blocks", cell.Name).Detail = "add at least one: block < in: h_i, h_i-1; op: sep3x3, identity; combine: add >"
		ok = false
	}
	scope, good := c.blockNames(d)
	ok = ok && good
	for bi, bd := range d.Blocks {
		b := &Block{Name: scope.labels[bi], Combine: bd.Combine.Name, Span: bd.Span}
		if len(bd.Inputs) == 0 || len(bd.Ops) == 0 || bd.Combine.Name == "" {
			ok = false // a field is missing, which the parser has reported
		}
		switch n := len(bd.Inputs); {
		case n == 1:
			c.diags.Errorf(bd.Inputs[0].Span, "a block takes 2 inputs, got 1").Detail = "write in: A, B, one state for each op (A and B may be the same state)"
			ok = false
		case n > 2:
			c.diags.Errorf(bd.Inputs[2].Span, "a block takes 2 inputs, got %d", n).Detail = "a block reads one state for each of its two ops; remove the extra ones"
			ok = false
		}
		switch n := len(bd.Ops); {
		case n == 1:
			c.diags.Errorf(bd.Ops[0].Span, "a block applies 2 ops, one per input; got 1").Detail = "write op: OPA, OPB (OPA and OPB may be the same op)"
			ok = false
		case n > 2:
			c.diags.Errorf(bd.Ops[2].Span, "a block applies 2 ops, one per input; got %d", n).Detail = "remove the extra ones"
			ok = false
		}
		for i := 0; i < 2 && i < len(bd.Inputs); i++ {
			r, good := c.ref(bd.Inputs[i], bi, scope)
			ok = ok && good
			b.Inputs[i] = r
			if good && r.isInput() && r.Input+1 > cell.Inputs {
				cell.Inputs = r.Input + 1
			}
		}
		for i := 0; i < 2 && i < len(bd.Ops); i++ {
			o := bd.Ops[i]
			b.OpSpans[i] = o.Span
			op, good := c.blockOp(o)
			if !good {
				ok = false
				continue
			}
			b.Ops[i] = op
			if d.Kind == lang.Reduction && i < len(bd.Inputs) && b.Inputs[i].isInput() && !op.Strides() {
				c.diags.Errorf(o.Span, "op %q never strides, so it cannot read cell input %s in reduction cell %q", o.Name, bd.Inputs[i].Name, cell.Name).Detail = "a reduction cell halves its inputs: pick an op that passes stride: $stride to a stage"
				ok = false
			}
		}
		if b.Combine != "" && !slices.Contains(combiners, b.Combine) {
			d := c.diags.Errorf(bd.Combine.Span, "unknown combiner %q", b.Combine)
			d.Detail = lang.DidYouMean(b.Combine, combiners)
			if d.Detail == "" {
				d.Detail = "combiners are add, concat, add_ln and add_in"
			}
			ok = false
		}
		cell.Blocks = append(cell.Blocks, b)
	}
	if d.Out != nil {
		cell.Route = d.Out.Mode == lang.OutRoute
		seen := map[StateRef]lang.Span{}
		for _, r := range d.Out.Refs {
			s, good := c.ref(r, len(d.Blocks), scope)
			if !good {
				ok = false
				continue
			}
			key := StateRef{Input: s.Input, Block: s.Block}
			if prev, dup := seen[key]; dup {
				c.diags.Errorf(r.Span, "state %s is listed twice", r.Name).Detail = fmt.Sprintf("it is first listed at %s; each state leaves the cell once", prev.Start.Format(prev.File))
				ok = false
				continue
			}
			seen[key] = r.Span
			if s.isInput() && s.Input+1 > cell.Inputs {
				cell.Inputs = s.Input + 1
			}
			cell.Out = append(cell.Out, s)
		}
		if cell.Route && len(cell.Out) != cell.Inputs && ok {
			c.diags.Errorf(d.Out.Span, "cell %q reads %d inputs but routes %d states", cell.Name, cell.Inputs, len(cell.Out)).Detail = "a routed cell must create as many states as it reads (paper, Appendix B)"
			ok = false
		}
	} else if ok {
		cell.Out = unusedBlocks(cell)
	}
	if ok {
		ok = c.checkWidths(cell)
	}
	if !ok {
		return
	}
	c.warnDead(cell)
	c.prog.Cells[cell.Name] = cell
}

// blockOp resolves an op named in a block's op: list.
func (c *checker) blockOp(o lang.Ident) (*Op, bool) {
	if _, known := c.opDecls[o.Name]; known {
		op := c.prog.Ops[o.Name]
		return op, op != nil // a broken op is reported where it is declared
	}
	if _, prim := primitives[o.Name]; prim {
		c.diags.Errorf(o.Span, "%q is a primitive, not an operation", o.Name).Detail = fmt.Sprintf("blocks apply operations; declare one, as in: op my_%s = %s", o.Name, o.Name)
		return nil, false
	}
	d := c.diags.Errorf(o.Span, "unknown operation %q", o.Name)
	if info, ok := c.names[o.Name]; ok {
		d.Summary = fmt.Sprintf("%q is %s %s, not an operation", o.Name, article(info.kind), info.kind)
	}
	d.Detail = lang.DidYouMean(o.Name, c.opNames())
	if d.Detail == "" {
		d.Detail = "`cellc ops` lists the operations"
	}
	return nil, false
}

// ref resolves a state reference read by block `at`, or by the output
// list when at is the number of blocks.
func (c *checker) ref(r lang.Ref, at int, s *cellScope) (StateRef, bool) {
	cell, nblocks := s.decl.Name.Name, len(s.decl.Blocks)
	if r.Kind == lang.RefInput {
		switch {
		case r.Name == "h_i-0":
			c.diags.Errorf(r.Span, "%s is not a cell input", r.Name).Detail = "write h_i for the previous cell's output"
			return StateRef{}, false
		case r.N < 0 || r.N >= maxInputs:
			c.diags.Errorf(r.Span, "%s is not a cell input", r.Name).Detail = "cells read h_i, h_i-1, h_i-2 and h_i-3"
			return StateRef{}, false
		}
		return StateRef{Input: r.N, Block: -1, Span: r.Span}, true
	}
	idx, named := s.names[r.Name]
	if !named {
		idx = -1
		if r.Kind == lang.RefIndex {
			idx = r.N
			if idx >= nblocks {
				e := c.diags.Errorf(r.Span, "cell %q has no block %s", cell, r.Name)
				switch nblocks {
				case 1:
					e.Detail = "its only block is b0"
				case 2:
					e.Detail = "its blocks are b0 and b1"
				default:
					e.Detail = fmt.Sprintf("its blocks are b0 to b%d", nblocks-1)
				}
				return StateRef{}, false
			}
		}
	}
	if idx < 0 {
		cands := []string{"h_i", "h_i-1", "h_i-2", "h_i-3"}
		for i := 0; i < at && i < nblocks; i++ {
			cands = append(cands, fmt.Sprintf("b%d", i), s.labels[i])
		}
		sort.Strings(cands)
		d := c.diags.Errorf(r.Span, "unknown state %q in cell %q", r.Name, cell)
		d.Detail = lang.DidYouMean(r.Name, cands)
		if d.Detail == "" && at < nblocks {
			d.Detail = "a block reads h_i, h_i-1, .. or an earlier block (b0, b1, .. or its name)"
		} else if d.Detail == "" {
			d.Detail = "out: and route: list h_i, h_i-1, .. or blocks (b0, b1, .. or their names)"
		}
		return StateRef{}, false
	}
	label := s.labels[idx]
	switch {
	case idx == at:
		c.diags.Errorf(r.Span, "block %s reads its own output", label).Detail = "a block may read only cell inputs and earlier blocks"
		return StateRef{}, false
	case idx > at:
		c.diags.Errorf(r.Span, "block %s reads %s, a later block", s.labels[at], label).Detail = fmt.Sprintf("a block may read only cell inputs and earlier blocks; move %s above %s", label, s.labels[at])
		return StateRef{}, false
	}
	return StateRef{Input: -1, Block: idx, Span: r.Span}, true
}
