package lang

import (
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The participle grammar. These structs are the parser's private concern:
// parse.go converts them into the AST of ast.go, so nothing outside this
// package sees participle's types. The types are named after the grammar's
// productions (participle capitalises the first letter when it prints the
// EBNF), which makes testdata/grammar.ebnf read like the reference in doc.go.
//
// Every struct keeps its Tokens: participle fills that field with the
// tokens the node consumed, which is where spans come from. Block fields
// are parsed generically (key: ref, ...) and checked during conversion, so
// a misspelt field name is a precise "unknown block field" with a
// suggestion rather than a syntax error.

// lexerRules are tried in order, so InputRef must come before Ident (else
// "h_i" would lex as an identifier) and Kernel before Int. The \b after
// InputRef keeps identifiers such as h_input whole. Whitespace is dropped
// by the lexer (lower-case rule names are not emitted). Comments are
// tokens, but Parse takes them out of the stream before participle sees
// it and keeps them in File.Comments for the formatter: were they elided
// inside participle instead, a capture such as @Ident would start at the
// comment before the identifier. Invalid catches any other character so
// that lexing never fails: the parser then stops on it, in source order,
// with an "invalid character" diagnostic.
func lexerRules() []lexer.SimpleRule {
	return []lexer.SimpleRule{
		{Name: "Comment", Pattern: `#[^\n]*`},
		{Name: "Kernel", Pattern: `\d+x\d+`},
		{Name: "Float", Pattern: `\d+\.\d+`},
		{Name: "InputRef", Pattern: `h_i(-\d+)?\b`},
		{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
		{Name: "Int", Pattern: `\d+`},
		{Name: "Arrow", Pattern: `->`},
		{Name: "Punct", Pattern: `[<>{}():;,=$+\-*/]`},
		{Name: "whitespace", Pattern: `[ \t\r\n\f\v]+`},
		{Name: "Invalid", Pattern: `.`},
	}
}

type file struct {
	Decls []*decl `parser:"@@*"`
}

type decl struct {
	Op      *opDecl   `parser:"@@"`
	Cell    *cellDecl `parser:"| @@"`
	Network *network  `parser:"| @@"`
	Skel    *skeleton `parser:"| @@"`
}

type opDecl struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"'op' @Ident '='"`
	Stages []*stage    `parser:"@@ ( '->' @@ )*"`
}

type stage struct {
	Tokens []lexer.Token
	Prim   lexer.Token `parser:"@Ident"`
	Args   *argList    `parser:"@@?"`
}

// argList is a production of its own so that Parse can re-parse it alone
// to find where a broken argument list went wrong (see retry).
type argList struct {
	Args []*arg `parser:"'(' ( @@ ( ',' @@ )* )? ')'"`
}

type arg struct {
	Tokens []lexer.Token
	Key    lexer.Token `parser:"@Ident ':'"`
	Value  *value      `parser:"@@"`
}

// value is a literal (Int or Kernel) or a "$" variable, optionally
// scaled by whole numbers ("$F * 3 / 8"); exactly one of Lit and Var is
// set (a matched token never has an empty Value).
type value struct {
	Tokens []lexer.Token
	Lit    lexer.Token `parser:"@( Int | Kernel )"`
	Var    lexer.Token `parser:"| '$' @Ident"`
	Mul    lexer.Token `parser:"( '*' @Int )?"`
	Div    lexer.Token `parser:"( '/' @Int )?"`
}

type cellDecl struct {
	Tokens []lexer.Token
	Kind   lexer.Token `parser:"@( 'normal' | 'reduction' ) 'cell'"`
	Name   lexer.Token `parser:"@Ident '{'"`
	Blocks []*block    `parser:"@@*"`
	Out    *out        `parser:"@@? '}'"`
}

type block struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"'block' @Ident? '<'"`
	Fields []*field    `parser:"@@ ( ';' @@ )* ';'? '>'"`
}

type field struct {
	Tokens []lexer.Token
	Key    lexer.Token `parser:"@Ident ':'"`
	Refs   []*ref      `parser:"@@ ( ',' @@ )*"`
}

type out struct {
	Tokens []lexer.Token
	Mode   lexer.Token `parser:"@( 'out' | 'route' ) ':'"`
	Refs   []*ref      `parser:"@@ ( ',' @@ )*"`
}

type ref struct {
	Tok lexer.Token `parser:"@( InputRef | Ident )"`
}

type network struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"'network' @Ident '{'"`
	Fields []*netField `parser:"@@* '}'"`
}

type netField struct {
	Tokens []lexer.Token
	Key    lexer.Token `parser:"@Ident ':'"`
	Value  lexer.Token `parser:"@Ident"`
}

// skeleton is a network skeleton. Its fields are parsed generically (key:
// an optional position word, then items joined by "->" or ",") and given
// their meaning by the compiler's checker, as a network's fields are.
type skeleton struct {
	Tokens []lexer.Token
	Name   lexer.Token  `parser:"'skeleton' @Ident"`
	Params *paramList   `parser:"@@?"`
	Base   lexer.Token  `parser:"( 'extends' @Ident )? '{'"`
	Fields []*skelField `parser:"@@* '}'"`
}

type paramList struct {
	Params []*param `parser:"'(' ( @@ ( ',' @@ )* )? ')'"`
}

type param struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"@Ident '='"`
	Value  *expr       `parser:"@@"`
}

type skelField struct {
	Tokens []lexer.Token
	Key    lexer.Token `parser:"@Ident ':'"`
	Where  lexer.Token `parser:"@( 'before' | 'at' | 'after' )?"`
	First  *item       `parser:"@@"`
	Rest   []*sepItem  `parser:"@@*"`
}

type sepItem struct {
	Sep  lexer.Token `parser:"@( '->' | ',' )"`
	Item *item       `parser:"@@"`
}

type item struct {
	Tokens []lexer.Token
	Expr   *expr   `parser:"@@"`
	As     *asPath `parser:"( 'as' @@ )?"`
}

// asPath is a scope, a/b/c; participle concatenates the captures.
type asPath struct {
	Tokens []lexer.Token
	Path   string `parser:"@Ident ( @'/' @Ident )*"`
}

// expr, term and factor give "*" and "/" precedence over "+" and "-".
type expr struct {
	Tokens []lexer.Token
	Left   *term     `parser:"@@"`
	Ops    []*exprOp `parser:"@@*"`
}

type exprOp struct {
	Op    lexer.Token `parser:"@( '+' | '-' )"`
	Right *term       `parser:"@@"`
}

type term struct {
	Tokens []lexer.Token
	Left   *factor   `parser:"@@"`
	Ops    []*termOp `parser:"@@*"`
}

type termOp struct {
	Op    lexer.Token `parser:"@( '*' | '/' )"`
	Right *factor     `parser:"@@"`
}

type factor struct {
	Tokens []lexer.Token
	Number lexer.Token `parser:"@( Float | Int | Kernel )"`
	Call   *call       `parser:"| @@"`
	Paren  *expr       `parser:"| '(' @@ ')'"`
}

// call is a name (a parameter, a word such as valid) or a stage with
// arguments: conv(k: 3, filters: base_filters * stem_multiplier).
type call struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"@Ident"`
	Args   *callArgs   `parser:"@@?"`
}

type callArgs struct {
	Args []*callArg `parser:"'(' ( @@ ( ',' @@ )* )? ')'"`
}

type callArg struct {
	Tokens []lexer.Token
	Key    lexer.Token `parser:"@Ident ':'"`
	Value  *expr       `parser:"@@"`
}

// grammarSyntax is the built parser and what Parse needs to know about
// its tokens. It is built once, on first use, and never mutated after.
type grammarSyntax struct {
	file  *participle.Parser[file]
	decl  *participle.Parser[decl] // one declaration, to resume after errors
	lexer *lexer.StatefulDefinition

	comment, ident, inputRef, integer, float, kernel, invalid lexer.TokenType
}

// syntax builds the parser. Building only fails if the grammar above is
// malformed, which every test would catch, so the panics cannot be reached
// from user input.
var syntax = sync.OnceValue(func() *grammarSyntax {
	lex := lexer.MustSimple(lexerRules())
	g := &grammarSyntax{
		file: participle.MustBuild[file](
			participle.Lexer(lex),
		),
		lexer: lex,
	}
	var err error
	if g.decl, err = participle.ParserForProduction[decl](g.file); err != nil {
		panic(err)
	}
	sym := lex.Symbols()
	g.comment, g.ident, g.inputRef = sym["Comment"], sym["Ident"], sym["InputRef"]
	g.integer, g.float, g.kernel, g.invalid = sym["Int"], sym["Float"], sym["Kernel"], sym["Invalid"]
	return g
})

// Grammar returns the EBNF of the .cell grammar as the parser sees it
// (testdata/grammar.ebnf holds a copy, checked by a test).
func Grammar() string { return syntax().file.String() }
