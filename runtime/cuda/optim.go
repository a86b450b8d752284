package cuda

import (
	"errors"
	"math"

	"cellc/compiler/plan"
	"cellc/runtime"
)

// The optimiser on the device (runtime.Resident). Once the Stepper first
// calls ApplyOptimizer the executable is resident: parameters, gradients
// and the optimiser's slots stay on the device, Forward no longer
// uploads the parameters nor Backward downloads the gradients, and the
// host copies change only through PullState and PushState.

// optState is the device side of a runtime.Optimizer.
type optState struct {
	train, decay dptr // per-value masks (float32 0 or 1)
	mom, ms, ema dptr // the slots, as runtime.Optimizer lays them out
	part, norm2  dptr // float64 partial sums and the squared norm
	blocks       int  // partial sums: one per block of opt_decay_norm
}

// ApplyOptimizer runs o's step on the device (runtime.Resident).
func (e *executable) ApplyOptimizer(o *runtime.Optimizer, lr float64) (float64, error) {
	if !e.p.Training {
		return 0, errors.New("an inference plan has no optimiser")
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if e.opt == nil {
		if err := e.startResident(o); err != nil {
			return 0, err
		}
	}
	s, r := e.opt, o.Recipe()
	n := len(e.params.Data)
	threads := reduceThreads(e.dev)
	err := e.dev.Launch(e.k.optDecayNorm, d1(s.blocks), d1(threads), []uint64{argInt(n), argPtr(s.train), argPtr(s.decay),
		argPtr(e.dparams), argPtr(e.dgrads), argFloat(float32(r.WeightDecay)), argPtr(s.part)})
	if err != nil {
		return 0, err
	}
	if err := e.dev.Launch(e.k.optSum, d1(1), d1(threads), []uint64{argInt(s.blocks), argPtr(s.part), argPtr(s.norm2)}); err != nil {
		return 0, err
	}
	clip, l, m := argFloat(float32(r.ClipNorm)), argFloat(float32(lr)), argFloat(float32(r.Momentum))
	if r.Optimizer == "rmsprop" {
		err = e.launch(e.k.optRMSProp, n, argInt(n), argPtr(s.train), argPtr(e.dparams), argPtr(e.dgrads), argPtr(s.mom), argPtr(s.ms),
			argPtr(s.norm2), clip, l, m, argFloat(float32(r.RMSDecay)), argFloat(float32(r.RMSEpsilon)))
	} else {
		err = e.launch(e.k.optSGD, n, argInt(n), argPtr(s.train), argPtr(e.dparams), argPtr(e.dgrads), argPtr(s.mom), argPtr(s.norm2), clip, l, m)
	}
	if err != nil {
		return 0, err
	}
	if s.ema != 0 {
		// TF's ExponentialMovingAverage with num_updates, as the host's.
		d := math.Min(r.EMADecay, float64(1+o.Step)/float64(10+o.Step))
		if err := e.launch(e.k.optEMA, n, argInt(n), argPtr(s.ema), argPtr(e.dparams), argFloat(float32(d))); err != nil {
			return 0, err
		}
	}
	o.Step++
	var norm2 [2]float32 // one float64
	if err := e.dev.Download(norm2[:], s.norm2); err != nil {
		return 0, err
	}
	return math.Sqrt(math.Float64frombits(uint64(math.Float32bits(norm2[0])) | uint64(math.Float32bits(norm2[1]))<<32)), nil
}

// startResident allocates the optimiser's device state and uploads the
// host's slots: from here on the device holds the training state.
func (e *executable) startResident(o *runtime.Optimizer) error {
	n := len(e.params.Data)
	s := &optState{blocks: min((n+255)/256, 1024)}
	var err error
	for _, p := range []*dptr{&s.train, &s.decay, &s.mom} {
		if *p, err = e.alloc(n); err != nil {
			return err
		}
	}
	if o.Slots["ms"] != nil {
		if s.ms, err = e.alloc(n); err != nil {
			return err
		}
	}
	if o.Slots["ema"] != nil {
		if s.ema, err = e.alloc(n); err != nil {
			return err
		}
	}
	if s.part, err = e.alloc(2 * s.blocks); err != nil {
		return err
	}
	if s.norm2, err = e.alloc(2); err != nil {
		return err
	}
	train, decay := make([]float32, n), make([]float32, n)
	for i, sp := range e.params.Specs {
		if !sp.Trainable {
			continue
		}
		off, k := e.params.Off[i], int(sp.Elems())
		for j := off; j < off+k; j++ {
			train[j] = 1
			if sp.Kind == plan.Weights {
				decay[j] = 1
			}
		}
	}
	if err := e.dev.Upload(s.train, train); err != nil {
		return err
	}
	if err := e.dev.Upload(s.decay, decay); err != nil {
		return err
	}
	e.opt = s
	return e.pushSlots(o)
}

// PullState copies parameters, gradients and o's slots to the host
// (runtime.Resident).
func (e *executable) PullState(o *runtime.Optimizer) error {
	if e.opt == nil {
		return nil // the host's copies are the current ones
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if err := e.dev.Download(e.params.Data, e.dparams); err != nil {
		return err
	}
	if err := e.dev.Download(e.params.Grad, e.dgrads); err != nil {
		return err
	}
	if o == nil {
		return nil
	}
	for name, p := range e.slots() {
		if v := o.Slots[name]; v != nil && p != 0 {
			if err := e.dev.Download(v, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// PushState copies the host's parameters and o's slots to the device
// (runtime.Resident).
func (e *executable) PushState(o *runtime.Optimizer) error {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if err := e.dev.Upload(e.dparams, e.params.Data); err != nil {
		return err
	}
	if e.opt == nil || o == nil {
		return nil
	}
	return e.pushSlots(o)
}

func (e *executable) pushSlots(o *runtime.Optimizer) error {
	for name, p := range e.slots() {
		if v := o.Slots[name]; v != nil && p != 0 {
			if err := e.dev.Upload(p, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *executable) slots() map[string]dptr {
	return map[string]dptr{"momentum": e.opt.mom, "ms": e.opt.ms, "ema": e.opt.ema}
}
