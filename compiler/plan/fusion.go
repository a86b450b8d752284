package plan

import "cellc/compiler/ir"

// decideExec sets every step's Exec: which ops of a fused chain store
// nothing because the next op applies them, which run in place, and
// which keep an intermediate buffer. The decisions are the compiler's,
// so that every backend runs the same schedule and the plan's memory
// figures (Memory.Intermediates) are what backends allocate.
//
//   - A ReLU before a conv or depthwise conv fuses into it (the conv
//     reads max(x, 0)). In inference only a chain's leading ReLU does: the
//     others' inputs are the shared ping-pong buffers, and the conv would
//     read and write one of them.
//   - A depthwise conv before a 1×1 conv pairs with it (computed per
//     image into scratch) when it reads the step's input or a fused
//     ReLU's, so that its input gradient is not the ping-pong buffer the
//     1×1 conv's output gradient is in. In training only the depthwise
//     convs at the plan's highest depthwise resolution pair, and are
//     recomputed in backward: a NASNet's first stage holds over half its
//     activations; the others keep their outputs, which costs less memory
//     than the first stage's would and saves their second forward pass.
//   - In training a batch norm after a conv runs in place.
func (l *lowering) decideExec() {
	training := l.p.Training
	maxDWPixels := 0
	for _, st := range l.p.Launches {
		for _, o := range st.Ops {
			if o.Kind == ir.DWConv {
				maxDWPixels = max(maxDWPixels, o.Shape.H*o.Shape.W)
			}
		}
	}
	var kept, maxChain int64
	for i := range l.p.Launches {
		st := &l.p.Launches[i]
		ops := st.Ops
		reluInto := func(k int) bool {
			return k+1 < len(ops) && ops[k].Kind == ir.ReLU &&
				(ops[k+1].Kind == ir.Conv || ops[k+1].Kind == ir.DWConv) && (k == 0 || training)
		}
		paired := func(k int) bool {
			if training && ops[k].Shape.H*ops[k].Shape.W < maxDWPixels {
				return false
			}
			return k+1 < len(ops) && ops[k].Kind == ir.DWConv &&
				ops[k+1].Kind == ir.Conv && ops[k+1].Attrs.KH == 1 && ops[k+1].Attrs.KW == 1 &&
				(k == 0 || reluInto(k-1))
		}
		inPlace := func(k int) bool { // op k is a batch norm after a conv
			return training && k > 0 && ops[k].Kind == ir.BatchNorm &&
				(ops[k-1].Kind == ir.Conv || ops[k-1].Kind == ir.DWConv)
		}
		last := len(ops) - 1
		st.Exec = make([]OpExec, len(ops))
		for k, o := range ops {
			x := OpExec{ReLUIntoNext: reluInto(k), PairedIntoNext: paired(k), InPlace: inPlace(k)}
			// A conv whose in-place batch norm ends the step writes the
			// step's output itself.
			toOutput := k == last || k+1 == last && inPlace(k+1)
			x.Buffer = !x.ReLUIntoNext && !x.PairedIntoNext && !x.InPlace && !toOutput
			if k < last {
				maxChain = max(maxChain, int64(o.Shape.Elems()))
			}
			if x.Buffer {
				kept += int64(o.Shape.Elems())
			}
			st.Exec[k] = x
		}
	}
	// Inference shares two ping-pong buffers among all chains; training
	// keeps every intermediate for backward and adds two ping-pong
	// buffers for the gradients inside chains.
	l.p.Memory.Intermediates = 2 * maxChain * 4
	if training {
		l.p.Memory.Intermediates += kept * 4
	}
}
