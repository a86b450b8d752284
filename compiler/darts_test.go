package compiler

import (
	"testing"

	"cellc/compiler/ir"
)

// dartsCIFAR builds specs/darts_v2.cell's network, which names the
// stdlib's darts_cifar skeleton for CIFAR (cifar_skeleton:).
func dartsCIFAR(t *testing.T, mutate func(*Config)) *Result {
	t.Helper()
	f := parseSpec(t, "../specs/darts_v2.cell")
	cfg := preset(t, "cifar")
	cfg.BaseFilters, cfg.Filters = 36, 0 // train.py's --init_channels 36
	cfg.Training, cfg.AuxHead = true, true
	if mutate != nil {
		mutate(&cfg)
	}
	res, diags := Build(f, cfg, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return res
}

// DARTS V2 on CIFAR-10 as quark0/darts cnn/model.py NetworkCIFAR builds it
// (C = 36, 20 layers, stem multiplier 3, 10 classes, auxiliary).
//
// How the number was established: DARTS' train.py logs
// "param size = %fMB" with utils.count_parameters_in_MB(model), which in
// quark0/darts' current cnn/utils.py is the sum of np.prod(v.size()) over
// model.named_parameters() whose name lacks "auxiliary" (an early
// revision summed model.parameters(), aux head included). named_parameters
// are the trainable tensors: conv weights (no biases anywhere but the two
// Linears), BN weight and bias (every BN is affine: model.py builds the
// ops with affine=True, ReLUConvBN and FactorizedReduce default to it),
// and the classifier's weight and bias; BN running statistics are
// buffers, not parameters. For DARTS_V2 at C = 36 and 20 layers the
// figure is 3.349342MB, the "3.3M" of DARTS' README and paper (Table 1),
// so the skeleton must give exactly 3,349,342 trainable parameters
// without the aux head.
func TestDARTSCIFARCount(t *testing.T) {
	res := dartsCIFAR(t, nil)
	main, aux := res.Built.Costs()
	if main.Params != 3_349_342 {
		t.Errorf("trainable parameters without the aux head %d, DARTS' count_parameters_in_MB gives 3,349,342", main.Params)
	}
	// AuxiliaryHeadCIFAR(576, 10): 576*128 + 2*128 + 128*768*2*2 + 2*768
	// + 768*10 + 10.
	if aux.Params != 476_426 {
		t.Errorf("aux head parameters %d, want 476,426", aux.Params)
	}
	// BN running means and variances (buffers, not counted by DARTS) and
	// mult-adds are our counter's, pinned as computed.
	if main.Moving != 40_392 || main.MultAdd != 528_359_040 {
		t.Errorf("moving %d, mult-adds %d; want 40,392 and 528,359,040", main.Moving, main.MultAdd)
	}
	t.Logf("params %d moving %d aux %d madds %d", main.Params, main.Moving, aux.Params, main.MultAdd)
	eps := endpoints(res.Built)
	if eps["Stem"] != (ir.Shape{C: 108, H: 32, W: 32}) {
		t.Errorf("Stem %v, want 32x32x108", eps["Stem"])
	}
	// Reductions at 20 // 3 = 6 and 2 * 20 // 3 = 13; every cell outputs
	// 4C (multiplier 4).
	for i := 0; i < 20; i++ {
		want := ir.Shape{C: 144, H: 32, W: 32}
		switch {
		case i >= 13:
			want = ir.Shape{C: 576, H: 8, W: 8}
		case i >= 6:
			want = ir.Shape{C: 288, H: 16, W: 16}
		}
		if got := eps["Cell_"+itoa(i)]; got != want {
			t.Errorf("Cell_%d %v, want %v", i, got, want)
		}
	}
	if _, ok := eps["AuxLogits"]; !ok || res.Built.AuxOutput < 0 {
		t.Errorf("no aux head")
	}
	// The aux head follows layer 13 (model.py: i == 2*layers//3), the
	// second reduction, on its 8x8x576 output.
	for _, nd := range res.Built.Nodes {
		if nd.Scope == "aux_13/auxiliary_head/relu0" {
			if in := res.Built.Nodes[nd.Inputs[0]].Shape; in != (ir.Shape{C: 576, H: 8, W: 8}) {
				t.Errorf("aux head input %v, want 8x8x576", in)
			}
		}
	}
	inf := dartsCIFAR(t, func(c *Config) { c.Training = false })
	if m, _ := inf.Built.Costs(); m.Params != main.Params {
		t.Errorf("inference build has %d parameters, training %d", m.Params, main.Params)
	}
}

// inputs: preprocess adapts h_i-1 whatever its width: model.py builds
// preprocess0 = ReLUConvBN(C_prev_prev, C) even when C_prev_prev == C,
// where TF-slim's _reduce_prev_layer (reduce_prev) passes it through. With
// stem multiplier 1 the stem is C wide, so cell 0's h_i-1 shows it.
func TestDARTSPreprocessEqualWidth(t *testing.T) {
	res := dartsCIFAR(t, func(c *Config) { c.BaseFilters, c.StemMultiplier, c.Training = 8, 1, false })
	var conv bool
	for _, nd := range res.Built.Nodes {
		if nd.Kind == ir.Conv && nd.Scope == "cell_0/prev_1/1x1" {
			conv = true
			if in := res.Built.Nodes[nd.Inputs[0]]; in.Shape.C != 8 {
				t.Errorf("cell_0/prev_1/1x1 reads %d channels, want the stem's 8", in.Shape.C)
			}
		}
	}
	if !conv {
		t.Errorf("cell 0 passes its 8-wide h_i-1 through; DARTS' preprocess0 is a ReLUConvBN")
	}
}
