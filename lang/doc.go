// Package lang is the front end of cellc: the .cell language's grammar,
// AST, parser, canonical formatter and diagnostics.
//
// # The language
//
// A .cell file holds operation definitions, cells, networks and network
// skeletons, in any order. '#' starts a comment that runs to the end of the line.
//
//	# An operation is a pipeline of primitives joined by "->".
//	# $stride is bound by the compiler: 2 for ops that read a cell input
//	# inside a reduction cell, 1 otherwise.
//	op sep3x3      = relu -> dw(k: 3, stride: $stride) -> pw -> bn -> relu -> dw(k: 3) -> pw -> bn
//	op conv1x7_7x1 = relu -> conv(k: 1x7, stride: $stride) -> bn -> relu -> conv(k: 7x1) -> bn
//	# $F is the cell's filter count: conv and pw output F filters, or a
//	# fraction of F with filters: $F / 4 or $F * 3 / 8 (truncated, as
//	# TF's int()); an op must end F wide. AmoebaNet's bottleneck:
//	op bottleneck_1x7_7x1 = relu -> conv(k: 1, filters: $F / 4) -> bn -> relu -> conv(k: 1x7, stride: $stride, filters: $F / 4) -> bn -> relu -> conv(k: 7x1, filters: $F / 4) -> bn -> relu -> conv(k: 1) -> bn
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
// A skeleton says how a network stacks its cells (the paper's Figure 2).
// A network names one with "skeleton: NAME", for every dataset, or one
// per dataset with "cifar_skeleton: NAME" and "imagenet_skeleton: NAME";
// for a dataset it names none, cellc build uses the standard library's
// nasnet_cifar or nasnet_imagenet. specs/pnasnet5.cell's network, for
// instance, has "imagenet_skeleton: pnasnet_imagenet" (TF-slim's
// pnasnet.py) and stacks into nasnet_cifar on CIFAR.
// The standard library's CIFAR skeleton (stdlib/skeletons.cell), shortened:
//
//	skeleton nasnet_cifar(n = 6, base_filters = 32, stem_multiplier = 3,
//	    image_size = 32, channels = 3, classes = 10, dense_dropout_keep_prob = 1,
//	    skip_reduction_layer_input = 0) {
//	  input:      images(size: image_size, channels: channels)
//	  stem:       conv(k: 3, filters: base_filters * stem_multiplier) as conv0
//	           -> bn as conv0_bn
//	  layers:     3 * n
//	  reductions: before n, 2 * n
//	  scaling:    2
//	  inputs:     reduce_prev(skip: skip_reduction_layer_input)
//	  aux:        after 2 * n - 1
//	  aux_head:   relu
//	           -> avgpool(k: 5, stride: 3, pad: valid) as aux_logits/avgpool
//	           -> ...
//	  classifier: relu -> gap -> dropout(keep: dense_dropout_keep_prob) -> dense(filters: classes) as FC
//	}
//
//	skeleton nasnet_imagenet(n = 4, base_filters = 44, stem_multiplier = 1,
//	    image_size = 224, classes = 1000, dense_dropout_keep_prob = 0.5) extends nasnet_cifar {
//	  stem: conv(k: 3, stride: 2, pad: valid, filters: 32 * stem_multiplier) as conv0
//	     -> bn as conv0_bn
//	     -> endpoint(name: Conv0)
//	     -> reduction(filters: base_filters / 4) as cell_stem_0
//	     -> reduction(filters: base_filters / 2) as cell_stem_1
//	}
//
// Parameters have defaults; those named after a config key (n, layers,
// base_filters, stem_multiplier, image_size, channels, classes,
// dense_dropout_keep_prob, skip_reduction_layer_input) take the build's
// value (a named preset, --config YAML, flags); without a preset, one the
// user did not set keeps the skeleton's default, except the image size,
// channels and classes, which are the dataset's. A key the user sets
// that the skeleton does not declare is an error, not ignored: --n for
// a skeleton that counts layers (DARTS'), --layers for one that counts
// cells per stage (NASNet's). "extends" takes the base's fields and
// parameters, overriding those written. The fields:
//   - input: images(size, channels), the input image.
//   - stem: a pipeline of conv, bn, relu, avgpool, maxpool, endpoint(name)
//     and cells, normal(filters) or reduction(filters), the network's
//     cells at that width. The stem's output is the endpoint Stem and the
//     first cell's h_i; its h_i-1 is the stem cell before it, or the
//     tensor a cell_input stage marks (DARTS' ImageNet stem0: see
//     darts_imagenet below), or with neither nothing (TF-slim's None) or,
//     under inputs: preprocess, the stem's output again. cell_input may
//     not start or end the stem or follow a cell or another cell_input.
//   - layers: how many body layers; reductions: "before P, Q" inserts a
//     reduction cell before those layers (NASNet, AmoebaNet), "at P, Q"
//     makes those layers reductions (PNASNet, DARTS). Positions count
//     from 0 and must lie within the layers, in increasing order.
//   - scaling: F is multiplied by it at each reduction; F starts at
//     base_filters, which --filters (the penultimate width) can set.
//   - inputs: how a cell's earlier inputs are adapted:
//     reduce_prev(skip: S), TF-slim's _reduce_prev_layer, with nasnet.py's
//     skip_reduction_layer_input when S is not 0 (the normal cell after an
//     inserted reduction reads, as h_i-1, the layer before the reduction's
//     input); reduce_prev(hold: H), with pnasnet.py's when H is not 0 (a
//     layer that is a reduction keeps the h_i-1 the layer before it read),
//     for "reductions: at" only (see pnasnet_imagenet below);
//     preprocess, DARTS' (model.py Cell: preprocess0 and preprocess1):
//     both inputs always go through ReLU -> 1x1 conv -> BN to F, h_i-1
//     through FactorizedReduce instead when the layer before was a
//     reduction, and the first cell reads the stem as both inputs;
//     calibrate, ENAS' (micro_child.py _maybe_calibrate_size and
//     layer_base): h_i-1 as reduce_prev, h_i through ReLU -> 1x1 conv ->
//     BN to F when not F wide, before the cell's own; the first cell reads
//     the stem as both inputs.
//   - aux: "after L", the layer the aux head follows (training only,
//     --aux-head); aux_head: its pipeline, scoped aux_L/.
//   - classifier: its pipeline, scoped final_layer/ (dropout is built
//     only when training).
//
// The standard library's PNASNet skeleton (TF-slim pnasnet.py) is the
// ImageNet one with its reductions in place of layers N and 2N:
//
//	skeleton pnasnet_imagenet(n = 4, base_filters = 216, stem_multiplier = 3,
//	    image_size = 331, skip_reduction_layer_input = 1) extends nasnet_imagenet {
//	  reductions: at n, 2 * n
//	  inputs:     reduce_prev(hold: 1 - skip_reduction_layer_input)
//	}
//
// DARTS' CIFAR skeleton (cnn/model.py NetworkCIFAR), aux head shortened:
//
//	skeleton darts_cifar(layers = 20, base_filters = 36, stem_multiplier = 3,
//	    image_size = 32, channels = 3, classes = 10) {
//	  input:      images(size: image_size, channels: channels)
//	  stem:       conv(k: 3, filters: base_filters * stem_multiplier) as stem/conv
//	           -> bn as stem/bn
//	  layers:     layers
//	  reductions: at layers / 3, 2 * layers / 3
//	  scaling:    2
//	  inputs:     preprocess
//	  aux:        after 2 * layers / 3
//	  aux_head:   relu as auxiliary_head/relu0 -> ...
//	  classifier: gap as global_pooling -> dense(filters: classes) as classifier
//	}
//
// DARTS' ImageNet skeleton (cnn/model.py NetworkImageNet) has two stems;
// cell_input marks stem0's output as the first cell's h_i-1 and stem1's is
// its h_i (the rest is darts_cifar's, with AuxiliaryHeadImageNet and an
// AvgPool2d(7) classifier):
//
//	skeleton darts_imagenet(layers = 14, base_filters = 48, image_size = 224,
//	    channels = 3, classes = 1000) {
//	  stem: conv(k: 3, stride: 2, filters: base_filters / 2) as stem0/conv0
//	     -> bn as stem0/bn0 -> relu as stem0/relu
//	     -> conv(k: 3, stride: 2, filters: base_filters) as stem0/conv1
//	     -> bn as stem0/bn1
//	     -> cell_input
//	     -> relu as stem1/relu
//	     -> conv(k: 3, stride: 2, filters: base_filters) as stem1/conv
//	     -> bn as stem1/bn
//	  ...
//	}
//
// Pipeline stages take "k: 3", "k: 1x7" or "k: full" (the input's whole
// size), stride, "pad: same" or "pad: valid", filters and dilation (conv),
// keep (dropout); "as a/b" names the stage's scope (default: its name).
// Arguments and positions are arithmetic over the parameters (+ - * /,
// parentheses); widths, counts and positions are truncated to whole
// numbers, as TF-slim's int(). The checker evaluates a skeleton under its
// defaults, so a reduction past the last layer or a width that does not
// divide is an error at its expression.
//
// Grammar (the parser's EBNF is kept as a golden file, testdata/grammar.ebnf):
//
//	File     = { OpDecl | CellDecl | Network | Skeleton } .
//	OpDecl   = "op" Ident "=" Stage { "->" Stage } .
//	Stage    = Ident [ "(" [ Arg { "," Arg } ] ")" ] .
//	Arg      = Ident ":" ( Int | Kernel | "$" Ident [ "*" Int ] [ "/" Int ] ) .
//	CellDecl = ( "normal" | "reduction" ) "cell" Ident "{" { Block } [ Out ] "}" .
//	Block    = "block" [ Ident ] "<" Field { ";" Field } [ ";" ] ">" .
//	Field    = Ident ":" Ref { "," Ref } .
//	Out      = ( "out" | "route" ) ":" Ref { "," Ref } .
//	Network  = "network" Ident "{" { Ident ":" Ident } "}" .
//	Ref      = "h_i" [ "-" Int ] | Ident .
//	Skeleton = "skeleton" Ident [ "(" [ Param { "," Param } ] ")" ]
//	           [ "extends" Ident ] "{" { SkelField } "}" .
//	Param    = Ident "=" Expr .
//	SkelField = Ident ":" [ "before" | "at" | "after" ] Item { ( "->" | "," ) Item } .
//	Item     = Expr [ "as" Ident { "/" Ident } ] .
//	Expr     = Term { ( "+" | "-" ) Term } .
//	Term     = Factor { ( "*" | "/" ) Factor } .
//	Factor   = Int | Float | Kernel | Ident [ "(" [ Ident ":" Expr { "," Ident ":" Expr } ] ")" ] | "(" Expr ")" .
//	Kernel   = Int "x" Int .         (one token: 1x7)
//
// Tokens: identifiers [A-Za-z_][A-Za-z0-9_]* (so sep3x3 is one
// identifier), integers, decimals \d+.\d+, kernels \d+x\d+, input
// references h_i and h_i-N (one token), punctuation < > { } ( ) : ; , = ->
// $ + - * /.
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
// of ops, the columns of a cell's blocks (as in the example above), the
// values of a skeleton's fields, and trailing comments. A skeleton's "->"
// pipeline that would pass 80 columns is printed one stage per line, the
// stages aligned; its parameters fill lines of up to 80 columns.
package lang
