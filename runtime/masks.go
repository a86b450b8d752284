package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"

	"cellc/runtime/kernels"
)

// Masks draws the random masks of drop path and dropout. Every backend
// draws through one Masks, op by op in plan order, so that the same seed
// gives the same masks on the CPU and on a GPU, and a checkpoint's saved
// state resumes the sequence an uninterrupted run would have drawn.
type Masks struct {
	src *rand.PCG
	rng *rand.Rand
}

// NewMasks starts the mask sequence for a seed.
func NewMasks(seed uint64) *Masks {
	src := rand.NewPCG(seed, 0x64726f70)
	return &Masks{src: src, rng: rand.New(src)}
}

// DropPath fills scale with each image's ScheduledDropPath scale: the
// layer's keep probability decays linearly with training progress
// (TF-slim _apply_drop_path) and an image is kept, scaled by 1/keep, or
// dropped. Evaluation keeps every path and draws nothing, so it leaves
// the sequence where training left it.
func (m *Masks) DropPath(scale []float32, keep, progress float64, training bool) {
	if !training {
		for i := range scale {
			scale[i] = 1
		}
		return
	}
	kp := float32(1 - math.Min(1, progress)*(1-keep))
	for i := range scale {
		scale[i] = kernels.DropPathMask(kp, float32(m.rng.Float64()))
	}
}

// Dropout fills mask with TF dropout's per-value scales (1/keep or 0);
// evaluation fills ones and draws nothing.
func (m *Masks) Dropout(mask []float32, keep float64, training bool) {
	k := float32(keep)
	if !training {
		k = 1
	}
	kernels.DropoutMask(mask, k, m.rng)
}

// State is the generator's state, for a checkpoint.
func (m *Masks) State() ([]byte, error) { return m.src.MarshalBinary() }

// SetState restores a state State returned.
func (m *Masks) SetState(b []byte) error {
	if err := m.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("random state: %v", err)
	}
	return nil
}

// WithDefaults fills the options a caller left zero: TF-slim's ImageNet
// batch-norm decay and epsilon, and one worker per core.
func (o Options) WithDefaults(cores int) Options {
	if o.Workers <= 0 {
		o.Workers = cores
	}
	if o.BatchNormEpsilon == 0 {
		o.BatchNormEpsilon = 1e-3
	}
	if o.BatchNormDecay == 0 {
		o.BatchNormDecay = 0.9997
	}
	return o
}
