package compiler

import (
	"fmt"
	"regexp"
	"strconv"

	"cellc/lang"
)

// Check resolves and checks parsed files (the standard library first, then
// the user's) into a Program. It collects every problem it can find
// rather than stopping at the first.
func Check(files ...*lang.File) (*Program, lang.Diagnostics) {
	c := &checker{prog: &Program{Ops: map[string]*Op{}, Cells: map[string]*Cell{}}}
	c.collect(files)
	for _, name := range c.prog.OpOrder {
		c.expand(name)
	}
	for _, d := range c.cellDecls {
		c.cell(d)
	}
	for _, d := range c.netDecls {
		c.network(d)
	}
	c.diags.Sort()
	return c.prog, c.diags
}

type checker struct {
	prog      *Program
	diags     lang.Diagnostics
	opDecls   map[string]*lang.OpDecl
	library   map[string]bool
	cellDecls []*lang.CellDecl
	netDecls  []*lang.NetworkDecl
	expanding map[string]bool
	names     map[string]lang.Span // every top-level name, for duplicates
}

func (c *checker) collect(files []*lang.File) {
	c.opDecls = map[string]*lang.OpDecl{}
	c.library = map[string]bool{}
	c.expanding = map[string]bool{}
	c.names = map[string]lang.Span{}
	for i, f := range files {
		for _, d := range f.Decls {
			name := d.DeclName()
			if prev, ok := c.names[name.Name]; ok {
				c.diags.Errorf(name.Span, "%q is already declared at %s", name.Name, prev.Start.Format(prev.File)).Detail = "rename one of them"
				continue
			}
			if _, ok := primitives[name.Name]; ok {
				c.diags.Errorf(name.Span, "%q is a primitive and cannot be redeclared", name.Name)
				continue
			}
			c.names[name.Name] = name.Span
			switch d := d.(type) {
			case *lang.OpDecl:
				c.opDecls[name.Name] = d
				c.library[name.Name] = i == 0 && len(files) > 1
				c.prog.OpOrder = append(c.prog.OpOrder, name.Name)
			case *lang.CellDecl:
				c.cellDecls = append(c.cellDecls, d)
			case *lang.NetworkDecl:
				c.netDecls = append(c.netDecls, d)
			}
		}
	}
}

func (c *checker) opNames() []string {
	names := make([]string, 0, len(c.opDecls))
	for n := range c.opDecls {
		names = append(names, n)
	}
	return names
}

// expand flattens op name into primitives, binding nested ops' $stride.
// It returns nil (after reporting) for a broken op.
func (c *checker) expand(name string) *Op {
	if op, ok := c.prog.Ops[name]; ok {
		return op
	}
	d := c.opDecls[name]
	if c.expanding[name] {
		c.diags.Errorf(d.Name.Span, "op %q is defined in terms of itself", name).Detail = "an op may use other ops, but not in a cycle"
		return nil
	}
	c.expanding[name] = true
	defer delete(c.expanding, name)
	op := &Op{Name: name, Library: c.library[name], Decl: d}
	ok := true
	for _, st := range d.Stages {
		prims, good := c.stage(st)
		ok = ok && good
		op.Prims = append(op.Prims, prims...)
	}
	vars := 0
	for _, p := range op.Prims {
		if p.StrideVar {
			vars++
		}
	}
	if vars > 1 {
		c.diags.Errorf(d.Name.Span, "op %q applies $stride %d times", name, vars).Detail = "a strided op must reduce exactly once: pass stride: $stride to one stage only"
		ok = false
	}
	if !ok {
		c.prog.Ops[name] = nil
		return nil
	}
	c.prog.Ops[name] = op
	return op
}

// stage resolves one pipeline stage: a primitive, or another op.
func (c *checker) stage(st *lang.Stage) ([]Prim, bool) {
	name := st.Prim.Name
	args := map[string]lang.Value{}
	for _, a := range st.Args {
		if _, dup := args[a.Key.Name]; dup {
			c.diags.Errorf(a.Key.Span, "argument %q given twice", a.Key.Name)
			return nil, false
		}
		args[a.Key.Name] = a.Value
	}
	if info, ok := primitives[name]; ok {
		return c.primStage(st, info, args)
	}
	if _, ok := c.opDecls[name]; !ok {
		d := c.diags.Errorf(st.Prim.Span, "unknown primitive or op %q", name)
		d.Detail = lang.DidYouMean(name, append(primNames(), c.opNames()...))
		return nil, false
	}
	// A nested op takes only stride, which binds its $stride.
	for _, a := range st.Args {
		if a.Key.Name != "stride" {
			c.diags.Errorf(a.Key.Span, "op %q takes only a stride argument, not %q", name, a.Key.Name)
			return nil, false
		}
	}
	inner := c.expand(name)
	if inner == nil {
		return nil, false
	}
	out := append([]Prim(nil), inner.Prims...)
	stride, isVar, ok := 1, false, true
	if v, given := args["stride"]; given {
		stride, isVar, ok = c.strideValue(v)
	}
	for i := range out {
		if out[i].StrideVar {
			out[i].StrideVar = isVar
			out[i].Stride = stride
		}
		out[i].Span = st.Span
	}
	return out, ok
}

func (c *checker) primStage(st *lang.Stage, info PrimInfo, args map[string]lang.Value) ([]Prim, bool) {
	p := Prim{Name: info.Name, Stride: 1, Dilation: 1, Span: st.Span}
	ok := true
	accepted := map[string]bool{}
	for _, a := range info.Args {
		accepted[a] = true
	}
	for _, a := range st.Args {
		key := a.Key.Name
		if !accepted[key] {
			d := c.diags.Errorf(a.Key.Span, "primitive %s takes no argument %q", info.Name, key)
			if len(info.Args) > 0 {
				d.Detail = lang.DidYouMean(key, info.Args)
				if d.Detail == "" {
					d.Detail = fmt.Sprintf("it takes %v", info.Args)
				}
			}
			ok = false
			continue
		}
		v := a.Value
		switch key {
		case "k":
			switch v.Kind {
			case lang.IntValue:
				p.KH, p.KW = v.Int, v.Int
			case lang.KernelValue:
				p.KH, p.KW = v.KH, v.KW
			default:
				c.diags.Errorf(v.Span, "kernel size must be a number or HxW, not $%s", v.Var)
				ok = false
				continue
			}
			if p.KH < 1 || p.KW < 1 || p.KH > maxKernel || p.KW > maxKernel {
				c.diags.Errorf(v.Span, "kernel size %dx%d is out of range", p.KH, p.KW).Detail = fmt.Sprintf("kernels are 1 to %d", maxKernel)
				ok = false
			}
		case "stride":
			s, isVar, good := c.strideValue(v)
			p.Stride, p.StrideVar, ok = s, isVar, ok && good
		case "dilation":
			if v.Kind != lang.IntValue || v.Int < 1 || v.Int > maxDilation {
				c.diags.Errorf(v.Span, "dilation must be a number from 1 to %d", maxDilation)
				ok = false
				continue
			}
			p.Dilation = v.Int
		}
	}
	if accepted["k"] && p.KH == 0 && ok {
		c.diags.Errorf(st.Span, "primitive %s needs a kernel size", info.Name).Detail = fmt.Sprintf("write %s(k: 3)", info.Name)
		ok = false
	}
	return []Prim{p}, ok
}

func (c *checker) strideValue(v lang.Value) (int, bool, bool) {
	switch v.Kind {
	case lang.VarValue:
		if v.Var != "stride" {
			c.diags.Errorf(v.Span, "unknown variable $%s", v.Var).Detail = "the only variable is $stride"
			return 1, false, false
		}
		return 1, true, true
	case lang.IntValue:
		if v.Int < 1 || v.Int > maxStride {
			c.diags.Errorf(v.Span, "stride %d is out of range", v.Int).Detail = "strides are 1 or 2"
			return 1, false, false
		}
		return v.Int, false, true
	}
	c.diags.Errorf(v.Span, "stride must be 1, 2 or $stride")
	return 1, false, false
}

var (
	inputRef = regexp.MustCompile(`^h_i(?:-(\d+))?$`)
	indexRef = regexp.MustCompile(`^b(\d+)$`)
)

// maxInputs is the most cell inputs a cell may read: h_i .. h_i-3.
const maxInputs = 4

func (c *checker) cell(d *lang.CellDecl) {
	cell := &Cell{Name: d.Name.Name, Kind: d.Kind, Inputs: 2, Decl: d}
	ok := true
	if len(d.Blocks) == 0 {
		c.diags.Errorf(d.Name.Span, "cell %q has no blocks", cell.Name).Detail = "add at least one: block < in: h_i, h_i-1; op: sep3x3, identity; combine: add >"
		ok = false
	}
	names := map[string]int{} // block name → index
	for bi, bd := range d.Blocks {
		b := &Block{Name: fmt.Sprintf("b%d", bi), Combine: bd.Combine.Name, Span: bd.Span}
		if bd.Name != nil {
			n := bd.Name.Name
			switch {
			case inputRef.MatchString(n) || (indexRef.MatchString(n) && n != b.Name):
				c.diags.Errorf(bd.Name.Span, "block name %q is reserved", n).Detail = "h_i.. name cell inputs and b0, b1, .. name blocks by position"
				ok = false
			case names[n] > 0:
				c.diags.Errorf(bd.Name.Span, "block name %q is used twice in cell %q", n, cell.Name)
				ok = false
			default:
				b.Name = n
				names[n] = bi + 1
			}
		}
		if len(bd.Inputs) != 2 {
			c.diags.Errorf(bd.Span, "a block takes 2 inputs, got %d", len(bd.Inputs)).Detail = "write in: A, B"
			ok = false
		}
		if len(bd.Ops) != 2 {
			c.diags.Errorf(bd.Span, "a block applies 2 ops, one per input; got %d", len(bd.Ops)).Detail = "write op: OPA, OPB"
			ok = false
		}
		for i := 0; i < 2 && i < len(bd.Inputs); i++ {
			r, good := c.ref(bd.Inputs[i], bi, names, cell.Name)
			ok = ok && good
			b.Inputs[i] = r
			if r.isInput() && r.Input+1 > cell.Inputs {
				cell.Inputs = r.Input + 1
			}
		}
		for i := 0; i < 2 && i < len(bd.Ops); i++ {
			o := bd.Ops[i]
			b.OpSpans[i] = o.Span
			decl, known := c.opDecls[o.Name]
			if !known {
				d := c.diags.Errorf(o.Span, "unknown operation %q", o.Name)
				d.Detail = lang.DidYouMean(o.Name, c.opNames())
				if d.Detail == "" {
					d.Detail = "`cellc ops` lists the operations"
				}
				ok = false
				continue
			}
			op := c.prog.Ops[decl.Name.Name]
			if op == nil {
				ok = false // reported where the op is declared
				continue
			}
			b.Ops[i] = op
			if d.Kind == lang.Reduction && i < len(bd.Inputs) && b.Inputs[i].isInput() && b.Inputs[i].Block < 0 && !op.Strides() {
				c.diags.Errorf(o.Span, "op %q never strides, so it cannot read cell input %s in reduction cell %q", o.Name, bd.Inputs[i].Name, cell.Name).Detail = "a reduction cell halves its inputs: pick an op that passes stride: $stride to a stage"
				ok = false
			}
		}
		if !contains(combiners, b.Combine) {
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
		seen := map[StateRef]bool{}
		for _, r := range d.Out.Refs {
			s, good := c.ref(r, len(d.Blocks), names, cell.Name)
			if !good {
				ok = false
				continue
			}
			key := StateRef{Input: s.Input, Block: s.Block}
			if seen[key] {
				c.diags.Errorf(r.Span, "state %s is listed twice", r.Name)
				ok = false
			}
			seen[key] = true
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
		c.warnDead(cell)
	}
	if !ok {
		return
	}
	c.prog.Cells[cell.Name] = cell
}

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

// ref resolves a state reference read by block `at` (or by the output
// list, when at == number of blocks).
func (c *checker) ref(r lang.Ref, at int, names map[string]int, cell string) (StateRef, bool) {
	if m := inputRef.FindStringSubmatch(r.Name); m != nil {
		n := 0
		if m[1] != "" {
			n, _ = strconv.Atoi(m[1])
		}
		if (m[1] != "" && n == 0) || n >= maxInputs {
			c.diags.Errorf(r.Span, "%s is not a cell input", r.Name).Detail = "cells read h_i, h_i-1, h_i-2 and h_i-3"
			return StateRef{}, false
		}
		return StateRef{Input: n, Block: -1, Span: r.Span}, true
	}
	idx := -1
	if m := indexRef.FindStringSubmatch(r.Name); m != nil {
		idx, _ = strconv.Atoi(m[1])
		if n, named := names[r.Name]; named {
			idx = n - 1
		}
	} else if n, named := names[r.Name]; named {
		idx = n - 1
	}
	if idx < 0 {
		cands := []string{"h_i", "h_i-1"}
		for n := range names {
			cands = append(cands, n)
		}
		for i := 0; i < at; i++ {
			cands = append(cands, fmt.Sprintf("b%d", i))
		}
		d := c.diags.Errorf(r.Span, "unknown state %q in cell %q", r.Name, cell)
		d.Detail = lang.DidYouMean(r.Name, cands)
		if d.Detail == "" {
			d.Detail = "blocks read h_i, h_i-1 or an earlier block (b0, b1, .. or its name)"
		}
		return StateRef{}, false
	}
	switch {
	case idx == at:
		c.diags.Errorf(r.Span, "block %s reads itself", r.Name).Detail = "a block may read only cell inputs and earlier blocks"
		return StateRef{}, false
	case idx > at:
		c.diags.Errorf(r.Span, "%s reads a later block (b%d)", r.Name, idx).Detail = "a block may read only cell inputs and earlier blocks; reorder the blocks"
		return StateRef{}, false
	}
	return StateRef{Input: -1, Block: idx, Span: r.Span}, true
}

func (c *checker) network(d *lang.NetworkDecl) {
	n := &Network{Name: d.Name.Name, Span: d.Name.Span}
	ok := true
	seen := map[string]bool{}
	for _, f := range d.Fields {
		key := f.Key.Name
		if key != "normal" && key != "reduction" {
			e := c.diags.Errorf(f.Key.Span, "unknown network field %q", key)
			e.Detail = lang.DidYouMean(key, []string{"normal", "reduction"})
			if e.Detail == "" {
				e.Detail = "a network has normal: and reduction:"
			}
			ok = false
			continue
		}
		if seen[key] {
			c.diags.Errorf(f.Key.Span, "field %q given twice", key)
			ok = false
			continue
		}
		seen[key] = true
		cd := c.findCellDecl(f.Value.Name)
		if cd == nil {
			var cands []string
			for _, x := range c.cellDecls {
				cands = append(cands, x.Name.Name)
			}
			e := c.diags.Errorf(f.Value.Span, "unknown cell %q", f.Value.Name)
			e.Detail = lang.DidYouMean(f.Value.Name, cands)
			ok = false
			continue
		}
		want := lang.Normal
		if key == "reduction" {
			want = lang.Reduction
		}
		if cd.Kind != want {
			c.diags.Errorf(f.Value.Span, "%s: is given %s cell %q", key, cd.Kind, f.Value.Name).Detail = fmt.Sprintf("declare it as `%s cell %s`", want, f.Value.Name)
			ok = false
			continue
		}
		cell := c.prog.Cells[f.Value.Name]
		if cell == nil {
			ok = false // reported at the cell
			continue
		}
		if key == "normal" {
			n.Normal = cell
		} else {
			n.Reduction = cell
		}
	}
	for _, key := range []string{"normal", "reduction"} {
		if !seen[key] {
			c.diags.Errorf(d.Name.Span, "network %q has no %s cell", n.Name, key).Detail = fmt.Sprintf("add `%s: CELL`", key)
			ok = false
		}
	}
	if ok {
		c.prog.Networks = append(c.prog.Networks, n)
	}
}

func (c *checker) findCellDecl(name string) *lang.CellDecl {
	for _, d := range c.cellDecls {
		if d.Name.Name == name {
			return d
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
