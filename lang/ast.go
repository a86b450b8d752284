package lang

import (
	"strconv"
	"strings"
)

// The AST is the project's own: participle's grammar structs stay in
// grammar.go and are converted into these types, so the compiler never
// depends on the parser library. Every node carries the span of source it
// came from, so errors found late (a shape mismatch while building the
// network) still point into the .cell file.

// Pos is a position in a source file. Line and Col are 1-based; Col counts
// bytes. Offset is the 0-based byte offset.
type Pos struct {
	Line, Col, Offset int
}

// Span is a half-open range of source text in one file.
type Span struct {
	File       string
	Start, End Pos
}

// File is one parsed .cell file.
type File struct {
	Name     string
	Decls    []Decl
	Comments []Comment // every comment in the file, in source order
}

// Comment is one '#' comment; Text includes the leading '#'.
type Comment struct {
	Text string
	Span Span
}

// Decl is a top-level declaration: *OpDecl, *CellDecl or *NetworkDecl.
type Decl interface {
	DeclSpan() Span
	DeclName() Ident
}

// Ident is a name with its span.
type Ident struct {
	Name string
	Span Span
}

// OpDecl defines an operation as a pipeline of primitives:
//
//	op sep3x3 = relu -> dw(k: 3, stride: $stride) -> pw -> bn -> relu -> dw(k: 3) -> pw -> bn
type OpDecl struct {
	Name   Ident
	Stages []*Stage
	Span   Span
}

// Stage is one primitive application inside an op pipeline.
type Stage struct {
	Prim Ident
	Args []*Arg
	Span Span
}

// Arg is a named primitive argument, "k: 3".
type Arg struct {
	Key   Ident
	Value Value
	Span  Span
}

// ValueKind says which field of a Value is set.
type ValueKind int

const (
	IntValue    ValueKind = iota // 3
	KernelValue                  // 1x7: KH=1, KW=7
	VarValue                     // $stride, $F, $F / 4, $F * 3 / 8
)

// Value is an argument value: an integer, a kernel size "HxW", or a
// variable bound when the op is instantiated ("$stride", "$F"), which may
// be scaled by whole numbers: "$F / 4" is Var F, Div 4.
type Value struct {
	Kind     ValueKind
	Int      int
	KH, KW   int
	Var      string // without the '$'
	Mul, Div int    // the scale of a variable; 0 where not written
	Span     Span
}

// CellKind tells which slot of a network a cell is written for.
type CellKind int

const (
	Normal CellKind = iota
	Reduction
)

func (k CellKind) String() string {
	if k == Reduction {
		return "reduction"
	}
	return "normal"
}

// CellDecl is a normal or reduction cell:
//
//	normal cell nasnet_a_normal {
//	  block < in: h_i, h_i-1; op: sep5x5, sep3x3; combine: add >
//	  out: h_i-1, b0, b1, b2, b3, b4
//	}
type CellDecl struct {
	Kind     CellKind
	KindSpan Span
	Name     Ident
	Blocks   []*Block
	Out      *OutList // nil: the paper's rule, concat of the unused block outputs
	Span     Span
}

// Block is one block of a cell: two inputs, one op on each, a combiner.
// The parser keeps whatever it was given (the checker reports arity), so
// Inputs and Ops may have any length.
type Block struct {
	Name    *Ident // optional: "block s2 < ... >"
	Inputs  []Ref
	Ops     []Ident
	Combine Ident
	Span    Span
}

// Ref names a hidden state: a cell input "h_i", "h_i-1", ..; a block by
// position "b0".."bN" (0-based); or a block by name. The parser decides
// which from the token, so later phases never re-read the text.
type Ref struct {
	Name string  // as written, for messages and the formatter
	Kind RefKind // which of the three
	// N is how many cells back an input is (h_i 0, h_i-1 1, ..) or a
	// block's position; 0 for a name.
	N    int
	Span Span
}

// RefKind says what a Ref names.
type RefKind int

const (
	RefName  RefKind = iota // a block by its name: "s2"
	RefInput                // a cell input: "h_i", "h_i-2"
	RefIndex                // a block by position: "b0"
)

// BlockIndex reports whether name has the form of a block position, "b0",
// "b1", .. (no leading zeros), and which; such names are reserved for
// positions.
func BlockIndex(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "b")
	if !ok || !wholeNumber(digits) {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// wholeNumber reports whether s is a decimal number without leading zeros.
func wholeNumber(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// OutMode says how a cell's output states leave it.
type OutMode int

const (
	// OutConcat concatenates the listed states along channels into the
	// cell's one output (NASNet-A/C, DARTS, ...).
	OutConcat OutMode = iota
	// OutRoute sends the k-th listed state to the cell k+1 layers ahead
	// (NASNet-B: "each output hidden state is used as a hidden state in
	// the future layers").
	OutRoute
)

// OutList is "out: a, b, c" (concat) or "route: a, b, c, d".
type OutList struct {
	Mode OutMode
	Refs []Ref
	Span Span
}

// NetworkDecl names the cells a network stacks:
//
//	network nasnet_a {
//	  normal: nasnet_a_normal
//	  reduction: nasnet_a_reduction
//	}
type NetworkDecl struct {
	Name   Ident
	Fields []*Field
	Span   Span
}

// Field is "key: value" inside a network.
type Field struct {
	Key   Ident
	Value Ident
	Span  Span
}

func (d *OpDecl) DeclSpan() Span       { return d.Span }
func (d *OpDecl) DeclName() Ident      { return d.Name }
func (d *CellDecl) DeclSpan() Span     { return d.Span }
func (d *CellDecl) DeclName() Ident    { return d.Name }
func (d *NetworkDecl) DeclSpan() Span  { return d.Span }
func (d *NetworkDecl) DeclName() Ident { return d.Name }

// SkeletonDecl is a network skeleton: the stem, the layout of cells, how
// a cell's inputs are adapted, the aux head and the classifier, with
// named parameters (the CLI and YAML set those named after a config key):
//
//	skeleton nasnet_cifar(n = 6, base_filters = 32, stem_multiplier = 3) {
//	  stem:       conv(k: 3, filters: base_filters * stem_multiplier) as conv0 -> bn as conv0_bn
//	  layers:     3 * n
//	  reductions: before n, 2 * n
//	  ...
//	}
//
// The parser keeps the fields as written (key, optional position word,
// items); the compiler's checker gives them their meaning.
type SkeletonDecl struct {
	Name   Ident
	Params []*Param
	Base   *Ident // "extends BASE"; nil if none
	Fields []*SkelField
	Span   Span
}

// Param is a named parameter with its default, "n = 6".
type Param struct {
	Name    Ident
	Default Expr
	Span    Span
}

// SkelField is "key: [where] item -> item ..." or "key: item, item ...".
type SkelField struct {
	Key   Ident
	Where *Ident // "before", "at" or "after"; nil if none
	Items []*Item
	Span  Span
}

// Item is one element of a field's value: an expression, which for a
// pipeline is a stage (a call), and the scope given with "as".
type Item struct {
	// Sep is what comes before the item: "" for the first, else "->" or ",".
	Sep  string
	Expr Expr
	As   *Ident // "as aux_logits/proj": the scope of the stage's nodes
	Span Span
}

// Expr is an expression: *Number, *Call, *Binary or *Paren.
type Expr interface {
	ExprSpan() Span
}

// Number is a literal as written: 3, 0.5, or a kernel size 3x3.
type Number struct {
	Text string
	Span Span
}

// Call is a name (a parameter, or a word such as valid) or, with
// parentheses, a stage: conv(k: 3, filters: 96). Args is nil for a bare
// name and non-nil (possibly empty) when the parentheses are written.
type Call struct {
	Name Ident
	Args []*CallArg
	// Parens says the parentheses were written, so that "gap()" and "gap"
	// both round-trip.
	Parens bool
	Span   Span
}

// CallArg is "key: expr" in a call.
type CallArg struct {
	Key   Ident
	Value Expr
	Span  Span
}

// Binary is X Op Y with Op one of + - * /.
type Binary struct {
	Op   string
	X, Y Expr
	Span Span
}

// Paren is a parenthesised expression, kept so that Format prints what
// was written.
type Paren struct {
	X    Expr
	Span Span
}

func (d *SkeletonDecl) DeclSpan() Span  { return d.Span }
func (d *SkeletonDecl) DeclName() Ident { return d.Name }
func (e *Number) ExprSpan() Span        { return e.Span }
func (e *Call) ExprSpan() Span          { return e.Span }
func (e *Binary) ExprSpan() Span        { return e.Span }
func (e *Paren) ExprSpan() Span         { return e.Span }
