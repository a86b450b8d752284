// Package genotype reads and writes DARTS genotypes: the Python literals
// in which DARTS-family papers (DARTS, PC-DARTS, P-DARTS, GDAS, ...)
// publish their cells, as in quark0/darts cnn/genotypes.py:
//
//	DARTS_V2 = Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
//	                    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ...], reduce_concat=range(2, 6))
//
// # Semantics
//
// What a genotype means is fixed by DARTS' cnn/model.py (Cell._compile
// and Cell.forward). A cell has the states [s0, s1] = [c_{k-2}, c_{k-1}],
// the outputs of the two cells before it. The (op, input) pairs are read
// two at a time: node j applies op 2j to state input(2j), op 2j+1 to
// state input(2j+1), adds the two, and appends the sum to the states as
// state j+2. So input 0 is c_{k-2}, 1 is c_{k-1} and i >= 2 is node i-2,
// which must come before j. The cell's output is the channel concatenation
// of the states *_concat lists. In a reduction cell the ops reading
// input 0 or 1 have stride 2.
//
// AutoDL-Projects (GDAS, SETN) writes the same thing with the pairs of a
// node grouped: normal=[(('skip_connect', 0), ('skip_connect', 1)), ...],
// and two more fields, connectN=None and connects=None. Both forms are
// read; String prints DARTS' flat form.
//
// # Syntax
//
// The reader accepts the subset of Python literals genotypes are written
// in, through a hand-written scanner and recursive-descent parser:
//
//	Genotype = [ Name "=" ] "Genotype" "(" [ Arg { "," Arg } [ "," ] ] ")" .
//	Arg      = [ Name "=" ] Value .
//	Value    = String | Int | "-" Int | Name | Call | Tuple | List .
//	Call     = Name "(" [ Arg { "," Arg } [ "," ] ] ")" .       (range(2, 6), list(range(2, 6)))
//	Tuple    = "(" [ Value { "," Value } [ "," ] ] ")" .        ((x) is x, as in Python)
//	List     = "[" [ Value { "," Value } [ "," ] ] "]" .
//
// Strings are quoted with ' or " (backslash escapes are kept as Python
// keeps them); '#' starts a comment; newlines inside brackets are
// whitespace.
//
// # Phases
//
// Parse reads one genotype expression (what a user pastes on a command
// line); ParseFile reads a Python file of NAME = Genotype(...) lines, such
// as a project's genotypes.py, skipping every other statement. Neither
// panics. Problems are lang.Diagnostics positioned in the input, like a
// .cell file's: unbalanced brackets, a missing or unknown field, an odd
// number of pairs, an input index that is not an earlier state, an
// operation DARTS does not define (with "did you mean"), a concat index
// out of range. String prints a genotype exactly as Python prints the
// namedtuple holding lists.
package genotype

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cellc/lang"
)

// Genotype is one DARTS genotype: a normal and a reduction cell.
type Genotype struct {
	// Name is the name the genotype is bound to in its source
	// (DARTS_V2 = Genotype(...)), or "".
	Name   string
	Normal Cell
	Reduce Cell
	// Span is the Genotype(...) expression; zero when the genotype was
	// not read from text.
	Span lang.Span
}

// Cell is one cell of a genotype: its nodes and the states its output
// concatenates.
type Cell struct {
	Nodes []Node
	// Concat lists state indices: 0 and 1 are the cell's inputs, i >= 2
	// is node i-2. range(2, 6) is read as [2, 3, 4, 5].
	Concat []int
	// Span is the list of pairs, ConcatSpan the concat value.
	Span, ConcatSpan lang.Span
}

// Node is one intermediate node: the sum of its two edges.
type Node [2]Edge

// Edge is one (op, input) pair.
type Edge struct {
	Op    string
	Input int // 0: c_{k-2}, 1: c_{k-1}, i >= 2: node i-2
	// Span is the pair; OpSpan and InputSpan its two elements.
	Span, OpSpan, InputSpan lang.Span
}

// Primitives are the eight operations of DARTS' search space
// (quark0/darts cnn/genotypes.py PRIMITIVES), in its order.
func Primitives() []string {
	return []string{"none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
		"sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"}
}

// Ops are the operations DARTS' network code can build (cnn/operations.py
// OPS): the eight Primitives, and sep_conv_7x7 and conv_7x1_1x7, which
// the NASNet and AmoebaNet genotypes in DARTS' genotypes.py use. A
// genotype may name these and no others.
func Ops() []string {
	return append(Primitives(), "sep_conv_7x7", "conv_7x1_1x7")
}

// IsOp reports whether name is one of Ops.
func IsOp(name string) bool { return slices.Contains(Ops(), name) }

// String prints g as Python prints the namedtuple, the concat lists as
// lists:
//
//	Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])
func (g *Genotype) String() string {
	var b strings.Builder
	b.WriteString("Genotype(normal=")
	writeNodes(&b, g.Normal.Nodes)
	b.WriteString(", normal_concat=")
	writeInts(&b, g.Normal.Concat)
	b.WriteString(", reduce=")
	writeNodes(&b, g.Reduce.Nodes)
	b.WriteString(", reduce_concat=")
	writeInts(&b, g.Reduce.Concat)
	b.WriteString(")")
	return b.String()
}

func writeNodes(b *strings.Builder, nodes []Node) {
	b.WriteByte('[')
	for i, n := range nodes {
		for j, e := range n {
			if i > 0 || j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "(%s, %d)", pyRepr(e.Op), e.Input)
		}
	}
	b.WriteByte(']')
}

func writeInts(b *strings.Builder, xs []int) {
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(x))
	}
	b.WriteByte(']')
}

// pyRepr is Python's repr of a str: single quotes unless the text holds a
// single quote and no double quote, backslash escapes for the quote, the
// backslash and control characters.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
