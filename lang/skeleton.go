package lang

import (
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Skeletons: conversion from the grammar, printing and comparison. The
// fields are kept as written; the compiler's checker says which keys
// exist and what their items mean.

func (p *parser) skeleton(g *skeleton) *SkeletonDecl {
	d := &SkeletonDecl{Name: p.ident(g.Name), Span: p.nodeSpan(g.Tokens)}
	if g.Params != nil {
		for _, pr := range g.Params.Params {
			d.Params = append(d.Params, &Param{Name: p.ident(pr.Name), Default: p.expr(pr.Value), Span: p.nodeSpan(pr.Tokens)})
		}
	}
	if g.Base.Value != "" {
		b := p.ident(g.Base)
		d.Base = &b
	}
	for _, f := range g.Fields {
		sf := &SkelField{Key: p.ident(f.Key), Span: p.nodeSpan(f.Tokens)}
		if f.Where.Value != "" {
			w := p.ident(f.Where)
			sf.Where = &w
		}
		sf.Items = append(sf.Items, p.item("", f.First))
		for _, r := range f.Rest {
			sf.Items = append(sf.Items, p.item(r.Sep.Value, r.Item))
		}
		d.Fields = append(d.Fields, sf)
	}
	return d
}

func (p *parser) item(sep string, g *item) *Item {
	it := &Item{Sep: sep, Expr: p.expr(g.Expr), Span: p.nodeSpan(g.Tokens)}
	if g.As != nil {
		it.As = &Ident{Name: g.As.Path, Span: p.nodeSpan(g.As.Tokens)}
	}
	return it
}

func (p *parser) expr(g *expr) Expr {
	x := p.term(g.Left)
	for _, o := range g.Ops {
		y := p.term(o.Right)
		x = &Binary{Op: o.Op.Value, X: x, Y: y, Span: joinSpans(x.ExprSpan(), y.ExprSpan())}
	}
	return x
}

func (p *parser) term(g *term) Expr {
	x := p.factor(g.Left)
	for _, o := range g.Ops {
		y := p.factor(o.Right)
		x = &Binary{Op: o.Op.Value, X: x, Y: y, Span: joinSpans(x.ExprSpan(), y.ExprSpan())}
	}
	return x
}

func (p *parser) factor(g *factor) Expr {
	switch {
	case g.Call != nil:
		c := &Call{Name: p.ident(g.Call.Name), Span: p.nodeSpan(g.Call.Tokens)}
		if g.Call.Args != nil {
			c.Parens = true
			for _, a := range g.Call.Args.Args {
				c.Args = append(c.Args, &CallArg{Key: p.ident(a.Key), Value: p.expr(a.Value), Span: p.nodeSpan(a.Tokens)})
			}
		}
		return c
	case g.Paren != nil:
		return &Paren{X: p.expr(g.Paren), Span: p.nodeSpan(g.Tokens)}
	}
	n := &Number{Text: g.Number.Value, Span: p.tokSpan(g.Number)}
	p.checkNumber(g.Number, n.Span)
	return n
}

// checkNumber reports literals beyond maxInt, as for op arguments.
func (p *parser) checkNumber(t lexer.Token, at Span) {
	if t.Type == syntax().kernel {
		h, w, _ := strings.Cut(t.Value, "x")
		p.integer(h, "kernel height", at)
		p.integer(w, "kernel width", at)
		return
	}
	whole, _, _ := strings.Cut(t.Value, ".")
	p.integer(whole, "number", at)
}

func joinSpans(a, b Span) Span {
	a.End = b.End
	return a
}

// FormatExpr prints an expression as Format does: single spaces around
// binary operators, none inside parentheses.
func FormatExpr(e Expr) string {
	switch e := e.(type) {
	case *Number:
		return e.Text
	case *Call:
		if !e.Parens {
			return e.Name.Name
		}
		args := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			if a != nil {
				args = append(args, a.Key.Name+": "+FormatExpr(a.Value))
			}
		}
		return e.Name.Name + "(" + strings.Join(args, ", ") + ")"
	case *Binary:
		return FormatExpr(e.X) + " " + e.Op + " " + FormatExpr(e.Y)
	case *Paren:
		return "(" + FormatExpr(e.X) + ")"
	}
	return ""
}

// maxLine is the width past which Format breaks a "->" pipeline of a
// skeleton field into one stage per line.
const maxLine = 80

// skeleton prints a skeleton: its header on one line, each field on a
// line of its own with the values of a run aligned. A field whose items
// are joined by "->" and that would not fit in maxLine columns prints one
// item per line, each continuation starting with "->" under the first.
func (p *printer) skeleton(d *SkeletonDecl) {
	head := "skeleton " + d.Name.Name
	var params []string
	for _, pr := range d.Params {
		if pr != nil {
			params = append(params, pr.Name.Name+" = "+FormatExpr(pr.Default))
		}
	}
	if len(params) > 0 {
		// Parameters fill lines of up to maxLine columns; continuation
		// lines are indented by four spaces.
		var lines []string
		cur := head + "("
		for i, s := range params {
			if i < len(params)-1 {
				s += ","
			} else {
				s += ")"
			}
			if i > 0 && width(cur)+1+width(s) > maxLine {
				lines, cur = append(lines, cur), "    "+s
				continue
			}
			if i > 0 {
				cur += " "
			}
			cur += s
		}
		head = strings.Join(append(lines, cur), "\n")
	}
	if d.Base != nil {
		head += " extends " + d.Base.Name
	}

	p.header(d, head)
	var items []any
	for _, fl := range d.Fields {
		if fl != nil {
			items = append(items, fl)
		}
	}
	p.body(items, func(run []any) []line {
		w := 0
		for _, it := range run {
			w = max(w, width(it.(*SkelField).Key.Name)+1)
		}
		ls := make([]line, len(run))
		for i, it := range run {
			fl := it.(*SkelField)
			key := pad(fl.Key.Name+":", w) + " "
			ls[i] = line{key: fl, code: key + fieldValue(fl, width(key))}
		}
		return ls
	})
	p.closeBrace(d, len(items))
}

// fieldValue prints a field's value after a key keyWidth columns wide
// (with its padding and the space after it). Continuation lines of a
// broken pipeline end their "-> " where the first stage starts, so the
// stages line up.
func fieldValue(fl *SkelField, keyWidth int) string {
	var parts []string
	for _, it := range fl.Items {
		if it == nil {
			continue
		}
		s := FormatExpr(it.Expr)
		if it.As != nil {
			s += " as " + it.As.Name
		}
		parts = append(parts, s)
	}
	where := ""
	if fl.Where != nil {
		where = fl.Where.Name + " "
	}
	var b strings.Builder
	b.WriteString(where)
	n := 0
	for _, it := range fl.Items {
		if it == nil {
			continue
		}
		if n > 0 {
			b.WriteString(sepText(it.Sep))
		}
		b.WriteString(parts[n])
		n++
	}
	one := b.String()
	if !pipelineItems(fl) || 2+keyWidth+width(one) <= maxLine {
		return one
	}
	cont := "\n" + strings.Repeat(" ", 2+max(0, keyWidth+width(where)-3)) + "-> "
	b.Reset()
	b.WriteString(where)
	for i, s := range parts {
		if i > 0 {
			b.WriteString(cont)
		}
		b.WriteString(s)
	}
	return b.String()
}

func sepText(sep string) string {
	if sep == "," {
		return ", "
	}
	return " -> "
}

// pipelineItems reports whether every item after the first follows "->".
func pipelineItems(fl *SkelField) bool {
	n := 0
	for _, it := range fl.Items {
		if it != nil {
			n++
			if n > 1 && it.Sep != "->" {
				return false
			}
		}
	}
	return n > 1
}

func equalSkeleton(a, b *SkeletonDecl) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Name.Name != b.Name.Name || !equalOptIdent(a.Base, b.Base) {
		return false
	}
	if !slices.EqualFunc(a.Params, b.Params, func(x, y *Param) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Name.Name == y.Name.Name && EqualExpr(x.Default, y.Default)
	}) {
		return false
	}
	return slices.EqualFunc(a.Fields, b.Fields, func(x, y *SkelField) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Key.Name == y.Key.Name && equalOptIdent(x.Where, y.Where) && slices.EqualFunc(x.Items, y.Items, func(x, y *Item) bool {
			if x == nil || y == nil {
				return x == y
			}
			return x.Sep == y.Sep && equalOptIdent(x.As, y.As) && EqualExpr(x.Expr, y.Expr)
		})
	})
}

func equalOptIdent(a, b *Ident) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name
}

// EqualExpr reports whether two expressions are the same, ignoring spans.
func EqualExpr(a, b Expr) bool {
	switch a := a.(type) {
	case *Number:
		b, ok := b.(*Number)
		return ok && a.Text == b.Text
	case *Call:
		b, ok := b.(*Call)
		return ok && a.Name.Name == b.Name.Name && a.Parens == b.Parens && slices.EqualFunc(a.Args, b.Args, func(x, y *CallArg) bool {
			if x == nil || y == nil {
				return x == y
			}
			return x.Key.Name == y.Key.Name && EqualExpr(x.Value, y.Value)
		})
	case *Binary:
		b, ok := b.(*Binary)
		return ok && a.Op == b.Op && EqualExpr(a.X, b.X) && EqualExpr(a.Y, b.Y)
	case *Paren:
		b, ok := b.(*Paren)
		return ok && EqualExpr(a.X, b.X)
	}
	return a == nil && b == nil
}
