package compiler

import "sort"

// PrimInfo describes a compiler primitive: what it does and which
// arguments it takes. Operations in the DSL are pipelines of these.
type PrimInfo struct {
	Name string
	Doc  string
	Args []string // accepted argument names; "k" is required when listed
	// Projects is whether the primitive's output has a width of its own
	// (the cell's F, or a conv's filters:) whatever its input's: the width checker needs it to know a branch's
	// width, and it says which ops may end a branch that reads a wider
	// state.
	Projects bool
}

// primitives is the fixed set the compiler lowers; it is data, not state.
var primitives = map[string]PrimInfo{
	"relu":    {Name: "relu", Doc: "ReLU"},
	"bn":      {Name: "bn", Doc: "batch norm (scale and offset; moving mean and variance)"},
	"conv":    {Name: "conv", Doc: "dense convolution to F filters (filters: $F / 4 for a fraction), SAME padding, no bias", Args: []string{"k", "stride", "dilation", "filters"}, Projects: true},
	"dw":      {Name: "dw", Doc: "depthwise convolution, depth multiplier 1", Args: []string{"k", "stride", "dilation"}},
	"pw":      {Name: "pw", Doc: "pointwise (1x1) convolution to F filters (filters: $F / 4 for a fraction)", Args: []string{"filters"}, Projects: true},
	"avgpool": {Name: "avgpool", Doc: "average pool, SAME padding, padding excluded from the count", Args: []string{"k", "stride"}},
	"maxpool": {Name: "maxpool", Doc: "max pool, SAME padding", Args: []string{"k", "stride"}},
	"id":      {Name: "id", Doc: "identity (input must already be F wide, stride 1)"},
	"zero":    {Name: "zero", Doc: "zeros of the output shape (DARTS none)", Args: []string{"stride"}, Projects: true},
	"fit":     {Name: "fit", Doc: "1x1 conv + BN when the input width differs from F", Projects: true},
	"project": {Name: "project", Doc: "TF-slim identity: ReLU, 1x1 conv (stride), BN when strided or not F wide", Args: []string{"stride"}, Projects: true},
	"freduce": {Name: "freduce", Doc: "factorized reduction when strided (two shifted 1x1 convs, concat, BN); else like project", Args: []string{"stride"}, Projects: true},
}

// Primitives lists the primitives in name order, for `cellc ops`.
func Primitives() []PrimInfo {
	out := make([]PrimInfo, 0, len(primitives))
	for _, p := range primitives {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func primNames() []string {
	names := make([]string, 0, len(primitives))
	for n := range primitives {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Argument ranges: generous enough for any published cell, tight enough to
// catch typos (k: 33) before they become a 33x33 conv.
const (
	maxKernel   = 15
	maxStride   = 2
	maxDilation = 4
	maxScale    = 64 // of a width relative to F: $F * m / d with m, d <= maxScale
)

var combiners = []string{"add", "add_in", "add_ln", "concat"}
