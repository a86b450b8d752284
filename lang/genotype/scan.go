package genotype

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"cellc/lang"
)

// The scanner turns Python source into the few tokens genotypes need.
// Anything else in a Python file (operators, decorators, non-ASCII text)
// becomes a one-character punctuation token, so scanning fails only on an
// unterminated string.

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // [A-Za-z_][A-Za-z0-9_]*
	tInt            // [0-9]+
	tString         // '...', "...", '''...''', """..."""
	tPunct          // any other character
)

type token struct {
	kind       tokKind
	text       string // the source text
	str        string // tString: the value between the quotes
	start, end int    // byte offsets
	// bol: the token starts a physical line at column 1, not continued
	// from the line before by a backslash. At bracket depth 0 such a
	// token starts a Python statement.
	bol bool
}

// source is one input: its name for diagnostics, and its line starts for
// positions.
type source struct {
	name  string
	src   []byte
	lines []int
}

func newSource(name string, src []byte) *source {
	s := &source{name: name, src: src, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	return s
}

func (s *source) pos(offset int) lang.Pos {
	offset = max(0, min(offset, len(s.src)))
	line := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > offset }) - 1
	return lang.Pos{Line: line + 1, Col: offset - s.lines[line] + 1, Offset: offset}
}

func (s *source) span(start, end int) lang.Span {
	return lang.Span{File: s.name, Start: s.pos(start), End: s.pos(end)}
}

func (s *source) tokSpan(t token) lang.Span { return s.span(t.start, t.end) }

// scan splits src into tokens, ending with a tEOF token.
func scan(s *source) ([]token, lang.Diagnostics) {
	var (
		toks      []token
		diags     lang.Diagnostics
		src       = s.src
		lineStart = 0
		continued = false
	)
	emit := func(k tokKind, start, end int, str string) {
		toks = append(toks, token{kind: k, text: string(src[start:end]), str: str, start: start, end: end,
			bol: start == lineStart && !continued})
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			i++
			lineStart, continued = i, false
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\\' && lineJoin(src, i) > 0:
			// An explicit line join: the next line continues this one.
			i = lineJoin(src, i)
			lineStart, continued = i, true
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && (isIdentStart(src[j]) || isDigit(src[j])) {
				j++
			}
			emit(tIdent, i, j, "")
			i = j
		case isDigit(c):
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			emit(tInt, i, j, "")
			i = j
		case c == '\'' || c == '"':
			j, str, err := scanString(src, i)
			if err != "" {
				end := len(src)
				if nl := bytes.IndexByte(src[i:], '\n'); nl >= 0 {
					end = i + nl
				}
				diags.Errorf(s.span(i, end), "%s", err).Detail = fmt.Sprintf("end it with %s", strings.Repeat(string(c), quoteLen(src, i)))
				return append(toks, token{kind: tEOF, start: len(src), end: len(src)}), diags
			}
			emit(tString, i, j, str)
			i = j
		default:
			_, n := utf8.DecodeRune(src[i:])
			emit(tPunct, i, i+n, "")
			i += n
		}
	}
	toks = append(toks, token{kind: tEOF, start: len(src), end: len(src), bol: true})
	return toks, diags
}

// lineJoin returns the offset after the newline when src[i] is a
// backslash that ends its line, else 0.
func lineJoin(src []byte, i int) int {
	switch {
	case i+1 < len(src) && src[i+1] == '\n':
		return i + 2
	case i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n':
		return i + 3
	}
	return 0
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

// quoteLen is 3 for a triple-quoted string starting at i, else 1.
func quoteLen(src []byte, i int) int {
	if i+2 < len(src) && src[i+1] == src[i] && src[i+2] == src[i] {
		return 3
	}
	return 1
}

// scanString reads the string literal starting at src[i] and returns the
// offset after it and its value, or an error message and the offset where
// scanning stopped. Escapes are decoded as Python decodes the ones that
// can occur in an operation name; others keep their backslash, as in
// Python.
func scanString(src []byte, i int) (int, string, string) {
	q := src[i]
	n := quoteLen(src, i)
	var b strings.Builder
	for j := i + n; j < len(src); {
		c := src[j]
		switch {
		case c == q && (n == 1 || j+2 < len(src) && src[j+1] == q && src[j+2] == q):
			return j + n, b.String(), ""
		case c == '\n' && n == 1:
			return j, "", "unterminated string"
		case c == '\\' && j+1 < len(src):
			switch e := src[j+1]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\n':
				// a line continuation inside the string
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	if n == 3 {
		return len(src), "", "unterminated triple-quoted string"
	}
	return len(src), "", "unterminated string"
}

// closer maps each opening bracket to its closing one.
func closer(open string) string {
	switch open {
	case "(":
		return ")"
	case "[":
		return "]"
	case "{":
		return "}"
	}
	return ""
}

func isCloser(s string) bool { return s == ")" || s == "]" || s == "}" }

// checkBrackets reports the first bracket that does not match: a closer
// with nothing open, a closer of the wrong kind, or an opener never
// closed.
func checkBrackets(s *source, toks []token) lang.Diagnostics {
	var diags lang.Diagnostics
	var open []token
	for _, t := range toks {
		if t.kind != tPunct {
			continue
		}
		switch {
		case closer(t.text) != "":
			open = append(open, t)
		case isCloser(t.text):
			if len(open) == 0 {
				diags.Errorf(s.tokSpan(t), "unmatched %q", t.text).Detail = "nothing is open here: remove it"
				return diags
			}
			top := open[len(open)-1]
			if want := closer(top.text); t.text != want {
				at := s.pos(top.start)
				diags.Errorf(s.tokSpan(t), "%q does not close %q", t.text, top.text).Detail =
					fmt.Sprintf("%q at %d:%d is still open: close it with %q first", top.text, at.Line, at.Col, want)
				return diags
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		top := open[len(open)-1]
		diags.Errorf(s.tokSpan(top), "%q is never closed", top.text).Detail = fmt.Sprintf("add %q after its last element", closer(top.text))
	}
	return diags
}
