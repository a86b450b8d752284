package runtime

import (
	"errors"
	"fmt"
	"math"

	"cellc/runtime/kernels"
)

// ErrDiverged is wrapped by the error Stepper.Train returns when the loss
// is not finite. The run cannot go on, but for some callers it is an
// outcome rather than a failure (an architecture search records the child
// as failed and carries on); they test for it with errors.Is.
var ErrDiverged = errors.New("training diverged")

// Stepper runs training and evaluation steps on an executable: the loss
// (softmax cross-entropy with label smoothing, plus the aux head's
// weighted loss), backward, and the optimiser update.
type Stepper struct {
	Exec    Executable
	Opt     *Optimizer
	Recipe  Recipe
	Classes int

	dlogits, daux []float32
}

// NewStepper prepares loss buffers for batches of up to batch images.
func NewStepper(exec Executable, opt *Optimizer, r Recipe, classes, batch int) *Stepper {
	return &Stepper{Exec: exec, Opt: opt, Recipe: r, Classes: classes,
		dlogits: make([]float32, batch*classes), daux: make([]float32, batch*classes)}
}

// StepResult is what one step measured.
type StepResult struct {
	Loss     float64 // main head's mean cross-entropy
	AuxLoss  float64
	Correct1 int
	Correct5 int
	GradNorm float64
	LR       float64
}

// Train runs one training step on n images at the given point of training
// (fractional epoch) and training progress in [0,1].
func (s *Stepper) Train(x []float32, labels []int, n int, epoch, progress float64) (res StepResult, err error) {
	defer CatchDeviceError(&err)
	dev, resident := s.Exec.(Resident)
	if !resident {
		// A resident executable's backward overwrites its device's
		// gradients.
		s.Exec.Params().ZeroGrad()
	}
	s.Exec.SetTraining(true)
	logits, aux := s.Exec.Forward(x, n, progress)
	k := s.Classes
	res.Loss, res.Correct1, res.Correct5 = kernels.SoftmaxCrossEntropy(logits, n, k, labels, float32(s.Recipe.LabelSmoothing), s.dlogits[:n*k], 1)
	var daux []float32
	if aux != nil && s.Recipe.AuxWeight > 0 {
		res.AuxLoss, _, _ = kernels.SoftmaxCrossEntropy(aux, n, k, labels, float32(s.Recipe.LabelSmoothing), s.daux[:n*k], float32(s.Recipe.AuxWeight))
		daux = s.daux[:n*k]
	}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return res, fmt.Errorf("%w: loss is %v", ErrDiverged, res.Loss)
	}
	s.Exec.Backward(s.dlogits[:n*k], daux)
	res.LR = s.Recipe.LRAt(epoch)
	if resident {
		if res.GradNorm, err = dev.ApplyOptimizer(s.Opt, res.LR); err != nil {
			return res, err
		}
		return res, nil
	}
	res.GradNorm = s.Opt.Apply(res.LR)
	return res, nil
}

// PullState brings the host's parameters and optimiser slots up to date
// (for a checkpoint); a no-op unless the executable is Resident.
func (s *Stepper) PullState() error {
	if r, ok := s.Exec.(Resident); ok {
		return r.PullState(s.Opt)
	}
	return nil
}

// PushState sends parameters and optimiser slots the host changed (a
// restored checkpoint) to the device; a no-op unless Resident.
func (s *Stepper) PushState() error {
	if r, ok := s.Exec.(Resident); ok {
		return r.PushState(s.Opt)
	}
	return nil
}

// SwapEMA exchanges the parameters with their moving average wherever
// they live (Optimizer.SwapEMA; call twice to swap back).
func (s *Stepper) SwapEMA() error {
	if s.Opt == nil || s.Opt.Slots["ema"] == nil {
		return nil
	}
	if err := s.PullState(); err != nil {
		return err
	}
	s.Opt.SwapEMA()
	return s.PushState()
}

// Eval runs the network in evaluation mode on n images and scores it.
func (s *Stepper) Eval(x []float32, labels []int, n int) (res StepResult, err error) {
	defer CatchDeviceError(&err)
	s.Exec.SetTraining(false)
	logits, _ := s.Exec.Forward(x, n, 1)
	res.Loss, res.Correct1, res.Correct5 = kernels.SoftmaxCrossEntropy(logits, n, s.Classes, labels, 0, s.dlogits[:n*s.Classes], 1)
	return res, nil
}
