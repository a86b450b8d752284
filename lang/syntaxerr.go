package lang

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Syntax errors. participle reports "unexpected token X (expected
// <EBNF>)"; that EBNF is the grammar's, not the user's, so syntaxError
// rewrites it as "unexpected X, expected <what a person would write>",
// choosing the words from the grammar node participle names and the
// tokens around the error.

var expectedRE = regexp.MustCompile(`^unexpected token ".*" \(expected (.*)\)$`)

// syntaxError reports err, a failed parse of the declaration whose first
// token is p.toks[start], and returns the byte offset of the error.
func (p *parser) syntaxError(err error, start int) int {
	var perr participle.Error
	if !errors.As(err, &perr) {
		p.diags.Errorf(p.span(0, 0), "syntax error: %v", err)
		return 0
	}
	var ute *participle.UnexpectedTokenError
	if !errors.As(err, &ute) {
		off := perr.Position().Offset
		p.diags.Errorf(p.span(off, off), "syntax error: %s", perr.Message())
		return off
	}
	expected := ""
	if m := expectedRE.FindStringSubmatch(ute.Message()); m != nil {
		expected = m[1]
	}
	tok := p.indexOf(ute.Unexpected)
	if deeper, ok := p.retry(expected, start, tok); ok {
		return p.syntaxError(deeper, start)
	}
	switch prev := p.prev(tok, 1); {
	case p.toks[tok].Value == "," && slices.Contains([]string{`")"`, `">"`, `"}"`}, expected):
		// A repetition such as ("," Arg)* backtracked over its comma
		// because what follows the comma is wrong: report that.
		tok++
		expected = "after ,"
	case expected == "" && tok == p.opEnd && p.toks[tok].Value == "->":
		// ("->" Stage)* backtracked over the arrow.
		tok++
		expected = `Stage`
	case expected == "" && tok == p.opEnd && prev.Value == "op" && p.prev(tok, 2).Value == "->" && p.firstOnLine(prev.Pos.Offset):
		// "op a = x ->" followed by "op b = ...": the next declaration's
		// "op" was read as the missing stage.
		tok--
		expected = "stage, not op"
	}

	t := p.toks[tok]
	at := p.tokSpan(t)
	want := p.describeExpected(expected, start, tok)
	var d *Diagnostic
	switch {
	case t.EOF():
		d = p.diags.Errorf(at, "unexpected end of file, expected %s", want)
	case t.Type == syntax().invalid:
		d = p.diags.Errorf(at, "unexpected character %q, expected %s", t.Value, want)
	default:
		d = p.diags.Errorf(at, "unexpected %q, expected %s", t.Value, want)
	}
	d.Detail = p.hint(expected, start, tok)
	return t.Pos.Offset
}

// indexOf finds the token participle stopped at in p.toks.
func (p *parser) indexOf(t lexer.Token) int {
	i := sort.Search(len(p.toks), func(i int) bool { return p.toks[i].Pos.Offset >= t.Pos.Offset })
	return min(i, len(p.toks)-1)
}

// retry recovers an error participle threw away. An optional repetition
// such as a network's fields backtracks when an item fails after its
// first token, and participle then complains about what follows the
// repetition: in `network n { normal n_cell }` it reports "normal" where
// "}" was expected, not the missing ":". Parsing the items that could
// start at the failing token again, on their own, finds the error the user
// made. It is not done where the token begins a declaration: there the
// likelier mistake is an unclosed "{".
//
// The same goes for a stage's arguments: in "conv(k 3)" the whole
// argument list backtracks and participle complains about the "(" after
// the op declaration; parsing the argument list alone finds the missing
// ":".
func (p *parser) retry(expected string, start, tok int) (error, bool) {
	if p.toks[tok].EOF() || p.startsDeclAt(tok) {
		return nil, false
	}
	var try func(*lexer.PeekingLexer) error
	switch {
	case expected == `"}"` && p.declKeyword(start) == "network":
		try = tryProduction[netField]
	case expected == `"}"`:
		try = tryProduction[out]
	case expected == `")"`:
		try = tryProduction[arg]
	case expected == "" && tok == p.opEnd && p.toks[tok].Value == "(":
		try = tryProduction[argList]
	default:
		return nil, false
	}
	err := try(p.lexerAt(tok))
	var perr participle.Error
	if errors.As(err, &perr) && perr.Position().Offset > p.toks[tok].Pos.Offset {
		return err, true
	}
	return nil, false
}

func tryProduction[P any](pl *lexer.PeekingLexer) error {
	sub, err := participle.ParserForProduction[P](syntax().file)
	if err != nil {
		return nil
	}
	_, err = sub.ParseFromLexer(pl, participle.AllowTrailing(true))
	return err
}

// describeExpected turns the EBNF participle expected into words.
func (p *parser) describeExpected(expected string, start, tok int) string {
	prev := p.prev(tok, 1)
	switch expected {
	case "":
		if tok == p.opEnd {
			return `"->" or a new declaration`
		}
		return `a declaration: "op", "normal cell", "reduction cell" or "network"`
	case "stage, not op":
		return `a stage such as "relu" or "conv(k: 3)"`
	case `<ident> "=" Stage ("->" Stage)*`:
		return "an operation name"
	case `"=" Stage ("->" Stage)*`:
		return `"="`
	case `Stage ("->" Stage)*`, `Stage`:
		return `a stage such as "relu" or "conv(k: 3)"`
	case `":" Value`:
		return `":"`
	case `Value`:
		return "a value such as 3, 1x7 or $stride"
	case `<ident>`, `<ident> ("*" <int>)? ("/" <int>)?`:
		if prev.Value == "$" {
			return `a variable name after "$"`
		}
		return "a cell name"

	case `")"`:
		if prev.Value == "(" {
			return `an argument such as "k: 3", or ")"`
		}
		return `"," or ")"`
	case `"cell" <ident> "{" Block* Out? "}"`:
		return `"cell"`
	case `<ident> "{" Block* Out? "}"`:
		return "a cell name"
	case `<ident> "{" NetField* "}"`:
		return "a network name"
	case `"{" Block* Out? "}"`, `"{" NetField* "}"`:
		return `"{"`
	case `"<" Field (";" Field)* ";"? ">"`:
		return `"<"`
	case `Field (";" Field)* ";"? ">"`:
		return `a field such as "in: h_i, h_i-1"`
	case `":" Ref ("," Ref)*`:
		return `":"`
	case "after ,":
		if p.listKey(tok) == "" {
			return `an argument such as "k: 3"`
		}
		fallthrough
	case `Ref ("," Ref)*`:
		switch p.listKey(tok) {
		case "op":
			return "an operation name such as sep3x3"
		case "combine":
			return "a combiner such as add"
		}
		return "a hidden state such as h_i, h_i-1 or b0"
	case `":"`, `":" <ident>`:
		return `":"`
	case `">"`:
		if prev.Value == ";" {
			return `a field such as "op: sep3x3", or ">"`
		}
		return `",", ";" or ">"`
	case `"}"`:
		switch {
		case p.declKeyword(start) == "network":
			return `a field such as "normal: my_cell", or "}"`
		case p.outListAt(start, tok):
			return `"," or "}"`
		}
		return `a block, "out:", "route:" or "}"`
	}
	// A grammar node this table does not know yet (the tests look for
	// these): better the raw grammar than nothing.
	return expected
}

// hint adds a detail for the mistakes that are easy to make and hard to
// see from the summary alone.
func (p *parser) hint(expected string, start, tok int) string {
	t, prev, next := p.toks[tok], p.prev(tok, 1), p.next(tok)
	switch {
	case t.Value == "-" && prev.Type == syntax().inputRef && next.Type == syntax().integer:
		return fmt.Sprintf("write input references without spaces, as in \"%s-%s\"", prev.Value, next.Value)
	case t.Type == syntax().invalid:
		return ""
	case (t.Value == "*" || t.Value == "/") && prev.Type == syntax().ident && p.prev(tok, 2).Value == "$":
		return `a variable is scaled by whole numbers, "*" before "/": $F / 4, $F * 3 / 8`
	case strings.HasSuffix(expected, `"}"`) && p.startsDeclAt(tok):
		if open, ok := p.openBrace(start, tok); ok {
			return fmt.Sprintf(`the "{" at %d:%d is not closed`, open.Line, open.Col)
		}
	case expected == `">"` && prev.Value != ";" && t.Type == syntax().ident && next.Value == ":":
		return `separate block fields with ";"`
	case expected == `"}"` && t.Value == "block" && p.outListAt(start, tok):
		return `"out:" or "route:" comes after the last block`
	case expected == "stage, not op":
		arrow := p.pos(p.prev(tok, 1).Pos.Offset)
		return fmt.Sprintf(`the "->" at %d:%d has no stage after it, so this "op" was read as one`, arrow.Line, arrow.Col)
	case expected == "" && tok == p.opEnd && prev.Pos.Line == t.Pos.Line:
		return `the stages of an operation are joined by "->"`
	case expected == `"<" Field (";" Field)* ";"? ">"` && t.Value == ":":
		return `a block's fields go between "<" and ">"`
	case expected == "" && start == tok && t.Value == "cell":
		return `a cell starts with its kind: "normal cell" or "reduction cell"`
	}
	return ""
}

// prev returns the token n before tok, or an empty token.
func (p *parser) prev(tok, n int) lexer.Token {
	if tok-n < 0 {
		return lexer.Token{}
	}
	return p.toks[tok-n]
}

func (p *parser) next(tok int) lexer.Token {
	if tok+1 >= len(p.toks) {
		return lexer.Token{Type: lexer.EOF}
	}
	return p.toks[tok+1]
}

// listKey returns the key of the "key: a, b, ..." list that tok is in,
// or "" if it is in an argument list ("(k: 3, ...") or none.
func (p *parser) listKey(tok int) string {
	key := ""
	for i := tok - 1; i > 0; i-- {
		switch p.toks[i].Value {
		case ":":
			if key == "" {
				key = p.toks[i-1].Value
			}
		case "(":
			return ""
		case ";", "<", "{", "}", "=":
			return key
		}
	}
	return key
}

// declKeyword is the first token of the declaration that failed.
func (p *parser) declKeyword(start int) string {
	if start < len(p.toks) {
		return p.toks[start].Value
	}
	return ""
}

// outListAt reports whether an "out:" or "route:" list was begun between
// the declaration's start and tok.
func (p *parser) outListAt(start, tok int) bool {
	for i := start; i+1 < tok; i++ {
		if slices.Contains([]string{"out", "route"}, p.toks[i].Value) && p.toks[i+1].Value == ":" {
			return true
		}
	}
	return false
}

// openBrace finds the declaration's "{".
func (p *parser) openBrace(start, tok int) (Pos, bool) {
	for i := start; i < tok; i++ {
		if p.toks[i].Value == "{" {
			return p.pos(p.toks[i].Pos.Offset), true
		}
	}
	return Pos{}, false
}
