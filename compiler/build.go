package compiler

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"cellc/compiler/ir"
	"cellc/lang"
)

// BuildGraph stacks a checked network's cells into its skeleton (the
// network's own, else nasnet_cifar or nasnet_imagenet for cfg.Dataset)
// and returns the IR graph. The skeleton's layout is data, read here; this
// file and cell.go keep only the lowering of its primitives and cells.
func BuildGraph(prog *Program, net *Network, cfg Config) (*ir.Graph, lang.Diagnostics) {
	b, diags := build(prog, net, cfg)
	if b == nil {
		return nil, diags
	}
	return b.g, diags
}

// DefaultSkeleton is the skeleton a network without skeleton: is built
// into: TF-slim's CIFAR or ImageNet NASNet.
func DefaultSkeleton(dataset string) string {
	if dataset == "imagenet" {
		return "nasnet_imagenet"
	}
	return "nasnet_cifar"
}

func build(prog *Program, net *Network, cfg Config) (*builder, lang.Diagnostics) {
	var diags lang.Diagnostics
	if err := cfg.Validate(); err != nil {
		diags.Errorf(net.Span, "%v", err)
		return nil, diags
	}
	sk := net.SkeletonFor(cfg.Dataset)
	if sk == nil {
		sk = prog.Skeletons[DefaultSkeleton(cfg.Dataset)]
	}
	if sk == nil {
		diags.Errorf(net.Span, "internal error: the standard library has no skeleton %s", DefaultSkeleton(cfg.Dataset))
		return nil, diags
	}
	if errs := undeclared(sk, cfg); len(errs) > 0 {
		for _, e := range errs {
			diags.Errorf(net.Span, "%s", e.msg).Detail = e.hint
		}
		return nil, diags
	}
	env, lay, err := bindParams(sk, net, cfg)
	if err != nil {
		d := diags.Errorf(net.Span, "%v", err)
		if fe, ok := err.(*filterError); ok {
			d.Detail = fe.hint
		}
		return nil, diags
	}
	b := &builder{
		g:     &ir.Graph{Name: net.Name, AuxOutput: -1, Training: cfg.Training},
		cfg:   cfg,
		net:   net,
		sk:    sk,
		env:   env,
		lay:   lay,
		base:  int(env["base_filters"]),
		diags: &diags,
	}
	b.build()
	if diags.HasErrors() {
		return nil, diags
	}
	if err := ir.Verify(b.g); err != nil {
		diags.Errorf(net.Span, "internal error: built graph fails verification: %v", err)
		return nil, diags
	}
	return b, diags
}

type filterError struct {
	msg, hint string
}

func (e *filterError) Error() string { return e.msg }

// baseFilters derives TF-slim's num_conv_filters from the penultimate
// width: the last stage's cells are base·scaling^reductions filters wide
// per output state.
func baseFilters(net *Network, cfg Config, lay *layout) (int, *filterError) {
	units := outputUnits(net.Normal)
	per := units * int(math.Pow(lay.scaling, float64(len(lay.reductions))))
	if cfg.Filters == 0 {
		return cfg.BaseFilters, nil
	}
	if cfg.Filters%per != 0 {
		lo := cfg.Filters / per * per
		hint := fmt.Sprintf("nearest valid: %d or %d", lo+per, lo)
		if lo == 0 {
			hint = fmt.Sprintf("the smallest is %d", per)
		}
		return 0, &filterError{
			msg:  fmt.Sprintf("--filters %d is not a multiple of %d: cell %q outputs %d states of F filters and F doubles %d times", cfg.Filters, per, net.Normal.Name, units, len(lay.reductions)),
			hint: hint,
		}
	}
	return cfg.Filters / per, nil
}

// outputUnits is the normal cell's output width in units of F.
func outputUnits(c *Cell) int {
	if c.Route {
		return blockUnits(c, c.Out[0])
	}
	// TF-slim brings every concatenated state to the last block's width.
	return len(c.Out) * blockUnits(c, StateRef{Input: -1, Block: len(c.Blocks) - 1})
}

// blockUnits is a state's width in units of F: inputs are brought to F,
// a concat block is as wide as its two op outputs.
func blockUnits(c *Cell, r StateRef) int {
	if r.isInput() || c.Blocks[r.Block].Combine != "concat" {
		return 1
	}
	return 2
}

type builder struct {
	g     *ir.Graph
	cfg   Config
	net   *Network
	sk    *Skeleton
	env   map[string]float64 // the skeleton's parameters for this build
	lay   *layout
	base  int // base_filters: F of the first stage
	diags *lang.Diagnostics

	preprocess bool // inputs: preprocess (DARTS), not reduce_prev
	calibrate  bool // inputs: calibrate (ENAS)

	totalCells int // TF-slim total_num_cells, for drop path
	cellNum    int // the next cell's number, counting every cell
	last       int // the last body cell's output, the penultimate layer
	history    []cellOut
}

// cellOut is what a cell leaves for later cells: one tensor (concat) or
// one per future layer (route).
type cellOut []int

func (o cellOut) route(m int) int {
	if m < len(o) {
		return o[m]
	}
	return o[len(o)-1]
}

func (b *builder) add(n *ir.Node) int {
	if b.diags.HasErrors() {
		// Keep going with a placeholder shape so one error does not
		// cascade; the graph is discarded anyway.
		n.Shape = ir.Shape{C: 1, H: 1, W: 1}
		return b.g.Add(n)
	}
	in := make([]ir.Shape, len(n.Inputs))
	for i, id := range n.Inputs {
		in[i] = b.g.Nodes[id].Shape
	}
	if n.Kind != ir.Input {
		s, err := ir.Infer(n.Kind, n.Attrs, in)
		if err != nil {
			b.diags.Errorf(n.Src, "%s: %v", n.Scope, err)
			s = ir.Shape{C: 1, H: 1, W: 1}
		}
		n.Shape = s
	}
	return b.g.Add(n)
}

// build interprets the skeleton: input, stem, body, aux head, classifier.
// Nodes the skeleton makes point at the network's name, the place in the
// user's file that chose them.
func (b *builder) build() {
	lay := b.lay
	stemCells := 0
	for _, it := range b.sk.Fields["stem"].Items {
		if name := it.Expr.(*lang.Call).Name.Name; name == "normal" || name == "reduction" {
			stemCells++
		}
	}
	b.totalCells = stemCells + lay.layers
	if lay.insert {
		b.totalCells += len(lay.reductions)
	}

	in := b.sk.Fields["input"].Items[0].Expr.(*lang.Call)
	size, channels := b.intArg(in, "size", 0), b.intArg(in, "channels", 3)
	x := b.add(&ir.Node{Kind: ir.Input, Shape: ir.Shape{C: channels, H: size, W: size}, Scope: in.Name.Name, Cell: -1, Src: b.net.Span})

	// inputs: preprocess is DARTS' (model.py Cell): every cell adapts
	// both inputs, h_i-1 by FactorizedReduce when it is larger than h_i
	// (the layer before was a reduction) and by ReLU -> 1x1 conv -> BN
	// otherwise, whatever its width; the first cell reads the stem as both
	// (s0 = s1 = stem(input)).
	// inputs: calibrate is ENAS' (micro_child.py _fixed_layer): h_i-1
	// as reduce_prev, h_i through ReLU -> 1x1 conv -> BN to F when it is
	// not F wide (_maybe_calibrate_size) before the cell's own ReLU -> 1x1
	// conv -> BN (layer_base); the first cell reads the stem as both
	// (layers = [x, x]).
	adapt := b.sk.Fields["inputs"].Items[0].Expr.(*lang.Call)
	b.preprocess = adapt.Name.Name == "preprocess"
	b.calibrate = adapt.Name.Name == "calibrate"

	// The stem leaves the first cell's inputs on the history: its output
	// (h_i), and before it the last tensor a cell_input stage marked or a
	// stem cell made (h_i-1); with neither, TF-slim's None, or under
	// preprocess the stem's output again (DARTS' s0 = s1 = stem(input)).
	b.history = []cellOut{nil} // TF-slim cell_outputs; nil entries are "None"
	x = b.pipeline(b.sk.Fields["stem"], "", x, false)
	b.pushInput(x)
	if len(b.history) == 2 && (b.preprocess || b.calibrate) {
		b.history[0] = b.history[1]
	}
	b.endpoint("Stem", x)

	// inputs: reduce_prev(skip: S) is TF-slim nasnet.py's
	// skip_reduction_layer_input: the normal cell after an inserted
	// reduction reads, as h_i-1, the layer before the reduction's input.
	// reduce_prev(hold: H) is pnasnet.py's: a layer that is a reduction
	// keeps the h_i-1 the layer before it read (pnasnet.py assigns
	// prev_layer only when skip_reduction_layer_input is set or the layer
	// is not a reduction).
	skipArg, hold := b.numArg(adapt, "skip", 0) != 0, b.numArg(adapt, "hold", 0) != 0
	held := -1 // the history index of the h_i-1 the last layer that set it read

	scaling := 1.0
	width := func() int { return int(float64(b.base) * scaling) }
	for i := 0; i < lay.layers; i++ {
		back := 0 // how many layers further back than h_i-1 the cell reads
		r := slices.Index(lay.reductions, i)
		if r >= 0 {
			scaling *= lay.scaling
			if lay.insert {
				b.addCell(b.net.Reduction, fmt.Sprintf("reduction_cell_%d", r), true, width(), 0)
				if skipArg {
					back = 1
				}
			}
		}
		if b.diags.HasErrors() {
			return // later cells would only repeat the error
		}
		switch {
		case r >= 0 && !lay.insert:
			if hold {
				if held < 0 {
					b.diags.Errorf(b.net.Span, "skeleton %s: layer %d is a reduction that holds the previous layer's h_i-1 (reduce_prev(hold: ...)), but no layer before it has one", b.sk.Name, i).Detail =
						"pnasnet.py fails here too (prev_layer is unset): put the first reduction after layer 0, or build with --skip-reduction-layer-input"
					return
				}
				back = len(b.history) - 2 - held
			} else {
				held = len(b.history) - 2
			}
			b.addCell(b.net.Reduction, fmt.Sprintf("cell_%d", i), true, width(), back)
		default:
			held = len(b.history) - 2 - back
			b.addCell(b.net.Normal, fmt.Sprintf("cell_%d", i), false, width(), back)
		}
		b.last = b.history[len(b.history)-1][0]
		if b.cfg.Training && b.cfg.AuxHead && i == lay.aux {
			b.auxHead(b.last, fmt.Sprintf("aux_%d", i))
		}
	}
	if b.diags.HasErrors() {
		return
	}
	x = b.pipeline(b.sk.Fields["classifier"], "final_layer/", b.last, false)
	b.g.Output = x
	b.endpoint("Logits", x)
}

// pushInput puts x on the history as the next cell's h_i, unless it is
// there already (the output of the cell before).
func (b *builder) pushInput(x int) {
	if last := b.history[len(b.history)-1]; last == nil || last[0] != x {
		b.history = append(b.history, cellOut{x})
	}
}

// addCell lowers one cell onto the history and records its endpoint.
func (b *builder) addCell(c *Cell, scope string, reduce bool, f int, back int) {
	out := b.cell(c, scope, b.cellNum, reduce, f, b.history, back)
	b.history = append(b.history, out)
	b.endpoint(endpointName(scope), out[0])
	b.cellNum++
}

// endpointName is TF-slim's end_points key for a scope: each word
// capitalised, cell_stem_0 → Cell_Stem_0.
func endpointName(scope string) string {
	words := strings.Split(scope, "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, "_")
}

func (b *builder) endpoint(name string, node int) {
	b.g.Endpoints = append(b.g.Endpoints, ir.Endpoint{Name: name, Node: node})
}

// auxHead is TF-slim's _build_aux_head: the skeleton's aux_head pipeline.
func (b *builder) auxHead(x int, scope string) {
	if b.diags.HasErrors() {
		return
	}
	x = b.pipeline(b.sk.Fields["aux_head"], scope+"/", x, true)
	if b.diags.HasErrors() {
		return
	}
	b.g.AuxOutput = x
	b.endpoint("AuxLogits", x)
}

// pipeline lowers a skeleton field's stages onto x; scope prefixes their
// scopes, aux marks the aux head's nodes.
func (b *builder) pipeline(f *lang.SkelField, scope string, x int, aux bool) int {
	src := b.net.Span
	for _, it := range f.Items {
		if b.diags.HasErrors() {
			return x
		}
		call := it.Expr.(*lang.Call)
		name := call.Name.Name
		sc := name
		if it.As != nil {
			sc = it.As.Name
		}
		node := func(k ir.Kind, a ir.Attrs) int {
			return b.add(&ir.Node{Kind: k, Attrs: a, Inputs: []int{x}, Scope: scope + sc, Aux: aux, Cell: -1, Src: src})
		}
		in := b.g.Nodes[x].Shape
		switch name {
		case "relu":
			x = node(ir.ReLU, ir.Attrs{})
		case "bn":
			x = node(ir.BatchNorm, ir.Attrs{})
		case "gap":
			x = node(ir.GlobalAvg, ir.Attrs{})
		case "dense":
			x = node(ir.Dense, ir.Attrs{Filters: b.intArg(call, "filters", 0)})
		case "dropout":
			if keep := b.numArg(call, "keep", 1); b.cfg.Training && keep < 1 {
				x = node(ir.Dropout, ir.Attrs{Keep: keep})
			}
		case "conv", "avgpool", "maxpool":
			a := ir.Attrs{Stride: b.intArg(call, "stride", 1), Pad: ir.Same}
			a.KH, a.KW = b.kernel(call, in)
			if w, ok := b.word(call, "pad"); ok && w == "valid" {
				a.Pad = ir.Valid
				if in.H < a.KH || in.W < a.KW {
					d := b.diags.Errorf(src, "%s%s needs a feature map of at least %dx%d, got %dx%d", scope, sc, a.KH, a.KW, in.H, in.W)
					d.Detail = "use a larger --image-size"
					if aux {
						d.Detail += " or --aux-head=false"
					}
					return x
				}
			}
			kind := map[string]ir.Kind{"conv": ir.Conv, "avgpool": ir.AvgPool, "maxpool": ir.MaxPool}[name]
			if kind == ir.Conv {
				a.Dilation = b.intArg(call, "dilation", 1)
				a.Filters = b.intArg(call, "filters", 0)
			}
			x = node(kind, a)
		case "endpoint":
			w, _ := b.word(call, "name")
			b.endpoint(w, x)
		case "cell_input":
			b.history = append(b.history, cellOut{x})
		case "normal", "reduction":
			b.pushInput(x)
			c := b.net.Normal
			if name == "reduction" {
				c = b.net.Reduction
			}
			b.addCell(c, sc, name == "reduction", b.intArg(call, "filters", 0), 0)
			x = b.history[len(b.history)-1][0]
		default:
			b.diags.Errorf(call.Span, "internal error: skeleton stage %q has no lowering", name)
		}
	}
	return x
}

// argExpr returns a call's argument by key.
func argExpr(c *lang.Call, key string) lang.Expr {
	for _, a := range c.Args {
		if a.Key.Name == key {
			return a.Value
		}
	}
	return nil
}

// numArg evaluates an argument (def if absent), reporting errors.
func (b *builder) numArg(c *lang.Call, key string, def float64) float64 {
	e := argExpr(c, key)
	if e == nil {
		return def
	}
	v, err := evalExpr(e, b.env)
	if err != nil {
		b.diags.Errorf(err.at, "%s", err.msg)
		return def
	}
	return v
}

// intArg is numArg truncated, as TF-slim's int().
func (b *builder) intArg(c *lang.Call, key string, def int) int {
	return int(b.numArg(c, key, float64(def)))
}

// word returns an argument written as a bare word (valid, Conv0).
func (b *builder) word(c *lang.Call, key string) (string, bool) {
	if n, ok := argExpr(c, key).(*lang.Call); ok && !n.Parens {
		if _, param := b.env[n.Name.Name]; !param {
			return n.Name.Name, true
		}
	}
	return "", false
}

// kernel reads k: a number, HxW, or full (the input's whole H and W).
func (b *builder) kernel(c *lang.Call, in ir.Shape) (int, int) {
	if w, ok := b.word(c, "k"); ok && w == "full" {
		return in.H, in.W
	}
	if n, ok := argExpr(c, "k").(*lang.Number); ok {
		if h, w, isKernel := strings.Cut(n.Text, "x"); isKernel {
			var kh, kw int
			fmt.Sscan(h, &kh)
			fmt.Sscan(w, &kw)
			return kh, kw
		}
	}
	k := b.intArg(c, "k", 1)
	return k, k
}
