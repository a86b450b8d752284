package compiler

import (
	"fmt"

	"cellc/compiler/ir"
	"cellc/lang"
)

// BuildGraph stacks a checked network's cells into TF-slim's skeleton
// (Figure 2: CIFAR or ImageNet stem, N normal cells per stage, a reduction
// cell between stages, aux head, classifier) and returns the IR graph.
func BuildGraph(net *Network, cfg Config) (*ir.Graph, lang.Diagnostics) {
	var diags lang.Diagnostics
	if err := cfg.Validate(); err != nil {
		diags.Errorf(net.Span, "%v", err)
		return nil, diags
	}
	base, err := baseFilters(net, cfg)
	if err != nil {
		diags.Errorf(net.Span, "%v", err).Detail = err.hint
		return nil, diags
	}
	b := &builder{
		g:     &ir.Graph{Name: net.Name, AuxOutput: -1, Training: cfg.Training},
		cfg:   cfg,
		net:   net,
		base:  base,
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
	return b.g, diags
}

type filterError struct {
	msg, hint string
}

func (e *filterError) Error() string { return e.msg }

// baseFilters derives TF-slim's num_conv_filters from the penultimate
// width: the last stage's cells are base·4 filters wide per output state.
func baseFilters(net *Network, cfg Config) (int, *filterError) {
	units := outputUnits(net.Normal)
	per := units << cfg.NumReductionLayers // filters double at each reduction
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
			msg:  fmt.Sprintf("--filters %d is not a multiple of %d: cell %q outputs %d states of F filters and F doubles %d times", cfg.Filters, per, net.Normal.Name, units, cfg.NumReductionLayers),
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
	base  int
	diags *lang.Diagnostics

	totalCells int // TF-slim total_num_cells, for drop path
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

func (b *builder) build() {
	cfg := b.cfg
	numCells := 3 * cfg.N
	reductionAt := map[int]int{cfg.N: 0, 2 * cfg.N: 1} // TF-slim calc_reduction_layers
	b.totalCells = numCells + 2
	src := b.net.Span

	img := b.add(&ir.Node{Kind: ir.Input, Shape: ir.Shape{C: cfg.Channels, H: cfg.ImageSize, W: cfg.ImageSize}, Scope: "images", Cell: -1, Src: src})
	var history []cellOut // TF-slim cell_outputs; nil entries are "None"
	cellNum := 0
	if cfg.Dataset == "imagenet" {
		b.totalCells += 2
		stem := int(32 * cfg.StemMultiplier)
		x := b.add(&ir.Node{Kind: ir.Conv, Attrs: ir.Attrs{KH: 3, KW: 3, Stride: 2, Dilation: 1, Pad: ir.Valid, Filters: stem}, Inputs: []int{img}, Scope: "conv0", Cell: -1, Src: src})
		x = b.add(&ir.Node{Kind: ir.BatchNorm, Inputs: []int{x}, Scope: "conv0_bn", Cell: -1, Src: src})
		b.endpoint("Conv0", x)
		history = []cellOut{nil, {x}}
		scaling := 1.0 / 4
		for i := 0; i < 2; i++ {
			f := int(float64(b.base) * scaling)
			out := b.cell(b.net.Reduction, fmt.Sprintf("cell_stem_%d", i), cellNum, true, f, history, false)
			history = append(history, out)
			b.endpoint(fmt.Sprintf("Cell_Stem_%d", i), out[0])
			cellNum++
			scaling *= 2
		}
		b.endpoint("Stem", history[len(history)-1][0])
	} else {
		stem := int(float64(b.base) * cfg.StemMultiplier)
		x := b.add(&ir.Node{Kind: ir.Conv, Attrs: ir.Attrs{KH: 3, KW: 3, Stride: 1, Dilation: 1, Pad: ir.Same, Filters: stem}, Inputs: []int{img}, Scope: "conv0", Cell: -1, Src: src})
		x = b.add(&ir.Node{Kind: ir.BatchNorm, Inputs: []int{x}, Scope: "conv0_bn", Cell: -1, Src: src})
		b.endpoint("Stem", x)
		history = []cellOut{nil, {x}}
	}

	scaling := 1
	for i := 0; i < numCells; i++ {
		skip := false
		if r, ok := reductionAt[i]; ok {
			scaling *= 2
			out := b.cell(b.net.Reduction, fmt.Sprintf("reduction_cell_%d", r), cellNum, true, b.base*scaling, history, false)
			history = append(history, out)
			b.endpoint(fmt.Sprintf("Reduction_Cell_%d", r), out[0])
			cellNum++
			skip = cfg.SkipReductionLayerInput
		}
		if b.diags.HasErrors() {
			return // later cells would only repeat the error
		}
		out := b.cell(b.net.Normal, fmt.Sprintf("cell_%d", i), cellNum, false, b.base*scaling, history, skip)
		history = append(history, out)
		b.endpoint(fmt.Sprintf("Cell_%d", i), out[0])
		cellNum++
		if cfg.Training && cfg.AuxHead && i == 2*cfg.N-1 {
			b.auxHead(out[0], fmt.Sprintf("aux_%d", i))
		}
	}

	if b.diags.HasErrors() {
		return
	}
	// Final layers: ReLU → global average pool → dropout → FC.
	x := history[len(history)-1][0]
	x = b.add(&ir.Node{Kind: ir.ReLU, Inputs: []int{x}, Scope: "final_layer/relu", Cell: -1, Src: src})
	x = b.add(&ir.Node{Kind: ir.GlobalAvg, Inputs: []int{x}, Scope: "final_layer/gap", Cell: -1, Src: src})
	if cfg.Training && cfg.DenseDropoutKeepProb < 1 {
		x = b.add(&ir.Node{Kind: ir.Dropout, Attrs: ir.Attrs{Keep: cfg.DenseDropoutKeepProb}, Inputs: []int{x}, Scope: "final_layer/dropout", Cell: -1, Src: src})
	}
	x = b.add(&ir.Node{Kind: ir.Dense, Attrs: ir.Attrs{Filters: cfg.Classes}, Inputs: []int{x}, Scope: "final_layer/FC", Cell: -1, Src: src})
	b.g.Output = x
	b.endpoint("Logits", x)
}

func (b *builder) endpoint(name string, node int) {
	b.g.Endpoints = append(b.g.Endpoints, ir.Endpoint{Name: name, Node: node})
}

// auxHead is TF-slim's _build_aux_head on relu(x).
func (b *builder) auxHead(x int, scope string) {
	src := b.net.Span
	node := func(k ir.Kind, a ir.Attrs, name string, in int) int {
		return b.add(&ir.Node{Kind: k, Attrs: a, Inputs: []int{in}, Scope: scope + "/" + name, Aux: true, Cell: -1, Src: src})
	}
	if b.diags.HasErrors() {
		return
	}
	x = node(ir.ReLU, ir.Attrs{}, "relu", x)
	if h := b.g.Nodes[x].Shape.H; h < 5 {
		b.diags.Errorf(src, "the aux head needs a feature map of at least 5x5 after the second stage, got %dx%d", h, h).Detail = "use a larger --image-size or --aux-head=false"
		return
	}
	x = node(ir.AvgPool, ir.Attrs{KH: 5, KW: 5, Stride: 3, Pad: ir.Valid}, "aux_logits/avgpool", x)
	x = node(ir.Conv, ir.Attrs{KH: 1, KW: 1, Stride: 1, Dilation: 1, Pad: ir.Same, Filters: 128}, "aux_logits/proj", x)
	x = node(ir.BatchNorm, ir.Attrs{}, "aux_logits/aux_bn0", x)
	x = node(ir.ReLU, ir.Attrs{}, "aux_logits/relu0", x)
	s := b.g.Nodes[x].Shape
	x = node(ir.Conv, ir.Attrs{KH: s.H, KW: s.W, Stride: 1, Dilation: 1, Pad: ir.Valid, Filters: 768}, "aux_logits/conv", x)
	x = node(ir.BatchNorm, ir.Attrs{}, "aux_logits/aux_bn1", x)
	x = node(ir.ReLU, ir.Attrs{}, "aux_logits/relu1", x)
	x = node(ir.Dense, ir.Attrs{Filters: b.cfg.Classes}, "aux_logits/FC", x)
	b.g.AuxOutput = x
	b.endpoint("AuxLogits", x)
}
