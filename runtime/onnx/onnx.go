// Package onnx writes an inference plan as an ONNX model (IR version 8,
// opset 17), so that a network cellc trained can run in ONNX Runtime and
// the other runtimes that read ONNX, and so that an outside runtime can
// check cellc's forward pass.
//
// The model is the plan as it runs: one ONNX node per op of each step's
// fused chain, values named after the ops' scopes (the plan's parameter
// names are the initializers' names), the image input "image"
// [batch, C, H, W] and the output "logits" [batch, classes], with the
// batch dimension symbolic. Buffers and views are the plan's memory
// layout, not part of the computation: a step reading a whole buffer whose
// channel slices earlier steps wrote (an elided concat) becomes a Concat
// node, and a read of part of a value a Slice.
//
// TensorFlow's semantics are written out where ONNX's defaults differ:
// SAME padding as explicit, possibly asymmetric pads (the extra pixel
// after); AveragePool with count_include_pad=0; every norm's epsilon
// (ONNX's default is 1e-5, TF-slim's 1e-3). The factorized reduction's
// shift is Slice then Pad: a Pad in front of the strided 1×1 pool or conv
// would be fused into it by ONNX Runtime's optimiser, which then refuses
// the model ("Pad should be smaller than kernel").
//
// The package writes protobuf with google.golang.org/protobuf's protowire
// (proto.go): the ten messages an inference model needs take about 200
// lines, where a generated ONNX library would add a large dependency and
// the Go ONNX packages keep their types internal.
package onnx

import (
	"fmt"
	"slices"

	"cellc/compiler/plan"
)

// The versions written, and the graph's fixed names.
const (
	IRVersion = 8
	Opset     = 17

	InputName  = "image"
	OutputName = "logits"
	BatchDim   = "batch"
)

// Options are what an export needs beyond the plan and its weights.
type Options struct {
	// Epsilon is the variance epsilon of batch, layer and instance norms
	// (compiler.Config.BatchNormEpsilon), as the runtime uses it.
	Epsilon float32
	// ProducerVersion is cellc's version.
	ProducerVersion string
	// DocString describes the model.
	DocString string
	// Metadata becomes metadata_props, sorted by key.
	Metadata map[string]string
}

// Export encodes inference plan p as an ONNX model. weights returns
// parameter id's values (the layout of p.Params[id].Dims).
func Export(p *plan.Plan, weights func(id int) []float32, opts Options) ([]byte, error) {
	if p.Training {
		return nil, fmt.Errorf("onnx: %s is a training plan; export lowers the inference plan", p.Name)
	}
	b := newBuilder(p, weights, opts)
	if err := b.build(); err != nil {
		return nil, fmt.Errorf("onnx: %v", err)
	}
	m := modelProto{
		irVersion:       IRVersion,
		producerName:    "cellc",
		producerVersion: opts.ProducerVersion,
		docString:       opts.DocString,
		graph:           b.g,
		opset:           Opset,
	}
	keys := make([]string, 0, len(opts.Metadata))
	for k := range opts.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m.metadata = append(m.metadata, [2]string{k, opts.Metadata[k]})
	}
	return m.encode(), nil
}
