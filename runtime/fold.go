package runtime

import (
	"fmt"
	"math"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
)

// LoadFolded fills an inference plan's parameters from trained ones (for
// example a training executable's Params, or a checkpoint's tensors by
// name). Parameters present under the same name are copied; a conv the
// compiler folded a batch norm into (Attrs.Folded) gets the norm's affine
// map built in:
//
//	s = gamma / sqrt(moving_variance + eps)
//	W'[o] = W[o] · s[o],  b'[o] = beta[o] − moving_mean[o] · s[o]
func LoadFolded(p *plan.Plan, dst *Params, trained func(name string) ([]float32, bool), eps float32) error {
	index := map[string]int{}
	for i, s := range dst.Specs {
		index[s.Name] = i
	}
	done := make([]bool, len(dst.Specs))
	get := func(name string, n int) ([]float32, error) {
		v, ok := trained(name)
		if !ok {
			return nil, fmt.Errorf("no trained parameter %q", name)
		}
		if len(v) != n {
			return nil, fmt.Errorf("trained parameter %q has %d values, want %d", name, len(v), n)
		}
		return v, nil
	}
	for _, st := range p.Launches {
		for k, op := range st.Ops {
			ids := st.Params[k]
			if op.Kind != ir.Conv || !op.Attrs.Folded {
				continue
			}
			w, b := dst.Value(ids[0]), dst.Value(ids[1])
			src, err := get(dst.Specs[ids[0]].Name, len(w))
			if err != nil {
				return err
			}
			bn := op.Attrs.BNScope
			out := len(b)
			gamma, err := get(bn+"/gamma", out)
			if err != nil {
				return err
			}
			beta, err := get(bn+"/beta", out)
			if err != nil {
				return err
			}
			mean, err := get(bn+"/moving_mean", out)
			if err != nil {
				return err
			}
			variance, err := get(bn+"/moving_variance", out)
			if err != nil {
				return err
			}
			per := len(w) / out // OIHW: each output channel's weights are contiguous
			for o := 0; o < out; o++ {
				s := gamma[o] / float32(math.Sqrt(float64(variance[o]+eps)))
				for j := o * per; j < (o+1)*per; j++ {
					w[j] = src[j] * s
				}
				b[o] = beta[o] - mean[o]*s
			}
			done[ids[0]], done[ids[1]] = true, true
		}
	}
	for i, s := range dst.Specs {
		if done[i] {
			continue
		}
		v, err := get(s.Name, int(s.Elems()))
		if err != nil {
			return err
		}
		copy(dst.Value(i), v)
	}
	return nil
}

// Lookup serves LoadFolded from another executable's parameters.
func (p *Params) Lookup(name string) ([]float32, bool) {
	for i, s := range p.Specs {
		if s.Name == name {
			return p.Value(i), true
		}
	}
	return nil, false
}
