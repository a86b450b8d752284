package onnx

import (
	"fmt"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/runtime"
)

// InferencePlan lowers a network built for inference (res.Config.Training
// false) to the plan to export: the compiler's own, with batch norms
// folded into the convs before them, or, with fold false, the same
// pipeline without the fold-bn pass, so the batch norms stay (ONNX
// BatchNormalization nodes). The pipeline has no switch for that pass
// alone: it runs fold-bn when the config is not for training, so the
// built inference graph (no aux head, drop path or dropout) is passed
// through it under a copy of the config marked training, which skips
// exactly that pass. A compiler.Options field would say this directly.
func InferencePlan(res *compiler.Result, fold bool) (*plan.Plan, error) {
	if res.Config.Training || res.Graph.Training {
		return nil, fmt.Errorf("the network was built for training; export needs the inference build")
	}
	g := res.Graph
	if !fold {
		cfg := res.Config
		cfg.Training = true
		var err error
		g, err = compiler.RunPasses(res.Built, cfg, compiler.Options{}, nil)
		if err != nil {
			return nil, err
		}
	}
	return plan.Lower(g)
}

// Weights fills p's parameters from trained ones by name (a checkpoint's
// tensors, or another plan's parameters), folding batch norms into the
// convs that absorbed them (runtime.LoadFolded).
func Weights(p *plan.Plan, trained func(name string) ([]float32, bool), eps float32) (*runtime.Params, error) {
	w := runtime.NewParams(p.Params, false)
	if err := runtime.LoadFolded(p, w, trained, eps); err != nil {
		return nil, err
	}
	return w, nil
}
