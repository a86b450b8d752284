package compiler

import "sort"

// PrimInfo describes a compiler primitive: what it does and which
// arguments it takes. Operations in the DSL are pipelines of these.
type PrimInfo struct {
	Name string
	Doc  string
	Args []string // accepted argument names; "k" is required when listed
}

// primitives is the fixed set the compiler lowers; it is data, not state.
var primitives = map[string]PrimInfo{
	"relu":    {"relu", "ReLU", nil},
	"bn":      {"bn", "batch norm (scale and offset; moving mean and variance)", nil},
	"conv":    {"conv", "dense convolution to F filters (filters: $F / 4 for a fraction), SAME padding, no bias", []string{"k", "stride", "dilation", "filters"}},
	"dw":      {"dw", "depthwise convolution, depth multiplier 1", []string{"k", "stride", "dilation"}},
	"pw":      {"pw", "pointwise (1x1) convolution to F filters (filters: $F / 4 for a fraction)", []string{"filters"}},
	"avgpool": {"avgpool", "average pool, SAME padding, padding excluded from the count", []string{"k", "stride"}},
	"maxpool": {"maxpool", "max pool, SAME padding", []string{"k", "stride"}},
	"id":      {"id", "identity (input must already be F wide, stride 1)", nil},
	"zero":    {"zero", "zeros of the output shape (DARTS none)", []string{"stride"}},
	"fit":     {"fit", "1x1 conv + BN when the input width differs from F", nil},
	"project": {"project", "TF-slim identity: ReLU, 1x1 conv (stride), BN when strided or not F wide", []string{"stride"}},
	"freduce": {"freduce", "factorized reduction when strided (two shifted 1x1 convs, concat, BN); else like project", []string{"stride"}},
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
