// Package train runs the paper's training recipes on a runtime backend:
// the epoch loop over a data loader, validation, metrics (JSONL and a PNG
// of the curves), progress display, and checkpoints written atomically
// every epoch and on interrupt, from which training resumes exactly.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"cellc/compiler/plan"
	"cellc/runtime"
	"cellc/runtime/checkpoint"
	"cellc/runtime/data"
	"cellc/runtime/metrics"
)

// Job is one training run.
type Job struct {
	Plan    *plan.Plan // a training plan
	Backend runtime.Backend
	Options runtime.Options
	Recipe  runtime.Recipe

	Train, Val, Test data.Dataset // Val and Test may be nil
	Augment          data.Augment

	// Dir receives checkpoint.safetensors, metrics.jsonl and curves.png.
	Dir    string
	Resume bool
	// Meta is stored in every checkpoint (spec text, config, network).
	Meta map[string]string

	Log      io.Writer
	Progress bool // draw progress bars (else one line per epoch)
	// MaxSteps stops after this many steps in total (0 = the recipe's
	// epochs); for tests and benchmarks. The schedules (learning rate,
	// drop path) then run their course within MaxSteps.
	MaxSteps int
	// InterruptAfter behaves as a SIGINT after this many steps in total
	// (0 = never): checkpoint, return ErrInterrupted. For tests of resume.
	InterruptAfter int64
}

// Result summarises a run.
type Result struct {
	Epochs     int
	Steps      int64
	FirstLoss  float64 // mean training loss of the first epoch run
	LastLoss   float64 // mean training loss of the last epoch run
	Val, Test  Score
	Duration   time.Duration
	Checkpoint string
}

// Score is an evaluation result.
type Score struct {
	Loss       float64
	Top1, Top5 float64
	Images     int
}

// state is what a checkpoint records besides the tensors.
type state struct {
	Epoch int   `json:"epoch"` // epochs completed
	Step  int   `json:"step"`  // steps completed within Epoch (interrupted mid-epoch)
	Total int64 `json:"total_steps"`
	// Rand is the backend's drop path / dropout generator state, when it
	// has one (runtime.RandStater).
	Rand []byte `json:"rand,omitempty"`
}

// ErrInterrupted is returned when the context was cancelled; the
// checkpoint holds the state to resume from.
var ErrInterrupted = errors.New("training interrupted; resume with --resume")

// Run trains until the recipe's epochs are done, MaxSteps is reached or
// ctx is cancelled (then it checkpoints and returns ErrInterrupted).
func Run(ctx context.Context, j Job) (Result, error) {
	var res Result
	if err := j.Recipe.Validate(); err != nil {
		return res, err
	}
	if !j.Plan.Training {
		return res, fmt.Errorf("training needs a training plan (build with --mode train)")
	}
	if j.Log == nil {
		j.Log = io.Discard
	}
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		return res, err
	}
	r := j.Recipe
	exec, err := j.Backend.Compile(j.Plan, r.BatchSize, j.Options)
	if err != nil {
		return res, err
	}
	defer exec.Close()
	params := exec.Params()
	opt := runtime.NewOptimizer(r, params)
	classes := j.Plan.Output.Shape.C
	stepper := runtime.NewStepper(exec, opt, r, classes, r.BatchSize)

	ckpt := filepath.Join(j.Dir, "checkpoint.safetensors")
	res.Checkpoint = ckpt
	st := state{}
	rs, _ := exec.(runtime.RandStater)
	if j.Resume {
		if st, err = restore(ckpt, params, opt); err != nil {
			return res, err
		}
		if rs != nil && st.Rand != nil {
			if err := rs.SetRandState(st.Rand); err != nil {
				return res, fmt.Errorf("%s: %v", ckpt, err)
			}
		}
		if err := stepper.PushState(); err != nil {
			return res, err
		}
		fmt.Fprintf(j.Log, "resuming from %s: epoch %d, step %d\n", ckpt, st.Epoch, st.Step)
	}
	loader := data.NewLoader(j.Train, data.LoaderConfig{BatchSize: r.BatchSize, Shuffle: true, Seed: r.Seed, Augment: j.Augment, DropLast: true})
	defer loader.Close()
	if err := loader.Err(); err != nil {
		return res, err
	}
	steps := loader.Steps()
	if steps == 0 {
		return res, fmt.Errorf("the training set has %d images, fewer than one batch of %d", j.Train.Len(), r.BatchSize)
	}
	total := int64(steps * r.Epochs)
	if j.MaxSteps > 0 {
		total = min(total, int64(j.MaxSteps))
	}
	log, err := metrics.OpenJSONL(filepath.Join(j.Dir, "metrics.jsonl"), j.Resume)
	if err != nil {
		return res, err
	}
	defer log.Close()
	records, _ := metrics.ReadJSONL(filepath.Join(j.Dir, "metrics.jsonl"))
	prog := metrics.NewProgress(j.Log, r.Epochs, j.Progress)
	defer prog.Finish()

	start := time.Now()
	save := func(s state) error {
		if rs != nil {
			b, err := rs.RandState()
			if err != nil {
				return err
			}
			s.Rand = b
		}
		// A GPU keeps the parameters and optimiser state on the device.
		if err := stepper.PullState(); err != nil {
			return err
		}
		return saveCheckpoint(ckpt, params, opt, s, j.Meta)
	}
	for epoch := st.Epoch; epoch < r.Epochs && st.Total < total; epoch++ {
		it := loader.EpochFrom(epoch, st.Step)
		prog.Epoch(epoch+1, steps)
		var lossSum float64
		var seen, correct, n int
		t0 := time.Now()
		for st.Total < total {
			if ctx.Err() != nil || (j.InterruptAfter > 0 && st.Total >= j.InterruptAfter) {
				it.Close()
				if err := save(st); err != nil {
					return res, err
				}
				return res, ErrInterrupted
			}
			b, ok := it.Next()
			if !ok {
				break
			}
			frac := float64(epoch) + float64(st.Step)/float64(steps)
			sr, err := stepper.Train(b.X, b.Labels, b.N, frac, float64(st.Total)/float64(total))
			if err != nil {
				it.Close()
				return res, fmt.Errorf("epoch %d, step %d: %w", epoch+1, st.Step+1, err)
			}
			st.Step++
			st.Total++
			n++
			lossSum += sr.Loss
			seen += b.N
			correct += sr.Correct1
			ips := float64(seen) / time.Since(t0).Seconds()
			prog.Step(st.Step, lossSum/float64(n), float64(correct)/float64(seen), ips)
		}
		if err := it.Err(); err != nil {
			it.Close()
			return res, err
		}
		it.Close()
		dt := time.Since(t0)
		rec := metrics.Record{Time: time.Now(), Split: metrics.Train, Epoch: float64(epoch + 1), Step: st.Total,
			Loss: lossSum / float64(max(n, 1)), Top1: float64(correct) / float64(max(seen, 1)),
			LR: r.LRAt(float64(epoch + 1)), ImagesPerSec: float64(seen) / dt.Seconds()}
		if n > 0 {
			if res.Epochs == 0 {
				res.FirstLoss = rec.Loss
			}
			res.LastLoss = rec.Loss
			res.Epochs++
		}
		recs := []metrics.Record{rec}
		if j.Val != nil {
			sc, err := evaluateEMA(stepper, j.Val, r.BatchSize)
			if err != nil {
				return res, err
			}
			res.Val = sc
			recs = append(recs, metrics.Record{Time: time.Now(), Split: metrics.Val, Epoch: float64(epoch + 1), Step: st.Total, Loss: sc.Loss, Top1: sc.Top1, Top5: sc.Top5})
			fmt.Fprintf(j.Log, "epoch %d: train loss %.4f acc %.2f%%, val loss %.4f top-1 %.2f%% top-5 %.2f%% (%.0f images/s)\n",
				epoch+1, rec.Loss, 100*rec.Top1, sc.Loss, 100*sc.Top1, 100*sc.Top5, rec.ImagesPerSec)
		}
		for _, rc := range recs {
			if err := log.Write(rc); err != nil {
				return res, err
			}
			records = append(records, rc)
		}
		if st.Step >= steps {
			st.Epoch, st.Step = epoch+1, 0
		}
		if err := save(st); err != nil {
			return res, err
		}
		if err := metrics.PlotCurves(filepath.Join(j.Dir, "curves.png"), records, "training curves"); err != nil {
			fmt.Fprintf(j.Log, "warning: plot: %v\n", err)
		}
	}
	res.Steps = st.Total
	if j.Test != nil {
		sc, err := evaluateEMA(stepper, j.Test, r.BatchSize)
		if err != nil {
			return res, err
		}
		res.Test = sc
		rc := metrics.Record{Time: time.Now(), Split: metrics.Test, Epoch: float64(st.Epoch), Step: st.Total, Loss: sc.Loss, Top1: sc.Top1, Top5: sc.Top5}
		if err := log.Write(rc); err != nil {
			return res, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// evaluateEMA evaluates with the moving average of the weights when the
// recipe keeps one (Evaluate otherwise).
func evaluateEMA(s *runtime.Stepper, ds data.Dataset, batch int) (Score, error) {
	if err := s.SwapEMA(); err != nil {
		return Score{}, err
	}
	sc, err := Evaluate(s, ds, batch)
	if err2 := s.SwapEMA(); err == nil {
		err = err2
	}
	return sc, err
}

// Evaluate scores the network on a data set in evaluation mode.
func Evaluate(s *runtime.Stepper, ds data.Dataset, batch int) (Score, error) {
	l := data.NewLoader(ds, data.LoaderConfig{BatchSize: batch})
	defer l.Close()
	if err := l.Err(); err != nil {
		return Score{}, err
	}
	it := l.Epoch(0)
	defer it.Close()
	var sc Score
	var c1, c5 int
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		r, err := s.Eval(b.X, b.Labels, b.N)
		if err != nil {
			return sc, err
		}
		sc.Loss += r.Loss * float64(b.N)
		c1 += r.Correct1
		c5 += r.Correct5
		sc.Images += b.N
	}
	if err := it.Err(); err != nil {
		return sc, err
	}
	if sc.Images > 0 {
		sc.Loss /= float64(sc.Images)
		sc.Top1 = float64(c1) / float64(sc.Images)
		sc.Top5 = float64(c5) / float64(sc.Images)
	}
	return sc, nil
}

// saveCheckpoint writes parameters, optimiser slots and the training state.
func saveCheckpoint(path string, p *runtime.Params, opt *runtime.Optimizer, st state, meta map[string]string) error {
	tensors := ParamTensors(p)
	for slot, vals := range opt.Slots {
		for i, s := range p.Specs {
			tensors = append(tensors, checkpoint.Tensor{Name: checkpoint.SlotName(s.Name, slot), Shape: s.Dims, Data: vals[p.Off[i] : p.Off[i]+int(s.Elems())]})
		}
	}
	m := map[string]string{}
	for k, v := range meta {
		m[k] = v
	}
	js, _ := json.Marshal(st)
	m[checkpoint.KeyTrainState] = string(js)
	m[checkpoint.KeyFormatVersion] = checkpoint.FormatVersion
	m["cellc.optimizer_step"] = fmt.Sprint(opt.Step)
	return checkpoint.Save(path, tensors, m)
}

// ParamTensors views the parameters as checkpoint tensors (no copy).
func ParamTensors(p *runtime.Params) []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(p.Specs))
	for i, s := range p.Specs {
		out[i] = checkpoint.Tensor{Name: s.Name, Shape: s.Dims, Data: p.Value(i)}
	}
	return out
}

// LoadParams fills p from a checkpoint's tensors by name; every parameter
// must be present with its shape.
func LoadParams(p *runtime.Params, tensors []checkpoint.Tensor, path string) error {
	byName := map[string]checkpoint.Tensor{}
	for _, t := range tensors {
		byName[t.Name] = t
	}
	for i, s := range p.Specs {
		t, ok := byName[s.Name]
		if !ok {
			return fmt.Errorf("%s: no tensor %q: the checkpoint is for a different network or config", path, s.Name)
		}
		if len(t.Data) != int(s.Elems()) {
			return fmt.Errorf("%s: tensor %q has %d values, the network needs %d", path, s.Name, len(t.Data), s.Elems())
		}
		copy(p.Value(i), t.Data)
	}
	return nil
}

func restore(path string, p *runtime.Params, opt *runtime.Optimizer) (state, error) {
	var st state
	tensors, meta, err := checkpoint.Load(path)
	if err != nil {
		return st, err
	}
	if err := LoadParams(p, tensors, path); err != nil {
		return st, err
	}
	byName := map[string]checkpoint.Tensor{}
	for _, t := range tensors {
		byName[t.Name] = t
	}
	for slot, vals := range opt.Slots {
		for i, s := range p.Specs {
			t, ok := byName[checkpoint.SlotName(s.Name, slot)]
			if !ok {
				return st, fmt.Errorf("%s: no optimiser state %q", path, checkpoint.SlotName(s.Name, slot))
			}
			copy(vals[p.Off[i]:p.Off[i]+int(s.Elems())], t.Data)
		}
	}
	if err := json.Unmarshal([]byte(meta[checkpoint.KeyTrainState]), &st); err != nil {
		return st, fmt.Errorf("%s: bad training state: %v", path, err)
	}
	fmt.Sscan(meta["cellc.optimizer_step"], &opt.Step)
	return st, nil
}
