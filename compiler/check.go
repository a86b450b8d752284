package compiler

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cellc/lang"
)

// Check resolves and checks parsed files (the standard library first, then
// the user's) into a Program. It collects every problem it can find
// rather than stopping at the first.
func Check(files ...*lang.File) (*Program, lang.Diagnostics) {
	c := &checker{prog: &Program{Ops: map[string]*Op{}, Cells: map[string]*Cell{}, Skeletons: map[string]*Skeleton{}}}
	c.collect(files)
	for _, name := range c.prog.OpOrder {
		c.expand(name)
	}
	for _, d := range c.cellDecls {
		c.cell(d)
	}
	c.skeletons()
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
	skelDecls []*lang.SkeletonDecl
	expanding []string            // ops being expanded, outermost first
	names     map[string]declInfo // every top-level name, for duplicates
}

// declInfo is what the checker remembers about a top-level name.
type declInfo struct {
	span    lang.Span
	kind    string // "op", "cell" or "network"
	library bool   // declared by the standard library
}

func declKind(d lang.Decl) string {
	switch d.(type) {
	case *lang.OpDecl:
		return "op"
	case *lang.CellDecl:
		return "cell"
	case *lang.SkeletonDecl:
		return "skeleton"
	}
	return "network"
}

func (c *checker) collect(files []*lang.File) {
	c.opDecls = map[string]*lang.OpDecl{}
	c.library = map[string]bool{}
	c.names = map[string]declInfo{}
	for i, f := range files {
		library := i == 0 && len(files) > 1
		for _, d := range f.Decls {
			name := d.DeclName()
			if prev, ok := c.names[name.Name]; ok {
				e := c.diags.Errorf(name.Span, "%q is already declared at %s", name.Name, prev.span.Start.Format(prev.span.File))
				switch {
				case prev.library:
					e.Detail = fmt.Sprintf("the standard library defines %s %s; choose another name", prev.kind, name.Name)
				case prev.kind != declKind(d):
					e.Detail = fmt.Sprintf("there it names %s %s; ops, cells, networks and skeletons share one namespace, so rename one of them", article(prev.kind), prev.kind)
				default:
					e.Detail = "rename one of them"
				}
				continue
			}
			if _, ok := primitives[name.Name]; ok {
				c.diags.Errorf(name.Span, "%q is a primitive and cannot be redeclared", name.Name).Detail = "primitives and operations share one namespace; choose another name (`cellc ops` lists the primitives)"
				continue
			}
			c.names[name.Name] = declInfo{span: name.Span, kind: declKind(d), library: library}
			switch d := d.(type) {
			case *lang.OpDecl:
				c.opDecls[name.Name] = d
				c.library[name.Name] = library
				c.prog.OpOrder = append(c.prog.OpOrder, name.Name)
			case *lang.CellDecl:
				c.cellDecls = append(c.cellDecls, d)
			case *lang.NetworkDecl:
				c.netDecls = append(c.netDecls, d)
			case *lang.SkeletonDecl:
				c.skelDecls = append(c.skelDecls, d)
			}
		}
	}
}

func article(kind string) string {
	if kind == "op" {
		return "an"
	}
	return "a"
}

// opNames lists the declared ops in name order, so that a suggestion does
// not depend on map order.
func (c *checker) opNames() []string {
	names := make([]string, 0, len(c.opDecls))
	for n := range c.opDecls {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// expand flattens op name into primitives, binding nested ops' $stride.
// It returns nil (after reporting) for a broken op.
func (c *checker) expand(name string) *Op {
	if op, ok := c.prog.Ops[name]; ok {
		return op
	}
	d := c.opDecls[name]
	if i := slices.Index(c.expanding, name); i >= 0 {
		cycle := strings.Join(append(slices.Clone(c.expanding[i:]), name), " -> ")
		c.diags.Errorf(d.Name.Span, "op %q is defined in terms of itself (%s)", name, cycle).Detail = "an op may use other ops, but not in a cycle"
		return nil
	}
	c.expanding = append(c.expanding, name)
	defer func() { c.expanding = c.expanding[:len(c.expanding)-1] }()
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
	if vars > 1 && ok {
		c.diags.Errorf(d.Name.Span, "op %q applies $stride %d times", name, vars).Detail = "a strided op must reduce exactly once: pass stride: $stride to one stage only"
		ok = false
	}
	if w := outWidth(op.Prims); ok && !w.IsF() {
		c.diags.Errorf(d.Name.Span, "op %q ends %s filters wide, not F", name, w).Detail = "every op outputs the cell's F filters: end a bottleneck with a conv or pw without filters:, as AmoebaNet's ends with a 1x1 conv back to F"
		ok = false
	}
	if !ok {
		c.prog.Ops[name] = nil
		return nil
	}
	c.prog.Ops[name] = op
	return op
}

// outWidth is the width a pipeline ends at: that of its last conv or pw,
// or F after a primitive that brings its input to F.
func outWidth(prims []Prim) Width {
	w := Width{}
	for _, p := range prims {
		switch p.Name {
		case "conv", "pw":
			w = p.Width
		case "fit", "project", "freduce", "zero":
			w = Width{}
		}
	}
	return w
}

// stage resolves one pipeline stage: a primitive, or another op.
func (c *checker) stage(st *lang.Stage) ([]Prim, bool) {
	name := st.Prim.Name
	args := map[string]lang.Value{}
	keys := map[string]lang.Span{}
	for _, a := range st.Args {
		if prev, dup := keys[a.Key.Name]; dup {
			c.diags.Errorf(a.Key.Span, "argument %q is given twice", a.Key.Name).Detail = fmt.Sprintf("the first is at %s; remove one", prev.Start.Format(prev.File))
			return nil, false
		}
		args[a.Key.Name] = a.Value
		keys[a.Key.Name] = a.Key.Span
	}
	if info, ok := primitives[name]; ok {
		return c.primStage(st, info, args)
	}
	if _, ok := c.opDecls[name]; !ok {
		d := c.diags.Errorf(st.Prim.Span, "unknown primitive or op %q", name)
		if info, ok := c.names[name]; ok {
			d.Summary = fmt.Sprintf("%q is %s %s, not a primitive or op", name, article(info.kind), info.kind)
		}
		d.Detail = lang.DidYouMean(name, append(primNames(), c.opNames()...))
		if d.Detail == "" {
			d.Detail = "`cellc ops` lists the primitives and operations"
		}
		return nil, false
	}
	// A nested op takes only stride, which binds its $stride.
	for _, a := range st.Args {
		if a.Key.Name != "stride" {
			c.diags.Errorf(a.Key.Span, "op %q takes only a stride argument, not %q", name, a.Key.Name).Detail = fmt.Sprintf("set %s on the primitives inside %s, or declare a new op", a.Key.Name, name)
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
		if ok && !inner.Strides() {
			c.diags.Errorf(v.Span, "op %q does not use $stride, so stride: has nothing to set", name).Detail = fmt.Sprintf("remove the argument, or pass stride: $stride to one of %s's stages", name)
			ok = false
		}
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
	ok, misspelt := true, false
	for _, a := range st.Args {
		key := a.Key.Name
		if !slices.Contains(info.Args, key) {
			misspelt = true
			d := c.diags.Errorf(a.Key.Span, "primitive %s takes no argument %q", info.Name, key)
			if len(info.Args) == 0 {
				d.Detail = fmt.Sprintf("%s takes no arguments", info.Name)
			} else if d.Detail = lang.DidYouMean(key, info.Args); d.Detail == "" {
				d.Detail = fmt.Sprintf("%s takes %s", info.Name, andList(info.Args))
			}
			ok = false
			continue
		}
		v := a.Value
		switch key {
		case "k":
			var shown string
			switch v.Kind {
			case lang.IntValue:
				p.KH, p.KW = v.Int, v.Int
				shown = strconv.Itoa(v.Int)
			case lang.KernelValue:
				p.KH, p.KW = v.KH, v.KW
				shown = fmt.Sprintf("%dx%d", v.KH, v.KW)
			default:
				c.diags.Errorf(v.Span, "kernel size must be a number or HxW, not $%s", v.Var).Detail = "write k: 3 or k: 1x7"
				ok = false
				continue
			}
			if p.KH < 1 || p.KW < 1 || p.KH > maxKernel || p.KW > maxKernel {
				c.diags.Errorf(v.Span, "kernel size %s is out of range", shown).Detail = fmt.Sprintf("kernel sides are 1 to %d", maxKernel)
				ok = false
			}
		case "stride":
			s, isVar, good := c.strideValue(v)
			p.Stride, p.StrideVar, ok = s, isVar, ok && good
		case "dilation":
			switch {
			case v.Kind == lang.VarValue:
				c.diags.Errorf(v.Span, "dilation must be a number, not $%s", v.Var).Detail = fmt.Sprintf("dilations are 1 to %d; only stride takes $stride", maxDilation)
				ok = false
			case v.Kind != lang.IntValue:
				c.diags.Errorf(v.Span, "dilation must be a number, not %dx%d", v.KH, v.KW).Detail = fmt.Sprintf("dilations are 1 to %d, the same along both axes", maxDilation)
				ok = false
			case v.Int < 1 || v.Int > maxDilation:
				c.diags.Errorf(v.Span, "dilation %d is out of range", v.Int).Detail = fmt.Sprintf("dilations are 1 to %d", maxDilation)
				ok = false
			default:
				p.Dilation = v.Int
			}
		case "filters":
			w, good := c.widthValue(v)
			p.Width, ok = w, ok && good
		}
	}
	// A misspelt argument is most likely the kernel size: one error is
	// enough.
	if _, given := args["k"]; slices.Contains(info.Args, "k") && !given && !misspelt {
		c.diags.Errorf(st.Span, "primitive %s needs a kernel size", info.Name).Detail = fmt.Sprintf("write %s(k: 3)", info.Name)
		ok = false
	}
	return []Prim{p}, ok
}

func (c *checker) strideValue(v lang.Value) (int, bool, bool) {
	switch v.Kind {
	case lang.VarValue:
		switch {
		case v.Var == "F":
			c.diags.Errorf(v.Span, "stride takes $stride, not $F").Detail = "$F, the cell's width, goes in filters:"
			return 1, false, false
		case v.Var != "stride":
			c.diags.Errorf(v.Span, "unknown variable $%s", v.Var).Detail = "the variables are $stride (in stride:) and $F (in filters:)"
			return 1, false, false
		case v.Mul != 0 || v.Div != 0:
			c.diags.Errorf(v.Span, "$stride cannot be scaled").Detail = "a stride is 1, 2 or $stride; only $F takes * and /"
			return 1, false, false
		}
		return 1, true, true
	case lang.IntValue:
		if v.Int < 1 || v.Int > maxStride {
			c.diags.Errorf(v.Span, "stride %d is out of range", v.Int).Detail = "strides are 1, 2 or $stride"
			return 1, false, false
		}
		return v.Int, false, true
	}
	c.diags.Errorf(v.Span, "stride must be 1, 2 or $stride, not %dx%d", v.KH, v.KW).Detail = "the stride is the same along both axes"
	return 1, false, false
}

// widthValue reads filters: a width relative to F, "$F", "$F / 4" or
// "$F * 3 / 8". Absolute widths are refused: an op's widths follow the
// cell it is placed in.
func (c *checker) widthValue(v lang.Value) (Width, bool) {
	const hint = "an op's widths follow the cell's F: write filters: $F / 4 (a quarter of F) or $F * 3 / 8"
	switch {
	case v.Kind == lang.IntValue:
		c.diags.Errorf(v.Span, "filters must be relative to F, not %d", v.Int).Detail = hint
		return Width{}, false
	case v.Kind == lang.KernelValue:
		c.diags.Errorf(v.Span, "filters must be relative to F, not %dx%d", v.KH, v.KW).Detail = hint
		return Width{}, false
	case v.Var != "F":
		c.diags.Errorf(v.Span, "filters takes $F, not $%s", v.Var).Detail = hint
		return Width{}, false
	}
	w := Width{Mul: max(v.Mul, 1), Div: max(v.Div, 1)}
	if w.Mul > maxScale || w.Div > maxScale {
		c.diags.Errorf(v.Span, "scale of $F is out of range").Detail = fmt.Sprintf("scale $F by whole numbers from 1 to %d", maxScale)
		return Width{}, false
	}
	if w.IsF() {
		return Width{}, true // one form for F, so equal pipelines compare equal
	}
	return w, true
}

// andList is "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

var (
	inputRef = regexp.MustCompile(`^h_i(?:-(\d+))?$`)
	indexRef = regexp.MustCompile(`^b(0|[1-9]\d*)$`)
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
		if m := indexRef.FindStringSubmatch(n); m != nil && n != s.labels[bi] {
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

// checkWidths finds the width mismatches the cell would have in every
// network it is built into, and reports them at the block rather than as
// a shape error from the builder. Widths are in units of the cell's
// filter count F: cell inputs are brought to F (all but the first cells
// of a network, whose inputs may be the stem's), a concat block is as wide
// as its two branches together, and an op outputs F if it ends in a stage
// that projects (conv, pw, fit, project, freduce, zero), else its input's
// width.
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
				switch p.Name {
				case "conv", "pw", "fit", "project", "freduce", "zero":
					w[side] = 1
				case "id":
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

// ref resolves a state reference read by block `at`, or by the output
// list when at is the number of blocks.
func (c *checker) ref(r lang.Ref, at int, s *cellScope) (StateRef, bool) {
	cell, nblocks := s.decl.Name.Name, len(s.decl.Blocks)
	if m := inputRef.FindStringSubmatch(r.Name); m != nil {
		n, err := 0, error(nil)
		if m[1] != "" {
			n, err = strconv.Atoi(m[1])
		}
		switch {
		case m[1] == "0":
			c.diags.Errorf(r.Span, "%s is not a cell input", r.Name).Detail = "write h_i for the previous cell's output"
			return StateRef{}, false
		case err != nil || n >= maxInputs || (len(m[1]) > 1 && m[1][0] == '0'):
			c.diags.Errorf(r.Span, "%s is not a cell input", r.Name).Detail = "cells read h_i, h_i-1, h_i-2 and h_i-3"
			return StateRef{}, false
		}
		return StateRef{Input: n, Block: -1, Span: r.Span}, true
	}
	idx, named := s.names[r.Name]
	if !named {
		idx = -1
		if m := indexRef.FindStringSubmatch(r.Name); m != nil {
			idx, _ = strconv.Atoi(m[1])
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

// networkFields are a network's fields: its two cells, and the skeleton
// it is built into, for every dataset or for one.
var networkFields = []string{"normal", "reduction", "skeleton", "cifar_skeleton", "imagenet_skeleton"}

// skeletonDataset is the dataset a network's skeleton field is for ("" for
// skeleton:, every dataset).
var skeletonDataset = map[string]string{"skeleton": "", "cifar_skeleton": "cifar10", "imagenet_skeleton": "imagenet"}

func (c *checker) network(d *lang.NetworkDecl) {
	n := &Network{Name: d.Name.Name, Span: d.Name.Span}
	ok := true
	seen := map[string]lang.Span{}
	for _, f := range d.Fields {
		key := f.Key.Name
		if !slices.Contains(networkFields, key) {
			e := c.diags.Errorf(f.Key.Span, "unknown network field %q", key)
			e.Detail = lang.DidYouMean(key, networkFields)
			if e.Detail == "" {
				e.Detail = "a network has normal:, reduction: and optionally skeleton:"
			}
			ok = false
			continue
		}
		if prev, dup := seen[key]; dup {
			what := "a network has one " + key + " cell"
			if _, sk := skeletonDataset[key]; sk {
				what = "a network has one " + key
			}
			c.diags.Errorf(f.Key.Span, "field %q is given twice", key).Detail = fmt.Sprintf("the first is at %s; %s", prev.Start.Format(prev.File), what)
			ok = false
			continue
		}
		seen[key] = f.Key.Span
		if dataset, sk := skeletonDataset[key]; sk {
			var other lang.Span
			clash := false
			if key != "skeleton" {
				other, clash = seen["skeleton"]
			} else {
				for _, k := range []string{"cifar_skeleton", "imagenet_skeleton"} {
					if sp, given := seen[k]; given {
						other, clash = sp, true
					}
				}
			}
			if clash {
				c.diags.Errorf(f.Key.Span, "%s: and %s are both given", key, map[bool]string{true: "a dataset's skeleton", false: "skeleton:"}[key == "skeleton"]).Detail =
					fmt.Sprintf("the other is at %s; skeleton: is for every dataset, cifar_skeleton: and imagenet_skeleton: for one each: give one or the other", other.Start.Format(other.File))
				ok = false
				continue
			}
			if !c.networkSkeleton(n, dataset, f.Value) {
				ok = false
			}
			continue
		}
		want := lang.Normal
		if key == "reduction" {
			want = lang.Reduction
		}
		cd := c.findCellDecl(f.Value.Name)
		if cd == nil {
			c.unknownCell(f.Value, want)
			ok = false
			continue
		}
		if cd.Kind != want {
			c.diags.Errorf(f.Value.Span, "%s: names %s cell %q", key, cd.Kind, f.Value.Name).Detail = fmt.Sprintf("the %s slot takes a %s cell: name one, or declare %s as `%s cell %s`", key, want, f.Value.Name, want, f.Value.Name)
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
		if _, given := seen[key]; !given {
			c.diags.Errorf(d.Name.Span, "network %q has no %s cell", n.Name, key).Detail = fmt.Sprintf("add `%s: CELL`", key)
			ok = false
		}
	}
	if ok {
		c.prog.Networks = append(c.prog.Networks, n)
	}
}

// networkSkeleton binds "skeleton: NAME" (dataset "") or a dataset's
// skeleton.
func (c *checker) networkSkeleton(n *Network, dataset string, name lang.Ident) bool {
	if c.skelDecl(name.Name) == nil {
		e := c.diags.Errorf(name.Span, "unknown skeleton %q", name.Name)
		if info, ok := c.names[name.Name]; ok {
			e.Summary = fmt.Sprintf("%q is %s %s, not a skeleton", name.Name, article(info.kind), info.kind)
		}
		if e.Detail = lang.DidYouMean(name.Name, c.skelNames()); e.Detail == "" {
			e.Detail = "the skeletons are " + andList(c.skelNames())
		}
		return false
	}
	sk := c.prog.Skeletons[name.Name]
	if dataset == "" {
		n.Skeleton = sk
	} else {
		if n.DatasetSkeletons == nil {
			n.DatasetSkeletons = map[string]*Skeleton{}
		}
		n.DatasetSkeletons[dataset] = sk
	}
	return sk != nil // a broken skeleton is reported where it is declared
}

// unknownCell reports a network field naming no cell.
func (c *checker) unknownCell(name lang.Ident, want lang.CellKind) {
	e := c.diags.Errorf(name.Span, "unknown cell %q", name.Name)
	if info, ok := c.names[name.Name]; ok {
		e.Summary = fmt.Sprintf("%q is %s %s, not a cell", name.Name, article(info.kind), info.kind)
	}
	var all, kind []string
	for _, x := range c.cellDecls {
		all = append(all, x.Name.Name)
		if x.Kind == want {
			kind = append(kind, x.Name.Name)
		}
	}
	sort.Strings(all)
	sort.Strings(kind)
	e.Detail = lang.DidYouMean(name.Name, all)
	switch {
	case e.Detail != "":
	case len(kind) == 1:
		e.Detail = fmt.Sprintf("the only %s cell is %s", want, kind[0])
	case len(kind) > 1:
		e.Detail = fmt.Sprintf("the %s cells are %s", want, andList(kind))
	default:
		e.Detail = fmt.Sprintf("declare one: %s cell %s { block < in: h_i, h_i-1; op: sep3x3, identity; combine: add > }", want, name.Name)
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
