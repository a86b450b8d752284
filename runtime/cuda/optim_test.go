package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"cellc/compiler"
	"cellc/runtime"
)

// TestResidentTraining trains a small network for a few steps through
// the Stepper on the CPU backend (the host optimiser) and on the device
// (the optimiser there, parameters never leaving it), with the CIFAR
// recipe (SGD with momentum, weight decay, clipping) and the ImageNet one
// (RMSProp, EMA, label smoothing), and compares the losses, the gradient
// norms, and after PullState the parameters and the optimiser's slots.
// Then it changes the host's parameters, pushes them, and checks that the
// device's next forward pass uses them.
func TestResidentTraining(t *testing.T) {
	b := testBackend(t)
	for _, tc := range []struct {
		name   string
		recipe runtime.Recipe
	}{{"cifar", runtime.CIFARRecipe()}, {"imagenet", runtime.ImageNetRecipe()}} {
		t.Run(tc.name, func(t *testing.T) {
			const batch, steps = 3, 3
			r := tc.recipe
			// Large enough that weight decay, clipping and the EMA each move
			// the parameters by more than the tolerances.
			r.LR, r.ClipNorm, r.WeightDecay = 0.05, 1, 0.02
			if r.EMADecay > 0 {
				r.EMADecay = 0.5
			}
			p := smallPlan(t, "../../specs/nasnet_a.cell", true, func(c *compiler.Config) { c.DropPathKeepProb = 0.8 })
			opts := runtime.Options{BatchNormDecay: 0.9, Seed: 3, Workers: 1}
			var st [2]*runtime.Stepper
			for i, be := range []runtime.Backend{runtime.CPU{}, b} {
				ex, err := be.Compile(p, batch, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer ex.Close()
				st[i] = runtime.NewStepper(ex, runtime.NewOptimizer(r, ex.Params()), r, p.Output.Shape.C, batch)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			x := make([]float32, batch*p.Input.Shape.Elems())
			labels := make([]int, batch)
			for s := 0; s < steps; s++ {
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				for i := range labels {
					labels[i] = rng.IntN(p.Output.Shape.C)
				}
				var res [2]runtime.StepResult
				for i := range st {
					var err error
					if res[i], err = st[i].Train(x, labels, batch, float64(s), float64(s)/steps); err != nil {
						t.Fatal(err)
					}
				}
				if d := math.Abs(res[1].Loss-res[0].Loss) / math.Abs(res[0].Loss); d > 1e-4 {
					t.Errorf("step %d: loss %g on the device, %g on the CPU", s, res[1].Loss, res[0].Loss)
				}
				if d := math.Abs(res[1].GradNorm-res[0].GradNorm) / res[0].GradNorm; d > 1e-3 {
					t.Errorf("step %d: gradient norm %g on the device, %g on the CPU", s, res[1].GradNorm, res[0].GradNorm)
				}
			}
			if st[1].Exec.(*executable).opt == nil {
				t.Fatal("the device executable never became resident")
			}
			if err := st[1].PullState(); err != nil {
				t.Fatal(err)
			}
			cpu, gpu := st[0].Exec.Params(), st[1].Exec.Params()
			if e, i := scaled(gpu.Data, cpu.Data); e > 1e-4 {
				t.Errorf("parameters after %d steps differ: %.3g at %d (%g vs %g)", steps, e, i, gpu.Data[i], cpu.Data[i])
			}
			for name, v := range st[0].Opt.Slots {
				if e, i := scaled(st[1].Opt.Slots[name], v); e > 1e-4 {
					t.Errorf("optimiser slot %s differs: %.3g at %d", name, e, i)
				}
			}
			if st[1].Opt.Step != steps {
				t.Errorf("optimiser step %d, want %d", st[1].Opt.Step, steps)
			}
			// The host's parameters, changed and pushed, are what the
			// device computes with.
			copy(gpu.Data, cpu.Data)
			if err := st[1].PushState(); err != nil {
				t.Fatal(err)
			}
			st[0].Exec.SetTraining(false)
			st[1].Exec.SetTraining(false)
			lc, _ := st[0].Exec.Forward(x, batch, 1)
			lg, _ := st[1].Exec.Forward(x, batch, 1)
			if e, _ := scaled(lg, lc); e > 1e-4 {
				t.Errorf("after PushState the device's logits differ from the CPU's by %.3g", e)
			}
		})
	}
}

// failing is a device whose launches fail after a while, as a GPU that
// runs out of memory or is lost would.
type failing struct {
	device
	left int
}

func (f *failing) Launch(k kernel, grid, block dim3, args []uint64) error {
	if f.left--; f.left < 0 {
		return errors.New("injected launch failure")
	}
	return f.device.Launch(k, grid, block, args)
}

// TestDeviceFailureIsAnError: a device that fails mid-step makes the
// Stepper return an error naming it, not panic.
func TestDeviceFailureIsAnError(t *testing.T) {
	b := testBackend(t)
	p := smallPlan(t, "../../specs/nasnet_a.cell", true, nil)
	fb := &Backend{dev: &failing{device: b.dev, left: 50}}
	ex, err := fb.Compile(p, 2, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	r := runtime.CIFARRecipe()
	st := runtime.NewStepper(ex, runtime.NewOptimizer(r, ex.Params()), r, p.Output.Shape.C, 2)
	x := make([]float32, 2*p.Input.Shape.Elems())
	_, err = st.Train(x, []int{0, 1}, 2, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "injected launch failure") || !strings.HasPrefix(err.Error(), "cuda: ") {
		t.Fatalf("Train: %v, want the device's error", err)
	}
	if _, err := st.Eval(x, []int{0, 1}, 2); err == nil {
		t.Error("Eval on the failed device returned no error")
	}
}
