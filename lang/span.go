package lang

import (
	"sort"

	"github.com/alecthomas/participle/v2/lexer"
)

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
