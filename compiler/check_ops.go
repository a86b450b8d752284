package compiler

// Op expansion and primitive arguments. An op is a pipeline of stages,
// each a primitive or another op; expand flattens it into primitives,
// binding each nested op's $stride, and reports a cycle of ops as the chain
// that closes it (a -> b -> a), an op that strides twice, unknown stages
// (with did-you-mean) and, for primitives, arguments they do not take,
// kernel sizes, strides and dilations out of range and a missing kernel
// size.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cellc/lang"
)

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

// outWidth is the width a pipeline ends at: that of its last conv or pw
// (which may set filters:), or F after any other primitive that projects.
func outWidth(prims []Prim) Width {
	w := Width{}
	for _, p := range prims {
		switch {
		case p.Name == "conv" || p.Name == "pw":
			w = p.Width
		case primitives[p.Name].Projects:
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
