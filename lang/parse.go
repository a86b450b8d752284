package lang

import (
	"errors"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Parse parses one .cell file. name is used in spans and diagnostics.
//
// Parse never panics. It reports the first syntax error of each top-level
// declaration and resumes at the next line that starts a declaration; the
// declarations that parsed are returned, and every problem found while
// converting them (a misspelt block field, a number out of range) is
// reported, not just the first. Names are not resolved here: an unknown
// op, cell or input reference is the checker's business.
func Parse(name string, src []byte) (f *File, diags Diagnostics) {
	p := &parser{name: name, src: src, lines: lineStarts(src), opEnd: -1}
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
		at, msg := 0, err.Error()
		var lerr *lexer.Error
		if errors.As(err, &lerr) {
			at, msg = lerr.Pos.Offset, lerr.Message()
		}
		p.diags.Errorf(p.span(at, at), "%s", strings.TrimPrefix(msg, "lexer: "))
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
	// origin reads p.toks from the start; see lexerAt.
	origin *lexer.PeekingLexer
	diags  Diagnostics

	// opEnd is the index of the token after the last declaration parsed,
	// when that was an op (else -1): an error there is most likely about
	// the op's pipeline.
	opEnd int
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
	pl := p.lexerAt(0)
	for !pl.Peek().EOF() {
		start := pl.Cursor()
		d, err := syntax().decl.ParseFromLexer(pl, participle.AllowTrailing(true))
		if err == nil && pl.Cursor() > start {
			p.opEnd = -1
			if d.Op != nil {
				p.opEnd = pl.Cursor()
			}
			if d := p.decl(d); d != nil {
				out = append(out, d)
			}
			continue
		}
		stop := 0
		if err != nil {
			stop = p.syntaxError(err, start)
		}
		if start == p.opEnd && len(out) > 0 && !isDeclKeyword(p.toks[start].Value) {
			// What failed is the rest of the op before it ("conv(k 3)"
			// parses as the op "conv" followed by junk), so that op is
			// broken too.
			out = out[:len(out)-1]
		}
		pl = p.lexerAt(p.resync(start, stop))
	}
	return out
}

// lexerAt returns a participle lexer whose next token is p.toks[i]. The
// lexers share p.toks (participle never writes to its tokens), so this
// costs no copy, only a walk to i.
func (p *parser) lexerAt(i int) *lexer.PeekingLexer {
	if p.origin == nil {
		p.origin, _ = lexer.Upgrade(&tokenSlice{toks: p.toks}) // tokenSlice never fails
	}
	l := *p.origin
	l.FastForward(lexer.RawCursor(i - 1))
	return &l
}

// isDeclKeyword reports the words that start declarations, and "cell",
// a likely mistake for one.
func isDeclKeyword(s string) bool {
	switch s {
	case "op", "normal", "reduction", "network", "skeleton", "cell":
		return true
	}
	return false
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
	case "skeleton":
		return second.Type == syntax().ident && (third.Value == "{" || third.Value == "(" || third.Value == "extends")
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
