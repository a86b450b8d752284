// Package runtime executes compiled plans: forward and backward passes on
// a Backend, parameters with their gradients and optimiser state, and the
// training loop built on them.
//
// The boundary is the Backend interface: a backend compiles a plan for a
// batch size into an Executable. The CPU backend (cpu.go) is the first
// implementation; a GPU backend implements the same two interfaces in a
// package of its own behind the `cuda` build tag.
package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"

	"cellc/compiler/plan"
)

// Backend executes plans on one kind of device.
type Backend interface {
	Name() string
	// Compile prepares p for batches of up to batch images: buffers,
	// scratch space and kernels are allocated here, never per step.
	Compile(p *plan.Plan, batch int, opts Options) (Executable, error)
}

// Options are the numerics a plan leaves to the runtime.
type Options struct {
	BatchNormDecay   float32 // moving-average decay (TF-slim: 0.9 CIFAR, 0.9997 ImageNet)
	BatchNormEpsilon float32
	Workers          int // parallel workers; 0 = GOMAXPROCS
	// SharedCores says that other executables compute on the same cores
	// at the same time (a search worker training several children at
	// once): the CPU backend's workers then park as soon as they are idle
	// instead of spinning first, which would keep the others off the
	// cores (runtime/workers.go).
	SharedCores bool
	Seed        uint64
	// Precision is the arithmetic: "" or "fp32" (every backend), "tf32"
	// (GPU GEMMs on tensor cores with inputs rounded to TF32) or "bf16".
	// A backend that cannot compute in it refuses the plan.
	Precision string
}

// CheckPrecision reports a Precision value no backend knows.
func CheckPrecision(p string) error {
	switch p {
	case "", "fp32", "tf32", "bf16":
		return nil
	}
	return fmt.Errorf("unknown precision %q (want fp32, tf32 or bf16)", p)
}

// Executable is a plan ready to run on a backend.
type Executable interface {
	// Params is the network's parameters (and, for training plans, their
	// gradients), host-visible.
	Params() *Params
	// Forward runs the plan on n images (n ≤ the compiled batch) laid out
	// NCHW in x. progress ∈ [0,1] is training progress, for
	// ScheduledDropPath. It returns the logits [n, classes] and, when the
	// plan has an aux head, the aux logits; both are valid until the next
	// call.
	Forward(x []float32, n int, progress float64) (logits, aux []float32)
	// Backward back-propagates dLogits (and dAux, nil if none) through
	// the last Forward, accumulating parameter gradients into Params().Grad.
	Backward(dLogits, dAux []float32)
	// Training reports whether the plan is a training plan (backward
	// available).
	Training() bool
	// SetTraining switches a training plan between training behaviour
	// (batch-norm statistics from the batch and moving averages updated,
	// drop path and dropout active) and evaluation behaviour (moving
	// statistics, no drop path or dropout). Inference plans always
	// evaluate.
	SetTraining(on bool)
	Close() error
}

// DeviceError is what an executable whose device failed (out of memory,
// a lost GPU) panics with from Forward or Backward: their signatures,
// shared with the CPU backend whose kernels cannot fail, return no error.
// The Stepper and the CLI turn it back into an error with
// CatchDeviceError.
type DeviceError struct{ Err error }

func (d DeviceError) Error() string { return d.Err.Error() }
func (d DeviceError) Unwrap() error { return d.Err }

// CatchDeviceError, deferred, recovers a DeviceError panic into *err;
// any other panic goes on.
func CatchDeviceError(err *error) {
	if r := recover(); r != nil {
		d, ok := r.(DeviceError)
		if !ok {
			panic(r)
		}
		*err = d
	}
}

// Resident is an Executable that keeps the parameters, their gradients
// and the optimiser's state on its device once training starts (the GPU
// backend): the Stepper then runs the optimiser there (ApplyOptimizer),
// and nothing but the batch, the logits and their gradients crosses to
// the host in a step. Params() and the Optimizer's Slots are the host
// copies, brought up to date by PullState and sent back by PushState;
// the Stepper's methods of the same names do both for any executable.
type Resident interface {
	// ApplyOptimizer is Optimizer.Apply on the device: weight decay,
	// clipping by global norm, the SGD or RMSProp step, the EMA, and
	// o.Step advanced. It returns the gradient norm before clipping.
	ApplyOptimizer(o *Optimizer, lr float64) (float64, error)
	// PullState copies the parameters, the gradients and o's slots (o
	// may be nil) to the host.
	PullState(o *Optimizer) error
	// PushState copies the host's parameters and o's slots to the device.
	PushState(o *Optimizer) error
}

// RandStater is an Executable whose drop path and dropout masks come from
// a generator whose state a checkpoint can save and restore, so that a
// resumed run draws the masks the uninterrupted one would have.
type RandStater interface {
	RandState() ([]byte, error)
	SetRandState([]byte) error
}

// Params holds every parameter of a plan in one flat slice, so optimisers
// and checkpoints walk one array.
type Params struct {
	Specs []plan.Param
	Off   []int     // Off[i] is where Specs[i] starts in Data
	Data  []float32 // values
	Grad  []float32 // gradients (training plans), same layout
}

// Value returns parameter i's values.
func (p *Params) Value(i int) []float32 {
	return p.Data[p.Off[i] : p.Off[i]+int(p.Specs[i].Elems())]
}

// Gradient returns parameter i's gradient.
func (p *Params) Gradient(i int) []float32 {
	return p.Grad[p.Off[i] : p.Off[i]+int(p.Specs[i].Elems())]
}

// NewParams lays out the plan's parameters.
func NewParams(specs []plan.Param, withGrad bool) *Params {
	p := &Params{Specs: specs, Off: make([]int, len(specs))}
	n := 0
	for i, s := range specs {
		p.Off[i] = n
		n += int(s.Elems())
	}
	p.Data = make([]float32, n)
	if withGrad {
		p.Grad = make([]float32, n)
	}
	return p
}

// Init sets parameters as TF-slim does: weights from a truncated normal
// with variance scaling over fan-out (factor 2, stddev sqrt(1.3·2/fan_out)),
// BN gamma 1 and beta 0, moving mean 0 and variance 1, biases 0.
func (p *Params) Init(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x63656c6c63))
	for i, s := range p.Specs {
		v := p.Value(i)
		switch s.Kind {
		case plan.Weights:
			std := float32(1)
			if s.FanOut > 0 {
				std = float32(math.Sqrt(1.3 * 2 / float64(s.FanOut)))
			}
			for j := range v {
				x := r.NormFloat64()
				for x < -2 || x > 2 {
					x = r.NormFloat64()
				}
				v[j] = float32(x) * std
			}
		case plan.Gamma, plan.MovingVariance:
			for j := range v {
				v[j] = 1
			}
		default:
			clear(v)
		}
	}
}

// ZeroGrad clears every gradient.
func (p *Params) ZeroGrad() { clear(p.Grad) }
