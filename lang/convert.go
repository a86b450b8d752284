package lang

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Conversion from the grammar structs of grammar.go to the AST. This is
// also where block fields, parsed generically as "key: a, b", are
// checked, so that all such mistakes are reported, not just the first.

// maxInt bounds integer literals (argument values and kernel sides). The
// language has no use for larger numbers, and rejecting them here means no
// later phase has to worry about overflow when it multiplies shapes.
const maxInt = 1<<31 - 1

func (p *parser) decl(d *decl) Decl {
	switch {
	case d.Op != nil:
		return p.opDecl(d.Op)
	case d.Cell != nil:
		return p.cellDecl(d.Cell)
	case d.Network != nil:
		return p.network(d.Network)
	case d.Skel != nil:
		return p.skeleton(d.Skel)
	}
	return nil
}

func (p *parser) opDecl(g *opDecl) *OpDecl {
	d := &OpDecl{Name: p.ident(g.Name), Span: p.nodeSpan(g.Tokens)}
	for _, s := range g.Stages {
		st := &Stage{Prim: p.ident(s.Prim), Span: p.nodeSpan(s.Tokens)}
		for _, a := range s.args() {
			st.Args = append(st.Args, &Arg{
				Key:   p.ident(a.Key),
				Value: p.value(a.Value),
				Span:  p.nodeSpan(a.Tokens),
			})
		}
		d.Stages = append(d.Stages, st)
	}
	return d
}

func (s *stage) args() []*arg {
	if s.Args == nil {
		return nil
	}
	return s.Args.Args
}

func (p *parser) value(g *value) Value {
	v := Value{Span: p.nodeSpan(g.Tokens)}
	switch {
	case g.Var.Value != "":
		v.Kind, v.Var = VarValue, g.Var.Value
		// 0 stands for "not written", so a written 0 is refused here.
		for _, sc := range []struct {
			tok  lexer.Token
			what string
			to   *int
		}{{g.Mul, "multiplier", &v.Mul}, {g.Div, "divisor", &v.Div}} {
			if sc.tok.Value == "" {
				continue
			}
			if *sc.to = p.integer(sc.tok.Value, sc.what, v.Span); *sc.to == 0 {
				p.diags.Errorf(p.tokSpan(sc.tok), "%s 0 of $%s", sc.what, v.Var).Detail = "scale a variable by whole numbers from 1: $F / 4, $F * 3 / 8"
				*sc.to = 1
			}
		}
	case g.Lit.Type == syntax().kernel:
		v.Kind = KernelValue
		h, w, _ := strings.Cut(g.Lit.Value, "x")
		v.KH = p.integer(h, "kernel height", v.Span)
		v.KW = p.integer(w, "kernel width", v.Span)
	default:
		v.Kind = IntValue
		v.Int = p.integer(g.Lit.Value, "integer", v.Span)
	}
	return v
}

// integer converts a run of digits, reporting values beyond maxInt.
func (p *parser) integer(digits, what string, at Span) int {
	n, err := strconv.Atoi(digits)
	if err != nil || n > maxInt {
		d := p.diags.Errorf(at, "%s %s is out of range", what, digits)
		d.Detail = fmt.Sprintf("the largest allowed value is %d", maxInt)
		return 0
	}
	return n
}

func (p *parser) cellDecl(g *cellDecl) *CellDecl {
	c := &CellDecl{
		Kind:     Normal,
		KindSpan: p.tokSpan(g.Kind),
		Name:     p.ident(g.Name),
		Span:     p.nodeSpan(g.Tokens),
	}
	if g.Kind.Value == "reduction" {
		c.Kind = Reduction
	}
	for _, b := range g.Blocks {
		c.Blocks = append(c.Blocks, p.block(b))
	}
	if g.Out != nil {
		o := &OutList{Mode: OutConcat, Span: p.nodeSpan(g.Out.Tokens)}
		if g.Out.Mode.Value == "route" {
			o.Mode = OutRoute
		}
		for _, r := range g.Out.Refs {
			o.Refs = append(o.Refs, p.ref(r))
		}
		c.Out = o
	}
	return c
}

const combinersHint = "the combiners are add, concat, add_ln and add_in"

// block converts a block, checking its generic "key: values" fields:
// each of in, op and combine exactly once, combine with one value, and no
// input reference where an op or combiner name belongs.
func (p *parser) block(g *block) *Block {
	b := &Block{Span: p.nodeSpan(g.Tokens)}
	if g.Name.Value != "" {
		id := p.ident(g.Name)
		b.Name = &id
	}
	keys := []string{"in", "op", "combine"} // in the order Format prints them
	examples := map[string]string{"in": "in: h_i, h_i-1", "op": "op: sep3x3, sep5x5", "combine": "combine: add"}
	var missing []string
	for _, k := range keys {
		if !slices.ContainsFunc(g.Fields, func(f *field) bool { return f.Key.Value == k }) {
			missing = append(missing, k)
		}
	}
	// A misspelt or repeated key is most likely meant as a missing one;
	// when the suggestion names it, "missing" would say the same twice.
	suggested := map[string]bool{}
	first := map[string]*field{}
	for _, fl := range g.Fields {
		key := p.ident(fl.Key)
		if !slices.Contains(keys, key.Name) {
			d := p.diags.Errorf(key.Span, "unknown block field %q", key.Name)
			d.Detail = `a block's fields are "in", "op" and "combine"`
			if s := Suggest(key.Name, keys); s != "" {
				d.Detail, suggested[s] = DidYouMean(key.Name, keys), true
			}
			continue
		}
		if prev, seen := first[key.Name]; seen {
			d := p.diags.Errorf(key.Span, "block field %q is given twice", key.Name)
			at := p.pos(prev.Key.Pos.Offset)
			d.Detail = fmt.Sprintf("the first is at %d:%d", at.Line, at.Col)
			if s := Suggest(key.Name, missing); s != "" {
				d.Detail, suggested[s] = DidYouMean(key.Name, missing), true
			}
			continue
		}
		first[key.Name] = fl
		switch key.Name {
		case "in":
			for _, r := range fl.Refs {
				b.Inputs = append(b.Inputs, p.ref(r))
			}
		case "op":
			for _, r := range fl.Refs {
				if !p.isInputRef(r, "an operation", `input references go in "in:"`) {
					b.Ops = append(b.Ops, p.ident(r.Tok))
				}
			}
		case "combine":
			if len(fl.Refs) > 1 {
				d := p.diags.Errorf(p.tokSpan(fl.Refs[1].Tok), "combine takes one combiner, not %d", len(fl.Refs))
				d.Detail = combinersHint
			}
			if !p.isInputRef(fl.Refs[0], "a combiner", combinersHint) {
				b.Combine = p.ident(fl.Refs[0].Tok)
			}
		}
	}
	for _, k := range missing {
		if !suggested[k] {
			d := p.diags.Errorf(b.Span, "block is missing its %q field", k)
			d.Detail = fmt.Sprintf("for example %q", examples[k])
		}
	}
	return b
}

// isInputRef reports (as an error) an input reference such as h_i-1 given
// where a name of another kind belongs.
func (p *parser) isInputRef(r *ref, want, hint string) bool {
	if r.Tok.Type != syntax().inputRef {
		return false
	}
	d := p.diags.Errorf(p.tokSpan(r.Tok), "%q is an input reference, not %s", r.Tok.Value, want)
	d.Detail = hint
	return true
}

func (p *parser) network(g *network) *NetworkDecl {
	n := &NetworkDecl{Name: p.ident(g.Name), Span: p.nodeSpan(g.Tokens)}
	for _, fl := range g.Fields {
		n.Fields = append(n.Fields, &Field{
			Key:   p.ident(fl.Key),
			Value: p.ident(fl.Value),
			Span:  p.nodeSpan(fl.Tokens),
		})
	}
	return n
}

// ref types a state reference. The lexer's InputRef token is h_i or
// h_i-DIGITS; which of those are inputs a cell may read (not h_i-0, h_i-01
// or h_i-9) is the checker's question, so a spelling that is no count of
// cells gets N = -1 and is reported there with the rest.
func (p *parser) ref(r *ref) Ref {
	out := Ref{Name: r.Tok.Value, Span: p.tokSpan(r.Tok)}
	if r.Tok.Type == syntax().inputRef {
		out.Kind = RefInput
		if back, ok := strings.CutPrefix(out.Name, "h_i-"); ok {
			n, err := strconv.Atoi(back)
			if err != nil || n == 0 || !wholeNumber(back) {
				n = -1
			}
			out.N = n
		}
		return out
	}
	if n, ok := BlockIndex(out.Name); ok {
		out.Kind, out.N = RefIndex, n
	}
	return out
}

func (p *parser) ident(t lexer.Token) Ident {
	return Ident{Name: t.Value, Span: p.tokSpan(t)}
}
