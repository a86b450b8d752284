// Package lang is the front end of cellc: the .cell language's grammar,
// AST, parser, canonical formatter and diagnostics.
//
// # The language
//
// A .cell file holds operation definitions, cells and networks, in any
// order. '#' starts a comment that runs to the end of the line.
//
//	# An operation is a pipeline of primitives joined by "->".
//	# $stride is bound by the compiler: 2 for ops that read a cell input
//	# inside a reduction cell, 1 otherwise.
//	op sep3x3      = relu -> dw(k: 3, stride: $stride) -> pw -> bn -> relu -> dw(k: 3) -> pw -> bn
//	op conv1x7_7x1 = relu -> conv(k: 1x7, stride: $stride) -> bn -> relu -> conv(k: 7x1) -> bn
//
//	normal cell nasnet_a_normal {
//	  block < in: h_i, h_i-1;   op: sep5x5, sep3x3;   combine: add >  # s2
//	  block < in: h_i-1, h_i-1; op: avg3x3, identity; combine: add >  # s3
//	  out: h_i-1, b0, b1                                              # slim's concat
//	}
//
//	reduction cell nasnet_a_reduction {
//	  block s2 < in: h_i, h_i-1; op: sep5x5, sep7x7; combine: add >
//	  block s3 < in: h_i, s2;    op: max3x3, sep3x3; combine: add >
//	}
//
//	network nasnet_a {
//	  normal: nasnet_a_normal
//	  reduction: nasnet_a_reduction
//	}
//
// Hidden states a block may read: h_i (the previous cell's output), h_i-1
// (the one before), h_i-2 and h_i-3 (NASNet-B), and earlier blocks of the
// same cell, either by 0-based index (b0, b1, ...) or by the name given
// after "block". Block fields are "in:", "op:" and "combine:", separated
// by ';', each given once, in any order (the formatter prints in, op,
// combine). Combiners: add, concat, add_ln (add then layer norm), add_in
// (add then instance norm).
//
// A cell's output is, by default, the concatenation of the block outputs
// no block reads (the paper's "unused hidden states"). "out: a, b, ..."
// overrides the list (TF-slim's NASNet-A concatenates h_i-1 in its normal
// cell although it is read). "route: a, b, c, d" instead sends the k-th
// state to the cell k+1 layers ahead (NASNet-B, Figure 7).
//
// Grammar (the parser's EBNF is kept as a golden file, testdata/grammar.ebnf):
//
//	File     = { OpDecl | CellDecl | Network } .
//	OpDecl   = "op" Ident "=" Stage { "->" Stage } .
//	Stage    = Ident [ "(" [ Arg { "," Arg } ] ")" ] .
//	Arg      = Ident ":" ( Int | Kernel | "$" Ident ) .
//	CellDecl = ( "normal" | "reduction" ) "cell" Ident "{" { Block } [ Out ] "}" .
//	Block    = "block" [ Ident ] "<" Field { ";" Field } [ ";" ] ">" .
//	Field    = Ident ":" Ref { "," Ref } .
//	Out      = ( "out" | "route" ) ":" Ref { "," Ref } .
//	Network  = "network" Ident "{" { Ident ":" Ident } "}" .
//	Ref      = "h_i" [ "-" Int ] | Ident .
//	Kernel   = Int "x" Int .         (one token: 1x7)
//
// Tokens: identifiers [A-Za-z_][A-Za-z0-9_]* (so sep3x3 is one
// identifier), integers, kernels \d+x\d+, input references h_i and h_i-N
// (one token), punctuation < > { } ( ) : ; , = -> $.
//
// # Phases
//
// Parse returns a *File and Diagnostics; it never panics and keeps going
// after an error where it can. Format prints the one canonical form: no
// options, idempotent, and Parse(Format(f)) equals f up to positions.
// Comments are kept: a comment on its own line stays before the node that
// follows it, a comment at the end of a line stays at the end of that line.
// Like gofmt, Format keeps (collapsed to one) the blank lines that group
// declarations and blocks, and aligns runs of consecutive lines: the "="
// of ops, the columns of a cell's blocks (as in the example above) and
// trailing comments.
package lang
