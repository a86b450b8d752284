package lang

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// maxInt bounds integer literals (argument values and kernel sides). The
// language has no use for larger numbers, and rejecting them here means no
// later phase has to worry about overflow when it multiplies shapes.
const maxInt = 1<<31 - 1

// Parse parses one .cell file. name is used in spans and diagnostics.
//
// Parse never panics. It reports the first syntax error of each top-level
// declaration and resumes at the next line that starts a declaration; the
// declarations that parsed are returned, and every problem found while
// converting them (a misspelt block field, a number out of range) is
// reported, not just the first. Names are not resolved here: an unknown
// op, cell or input reference is the checker's business.
func Parse(name string, src []byte) (f *File, diags Diagnostics) {
	p := &parser{name: name, src: src, lines: lineStarts(src)}
	f = &File{Name: name}
	defer func() {
		// participle panics on some grammar bugs ("branch accepted but did
		// not progress"). Input must never crash the caller, so such a
		// panic becomes a diagnostic; the fuzz tests make sure it does not
		// happen.
		if r := recover(); r != nil {
			p.diags.Errorf(p.span(0, 0), "internal error in the parser: %v", r)
			diags = p.diags
		}
	}()

	toks, err := p.lex()
	if err != nil {
		// Unreachable with the Invalid rule, but a lexer error is still an
		// error about the input, not a reason to panic.
		p.diags.Errorf(p.span(0, 0), "%s", strings.TrimPrefix(err.Error(), "lexer: "))
		return f, p.diags
	}
	for _, t := range toks {
		if t.Type == syntax().comment {
			// Trailing blanks (and the \r of a CRLF line end) are not
			// part of the comment; dropping them here keeps Format's
			// output free of them and the round trip exact.
			t.Value = strings.TrimRight(t.Value, " \t\r\f\v")
			f.Comments = append(f.Comments, Comment{Text: t.Value, Span: p.tokSpan(t)})
		} else {
			p.toks = append(p.toks, t)
		}
	}
	f.Decls = p.decls()
	p.diags.Sort()
	return f, p.diags
}

// parser holds the state of one Parse call.
type parser struct {
	name  string
	src   []byte
	lines []int         // byte offset at which each line starts
	toks  []lexer.Token // without comments; ends with EOF
	diags Diagnostics
}

func (p *parser) lex() ([]lexer.Token, error) {
	l, err := syntax().lexer.LexString(p.name, string(p.src))
	if err != nil {
		return nil, err
	}
	return lexer.ConsumeAll(l)
}

// decls parses the token stream one declaration at a time, so that a
// syntax error in one declaration does not hide the others.
func (p *parser) decls() []Decl {
	var out []Decl
	base := 0                                         // index in p.toks of pl's first token
	pl, _ := lexer.Upgrade(&tokenSlice{toks: p.toks}) // tokenSlice never fails
	for !pl.Peek().EOF() {
		start := base + pl.Cursor()
		d, err := syntax().decl.ParseFromLexer(pl, participle.AllowTrailing(true))
		if err == nil && base+pl.Cursor() > start {
			if d := p.decl(d); d != nil {
				out = append(out, d)
			}
			continue
		}
		stop := 0
		if err != nil {
			stop = p.syntaxError(err, start)
		}
		base = p.resync(start, stop)
		pl, _ = lexer.Upgrade(&tokenSlice{toks: p.toks[base:]})
	}
	return out
}

// resync returns the index of the next token, after both the start of the
// failed declaration and the error (at byte offset stop), that starts a
// declaration at the beginning of a line, or of the final EOF.
func (p *parser) resync(start, stop int) int {
	i := start + 1
	for ; i < len(p.toks)-1; i++ {
		if p.toks[i].Pos.Offset > stop && p.startsDeclAt(i) {
			break
		}
	}
	return min(i, len(p.toks)-1)
}

// startsDeclAt reports whether p.toks[i] looks like the start of a
// declaration written at the beginning of a line. Keywords are ordinary
// identifiers elsewhere ("op:" in a block, "normal:" in a network), so
// the tokens after it must fit too.
func (p *parser) startsDeclAt(i int) bool {
	t, second, third := p.toks[i], p.next(i), p.next(i+1)
	if !p.firstOnLine(t.Pos.Offset) {
		return false
	}
	switch t.Value {
	case "op":
		return second.Type == syntax().ident && third.Value == "="
	case "normal", "reduction":
		return second.Value == "cell"
	case "network":
		return second.Type == syntax().ident && third.Value == "{"
	}
	return false
}

// firstOnLine reports whether only whitespace precedes offset on its line.
func (p *parser) firstOnLine(offset int) bool {
	for i := min(offset, len(p.src)) - 1; i >= 0; i-- {
		switch p.src[i] {
		case '\n':
			return true
		case ' ', '\t', '\r', '\f', '\v':
		default:
			return false
		}
	}
	return true
}

// tokenSlice replays already-lexed tokens to participle.
type tokenSlice struct {
	toks []lexer.Token
	i    int
}

func (s *tokenSlice) Next() (lexer.Token, error) {
	if s.i >= len(s.toks) {
		// ConsumeAll ends the slice with EOF; repeat it if asked again.
		if len(s.toks) > 0 {
			return s.toks[len(s.toks)-1], nil
		}
		return lexer.Token{Type: lexer.EOF}, nil
	}
	t := s.toks[s.i]
	s.i++
	return t, nil
}

// Conversion from grammar structs to the AST.

func (p *parser) decl(d *decl) Decl {
	switch {
	case d.Op != nil:
		return p.opDecl(d.Op)
	case d.Cell != nil:
		return p.cellDecl(d.Cell)
	case d.Network != nil:
		return p.network(d.Network)
	}
	return nil
}

func (p *parser) opDecl(g *opDecl) *OpDecl {
	d := &OpDecl{Name: p.ident(g.Name), Span: p.nodeSpan(g.Tokens)}
	for _, s := range g.Stages {
		st := &Stage{Prim: p.ident(s.Prim), Span: p.nodeSpan(s.Tokens)}
		for _, a := range s.Args {
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

func (p *parser) value(g *value) Value {
	v := Value{Span: p.nodeSpan(g.Tokens)}
	switch {
	case g.Var.Value != "":
		v.Kind, v.Var = VarValue, g.Var.Value
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

// blockFields are a block's fields in canonical order, with an example
// of each for diagnostics.
var blockFields = []struct{ key, example string }{
	{"in", "in: h_i, h_i-1"},
	{"op", "op: sep3x3, sep5x5"},
	{"combine", "combine: add"},
}

// block converts a block, checking its generic "key: values" fields:
// each of in, op and combine exactly once, combine with one value, and no
// input reference where an op or combiner name belongs.
func (p *parser) block(g *block) *Block {
	b := &Block{Span: p.nodeSpan(g.Tokens)}
	if g.Name.Value != "" {
		id := p.ident(g.Name)
		b.Name = &id
	}
	valid := make([]string, len(blockFields))
	for i, bf := range blockFields {
		valid[i] = bf.key
	}
	present := map[string]bool{}
	for _, fl := range g.Fields {
		present[fl.Key.Value] = true
	}
	var missing []string
	for _, k := range valid {
		if !present[k] {
			missing = append(missing, k)
		}
	}

	first := map[string]*field{}
	suggested := map[string]bool{} // missing fields already named by a suggestion
	for _, fl := range g.Fields {
		key := p.ident(fl.Key)
		switch prev, seen := first[key.Name]; {
		case !slices.Contains(valid, key.Name):
			d := p.diags.Errorf(key.Span, "unknown block field %q", key.Name)
			if s := Suggest(key.Name, valid); s != "" {
				d.Detail = DidYouMean(key.Name, valid)
				suggested[s] = true
			} else {
				d.Detail = `a block's fields are "in", "op" and "combine"`
			}
			continue
		case seen:
			d := p.diags.Errorf(key.Span, "block field %q is given twice", key.Name)
			if s := Suggest(key.Name, missing); s != "" {
				d.Detail = DidYouMean(key.Name, missing)
				suggested[s] = true
			} else {
				d.Detail = fmt.Sprintf("the first is at %d:%d", p.pos(prev.Key.Pos.Offset).Line, p.pos(prev.Key.Pos.Offset).Col)
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
				if p.isInputRef(r, "an operation", `input references go in "in:"`) {
					continue
				}
				b.Ops = append(b.Ops, p.ident(r.Tok))
			}
		case "combine":
			if len(fl.Refs) > 1 {
				extra := p.tokSpan(fl.Refs[1].Tok)
				d := p.diags.Errorf(extra, "combine takes one combiner, not %d", len(fl.Refs))
				d.Detail = "the combiners are add, concat, add_ln and add_in"
			}
			if !p.isInputRef(fl.Refs[0], "a combiner", "the combiners are add, concat, add_ln and add_in") {
				b.Combine = p.ident(fl.Refs[0].Tok)
			}
		}
	}
	for _, bf := range blockFields {
		if !present[bf.key] && !suggested[bf.key] {
			d := p.diags.Errorf(b.Span, "block is missing its %q field", bf.key)
			d.Detail = fmt.Sprintf("for example %q", bf.example)
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

func (p *parser) ref(r *ref) Ref {
	return Ref{Name: r.Tok.Value, Span: p.tokSpan(r.Tok)}
}

func (p *parser) ident(t lexer.Token) Ident {
	return Ident{Name: t.Value, Span: p.tokSpan(t)}
}

// Positions. participle counts columns in runes; the AST counts bytes, so
// every position is recomputed from the byte offset.

func lineStarts(src []byte) []int {
	lines := []int{0}
	for i, c := range src {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	return lines
}

func (p *parser) pos(offset int) Pos {
	offset = max(0, min(offset, len(p.src)))
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > offset }) - 1
	return Pos{Line: line + 1, Col: offset - p.lines[line] + 1, Offset: offset}
}

func (p *parser) span(start, end int) Span {
	return Span{File: p.name, Start: p.pos(start), End: p.pos(end)}
}

func (p *parser) tokSpan(t lexer.Token) Span {
	return p.span(t.Pos.Offset, t.Pos.Offset+len(t.Value))
}

// nodeSpan runs from the first token a grammar node consumed to the end
// of its last.
func (p *parser) nodeSpan(toks []lexer.Token) Span {
	if len(toks) == 0 {
		return p.span(0, 0)
	}
	last := toks[len(toks)-1]
	return p.span(toks[0].Pos.Offset, last.Pos.Offset+len(last.Value))
}
