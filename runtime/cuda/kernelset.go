package cuda

import "fmt"

// kernelSet holds the handles of every kernel the executor launches,
// looked up once per executable.
type kernelSet struct {
	relu, reluGrad, copy, add2, zero         kernel
	shiftFwd, shiftGrad, gapFwd, gapGrad     kernel
	dwFwd, dwGradX, dwGradW                  kernel
	im2col, col2im, biasAdd, chanSumAdd      kernel
	sumRowsAdd, poolFwd, poolGrad            kernel
	bnStats, bnMoving, bnScale               kernel
	affineFwd, affineGrad, dyDev, bnGradCoef kernel
	gnStats, gnScale, gnGradCoef, gnParam    kernel
	optDecayNorm, optSum, optSGD, optRMSProp kernel
	optEMA                                   kernel
}

func loadKernels(d device) (kernelSet, error) {
	var ks kernelSet
	for _, x := range []struct {
		k    *kernel
		name string
	}{
		{&ks.relu, "ew_relu"}, {&ks.reluGrad, "ew_relu_grad"}, {&ks.copy, "ew_copy"}, {&ks.add2, "ew_add2"}, {&ks.zero, "ew_zero"},
		{&ks.shiftFwd, "shift_fwd"}, {&ks.shiftGrad, "shift_grad"}, {&ks.gapFwd, "gap_fwd"}, {&ks.gapGrad, "gap_grad"},
		{&ks.dwFwd, "dw_fwd"}, {&ks.dwGradX, "dw_grad_x"}, {&ks.dwGradW, "dw_grad_w"},
		{&ks.im2col, "im2col"}, {&ks.col2im, "col2im"}, {&ks.biasAdd, "bias_add"}, {&ks.chanSumAdd, "chan_sum_add"},
		{&ks.sumRowsAdd, "sum_rows_add"}, {&ks.poolFwd, "pool_fwd"}, {&ks.poolGrad, "pool_grad"},
		{&ks.bnStats, "bn_stats"}, {&ks.bnMoving, "bn_moving"}, {&ks.bnScale, "bn_scale"},
		{&ks.affineFwd, "affine_fwd"}, {&ks.affineGrad, "affine_grad"}, {&ks.dyDev, "dy_dev"}, {&ks.bnGradCoef, "bn_grad_coef"},
		{&ks.gnStats, "gn_stats"}, {&ks.gnScale, "gn_scale"}, {&ks.gnGradCoef, "gn_grad_coef"}, {&ks.gnParam, "gn_param_grad"},
		{&ks.optDecayNorm, "opt_decay_norm"}, {&ks.optSum, "opt_sum"}, {&ks.optSGD, "opt_sgd"}, {&ks.optRMSProp, "opt_rmsprop"}, {&ks.optEMA, "opt_ema"},
	} {
		k, err := d.Kernel(x.name)
		if err != nil {
			return ks, fmt.Errorf("kernel %s: %v", x.name, err)
		}
		*x.k = k
	}
	return ks, nil
}
