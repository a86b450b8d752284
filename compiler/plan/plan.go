// Package plan lowers an IR graph into an execution plan: an ordered list
// of kernels over numbered buffers, the parameters each kernel reads, and
// the reverse schedule for training. The compiler decides here what runs
// where and in which memory; the runtime only executes.
package plan

import (
	"fmt"

	"cellc/compiler/ir"
)

// Plan is everything a runtime needs to run a network forward and backward.
type Plan struct {
	Name     string `json:"name"`
	Training bool   `json:"training"`

	Input     View  `json:"input"`
	Output    View  `json:"output"`
	AuxOutput *View `json:"aux_output,omitempty"`

	Buffers  []Buffer `json:"buffers"`
	Params   []Param  `json:"params"`
	Launches []Launch `json:"launches"`
	// Backward is the reverse schedule (training plans only).
	Backward []GradLaunch `json:"backward,omitempty"`
	// GradBuffers hold activation gradients during Backward.
	GradBuffers []Buffer `json:"grad_buffers,omitempty"`
	// OutputGrad and AuxOutputGrad are where the loss gradients go before
	// Backward runs (training plans).
	OutputGrad    *View `json:"output_grad,omitempty"`
	AuxOutputGrad *View `json:"aux_output_grad,omitempty"`

	// Memory is per image, in bytes of float32; multiply by the batch.
	Memory Memory `json:"memory"`
}

// Memory summarises the plan's activation memory per image.
type Memory struct {
	// Forward is the activation memory the forward pass needs with the
	// plan's buffer reuse (all of Buffers).
	Forward int64 `json:"forward_bytes_per_image"`
	// Unshared is what one buffer per value would take, for comparison.
	Unshared int64 `json:"unshared_bytes_per_image"`
	// Gradients is the activation-gradient memory of Backward.
	Gradients int64 `json:"gradient_bytes_per_image,omitempty"`
	// Params is the parameter memory (all params, not per image).
	Params int64 `json:"param_bytes"`
	// Intermediates is the memory of values inside fused launches that the
	// launches' Exec decisions leave in buffers of their own: in training
	// every kept intermediate and two ping-pong buffers for gradients
	// inside a chain, in inference two ping-pong buffers all chains share.
	Intermediates int64 `json:"intermediate_bytes_per_image,omitempty"`
}

// Total is the activation memory per image: forward buffers, gradient
// buffers and fused launches' intermediates.
func (m Memory) Total() int64 { return m.Forward + m.Gradients + m.Intermediates }

// Buffer is an activation buffer of Elems float32 values per image; the
// batch is outermost. Values of different shapes share a buffer at
// different times.
type Buffer struct {
	ID    int   `json:"id"`
	Elems int64 `json:"elems_per_image"`
}

// View is a value inside a buffer, laid out NCHW. A concat's inputs are
// channel slices of its buffer: each image's values start at Offset
// within the image's Stride-long block, and channels follow each other.
type View struct {
	Buffer int      `json:"buffer"`
	Offset int      `json:"offset"` // elements from the start of an image's block
	Stride int      `json:"stride"` // elements per image in the buffer's current layout
	Shape  ir.Shape `json:"shape"`
}

// ParamKind says what a parameter is.
type ParamKind string

const (
	Weights        ParamKind = "weights"
	Biases         ParamKind = "biases"
	Gamma          ParamKind = "gamma"
	Beta           ParamKind = "beta"
	MovingMean     ParamKind = "moving_mean"
	MovingVariance ParamKind = "moving_variance"
)

// Param is a named tensor of weights or statistics.
type Param struct {
	ID        int       `json:"id"`
	Name      string    `json:"name"`
	Kind      ParamKind `json:"kind"`
	Dims      []int     `json:"dims"`
	Trainable bool      `json:"trainable"`
	// FanOut is TF-slim's variance-scaling fan-out, for initialisation.
	FanOut int `json:"fan_out,omitempty"`
}

// Elems is the number of values in the parameter.
func (p Param) Elems() int64 {
	n := int64(1)
	for _, d := range p.Dims {
		n *= int64(d)
	}
	return n
}

// Launch is one kernel launch.
type Launch struct {
	ID     int          `json:"id"`
	Kernel string       `json:"kernel"` // "relu-sep-bn", "conv", "add", ...
	Ops    []ir.ChainOp `json:"ops"`    // what it computes, in order
	Inputs []View       `json:"inputs"`
	Output View         `json:"output"`
	// Params lists, per op in Ops, the IDs of that op's parameters.
	Params [][]int `json:"params"`
	Scope  string  `json:"scope"`
	Src    string  `json:"src,omitempty"`
	Aux    bool    `json:"aux,omitempty"`
	Cell   int     `json:"cell"`
	// Free lists buffers whose last reader is this launch (forward only).
	Free []int `json:"free,omitempty"`
	// Exec says, per op in Ops, how a backend runs it (fusion.go).
	Exec []OpExec `json:"exec"`
	// Accumulate: the last op (a conv) adds its result into Output, which
	// an earlier launch has written, instead of overwriting it: an add
	// folded into the convs that compute its operands (foldadds.go).
	Accumulate bool `json:"accumulate,omitempty"`
}

// OpExec is the compiler's decision of how one op of a fused launch runs,
// which every backend follows, so that the plan's memory figures are what
// a backend allocates.
type OpExec struct {
	// ReLUIntoNext: a ReLU that stores nothing; the conv after it reads
	// max(x, 0) and back-propagates through the mask x > 0 into the
	// ReLU's input gradient.
	ReLUIntoNext bool `json:"relu_into_next,omitempty"`
	// PairedIntoNext: a depthwise conv whose output the 1×1 conv after it
	// computes image by image (a separable conv's two halves), kept in
	// per-worker scratch, not in a batch buffer; training recomputes it
	// in the backward pass.
	PairedIntoNext bool `json:"paired_into_next,omitempty"`
	// InPlace: a training batch norm after a conv that normalises the
	// conv's output where it lies and back-propagates from its own output
	// (x̂ = (y-β)/γ), so the pre-norm values need no buffer.
	InPlace bool `json:"in_place,omitempty"`
	// Buffer: the op's output is an intermediate of its own (Elems per
	// image), neither fused away, in place, nor the launch's output.
	Buffer bool `json:"buffer,omitempty"`
}

// GradLaunch runs one launch's gradient kernel: it reads the gradient of the
// launch's output (and the forward values it saved) and accumulates into
// the gradients of its inputs and parameters.
type GradLaunch struct {
	Forward int `json:"forward"` // the index of the forward launch in Launches
	// OutGrad is the gradient of the forward launch's output.
	OutGrad View `json:"out_grad"`
	// InGrads are the gradients of the forward launch's inputs; nil where
	// the input needs none (the image).
	InGrads []*View `json:"in_grads"`
	// Accumulate[i] says InGrads[i] already holds a partial sum (the
	// input has several readers) and must be added to, not overwritten.
	Accumulate []bool `json:"accumulate"`
}

// KernelName is the fused kernel's name: the rule's kinds joined by '-'.
func KernelName(n *ir.Node) string {
	if n.Kind != ir.Fused {
		return string(n.Kind)
	}
	s := ""
	for i, st := range n.Chain {
		if i > 0 {
			s += "-"
		}
		k := string(st.Kind)
		if st.Kind == ir.Conv && st.Attrs.KH == 1 && st.Attrs.KW == 1 && i > 0 && n.Chain[i-1].Kind == ir.DWConv {
			k = "pw"
		}
		s += k
	}
	return s
}

func (v View) String() string {
	if v.Offset == 0 && v.Stride == v.Shape.Elems() {
		return fmt.Sprintf("b%d", v.Buffer)
	}
	hw := v.Shape.H * v.Shape.W
	c0 := v.Offset / max(hw, 1)
	return fmt.Sprintf("b%d[c%d:%d of %d]", v.Buffer, c0, c0+v.Shape.C, v.Stride/max(hw, 1))
}
