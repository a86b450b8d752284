package cuda

import (
	"errors"
	"fmt"
	"os"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/runtime"
)

// executable is a plan compiled for the device: every buffer of the plan, the
// intermediates of fused chains, the parameters, their gradients and the
// scratch the kernels need, allocated once in Compile.
//
// Parameters live on the device. The optimiser and the checkpoints still
// work on runtime.Params on the host, so Forward uploads the parameters
// and a training Forward downloads the batch norms' moving statistics it
// updated; Backward downloads the gradients. That keeps one optimiser and
// one checkpoint format for both backends at the price of a copy of the
// parameters each way per step (13 MiB for NASNet-A 6@768).
type executable struct {
	b      *Backend
	dev    device
	k      kernelSet
	p      *plan.Plan
	batch  int
	n      int
	opts   runtime.Options
	params *runtime.Params
	masks  *runtime.Masks

	dparams, dgrads dptr
	bufs, gbufs     []dptr
	chainGrad       [2]dptr
	// work is scratch for im2col matrices and per-image weight-gradient
	// partials, the largest any conv needs.
	work   dptr
	allocs []dptr
	// intermediates is the bytes allocated for fused steps'
	// intermediates, which plan.Memory.Intermediates predicts per image.
	intermediates int64

	steps [][]*op
	// opt is the optimiser's device state once the executable is
	// resident (optim.go); nil before.
	opt    *optState
	gradTo []float32 // downloaded gradients, added into params.Grad
	out    []float32 // downloaded logits
	aux    []float32

	// Each pass's launches are captured once per batch size (and, for
	// the forward pass, mode) into a CUDA graph and replayed: one launch
	// instead of thousands. graphsOff (CELLC_CUDA_GRAPHS=0, or a capture
	// that failed: graphErr says why) runs them one by one instead.
	fwdGraphs map[graphKey]graphExec
	bwdGraphs map[graphKey]graphExec
	graphsOff bool
	graphErr  error
	captures  int

	progress float64
	train    bool
	closed   bool
}

type graphKey struct {
	n     int
	train bool
}

func newExec(b *Backend, p *plan.Plan, batch int, opts runtime.Options) (runtime.Executable, error) {
	opts = opts.WithDefaults(1)
	ks, err := loadKernels(b.dev)
	if err != nil {
		return nil, err
	}
	e := &executable{
		b: b, dev: b.dev, k: ks, p: p, batch: batch, opts: opts,
		fwdGraphs: map[graphKey]graphExec{}, bwdGraphs: map[graphKey]graphExec{},
		graphsOff: os.Getenv("CELLC_CUDA_GRAPHS") == "0",
		params:    runtime.NewParams(p.Params, p.Training),
		masks:     runtime.NewMasks(opts.Seed),
		train:     p.Training,
	}
	e.params.Init(opts.Seed)
	if err := e.build(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// alloc returns n float32 values of zeroed device memory, freed by Close.
func (e *executable) alloc(n int) (dptr, error) {
	p, err := e.dev.Alloc(int64(4 * max(n, 1)))
	if err != nil {
		return 0, err
	}
	e.allocs = append(e.allocs, p)
	return p, nil
}

// view is a tensor on the device: image i's values start at p + i·stride.
type view struct {
	p      dptr
	stride int
	s      ir.Shape
}

func (v view) elems() int { return v.s.Elems() }

func (e *executable) view(v plan.View) view {
	return view{p: e.bufs[v.Buffer].add(v.Offset), stride: v.Stride, s: v.Shape}
}

func (e *executable) gradView(v plan.View) view {
	return view{p: e.gbufs[v.Buffer].add(v.Offset), stride: v.Stride, s: v.Shape}
}

func (e *executable) build() error {
	var err error
	if e.dparams, err = e.alloc(len(e.params.Data)); err != nil {
		return err
	}
	if e.p.Training {
		if e.dgrads, err = e.alloc(len(e.params.Grad)); err != nil {
			return err
		}
		e.gradTo = make([]float32, len(e.params.Grad))
	}
	e.bufs = make([]dptr, len(e.p.Buffers))
	for i, b := range e.p.Buffers {
		if e.bufs[i], err = e.alloc(int(b.Elems) * e.batch); err != nil {
			return err
		}
	}
	if e.p.Training {
		e.gbufs = make([]dptr, len(e.p.GradBuffers))
		for i, b := range e.p.GradBuffers {
			if e.gbufs[i], err = e.alloc(int(b.Elems) * e.batch); err != nil {
				return err
			}
		}
	}
	// Sizes first: the ping-pong buffers of chain intermediates, the
	// paired depthwise convs' scratch.
	maxChain, maxPair := 0, 0
	for _, st := range e.p.Launches {
		for k, o := range st.Ops[:len(st.Ops)-1] {
			maxChain = max(maxChain, o.Shape.Elems())
			if st.Exec[k].PairedIntoNext {
				maxPair = max(maxPair, o.Shape.Elems())
			}
		}
	}
	// Inference chains share two ping-pong buffers; training keeps each
	// intermediate the plan gives a buffer, for the backward pass.
	var shared [2]dptr
	if !e.p.Training {
		for j := range shared {
			if shared[j], err = e.alloc(maxChain * e.batch); err != nil {
				return err
			}
			e.intermediates += int64(4 * maxChain * e.batch)
		}
	}
	var pairAct, pairGrad dptr
	if maxPair > 0 {
		if pairAct, err = e.alloc(maxPair * e.batch); err != nil {
			return err
		}
		if e.p.Training {
			if pairGrad, err = e.alloc(maxPair * e.batch); err != nil {
				return err
			}
		}
	}
	maxWork := 0
	for i := range e.p.Launches {
		st := &e.p.Launches[i]
		var ops []*op
		last := len(st.Ops) - 1
		for k, o := range st.Ops {
			x := &op{kind: o.Kind, attrs: o.Attrs, params: st.Params[k], scope: st.Scope, exec: st.Exec[k], accumulate: k == last && st.Accumulate}
			if x.accumulate && o.Kind != ir.Conv {
				return fmt.Errorf("step s%d (%s): %s cannot add into its output (the plan folds adds into convs only)", st.ID, st.Scope, o.Kind)
			}
			if k == 0 {
				for _, v := range st.Inputs {
					x.ins = append(x.ins, e.view(v))
				}
			} else {
				x.ins = []view{ops[k-1].out}
			}
			dense := func(p dptr) view { return view{p: p, stride: o.Shape.Elems(), s: o.Shape} }
			switch {
			case x.exec.ReLUIntoNext, x.exec.InPlace && k > 0:
				// The next op reads the ReLU's input; a batch norm in
				// place normalises its conv's output where it lies.
				x.out = x.ins[0]
			case x.exec.PairedIntoNext:
				x.out = dense(pairAct)
				x.pairGrad = dense(pairGrad)
			case x.exec.Buffer && e.p.Training:
				p, err := e.alloc(o.Shape.Elems() * e.batch)
				if err != nil {
					return err
				}
				e.intermediates += int64(4 * o.Shape.Elems() * e.batch)
				x.out = dense(p)
			case x.exec.Buffer:
				x.out = dense(shared[k%2])
			default: // the step's output, or a conv whose in-place batch norm ends the step
				x.out = e.view(st.Output)
			}
			if k > 0 && ops[k-1].exec.ReLUIntoNext {
				x.reluIn = true
				x.ins = ops[k-1].ins
			}
			if k > 0 && ops[k-1].exec.PairedIntoNext {
				x.pairDW = ops[k-1]
			}
			if x.exec.ReLUIntoNext {
				// Its input's shape, which the conv reads.
				x.out = view{p: x.ins[0].p, stride: x.ins[0].stride, s: o.Shape}
			}
			if err := x.prepare(e); err != nil {
				return fmt.Errorf("step s%d (%s): %v", st.ID, st.Scope, err)
			}
			maxWork = max(maxWork, x.workLen(e))
			ops = append(ops, x)
		}
		if ops[last].exec.ReLUIntoNext || ops[last].exec.PairedIntoNext {
			return fmt.Errorf("step s%d (%s): its last op is fused into a next op that does not exist", st.ID, st.Scope)
		}
		e.steps = append(e.steps, ops)
	}
	if e.work, err = e.alloc(maxWork); err != nil {
		return err
	}
	if !e.p.Training {
		return nil
	}
	for j := range e.chainGrad {
		if e.chainGrad[j], err = e.alloc(maxChain * e.batch); err != nil {
			return err
		}
		e.intermediates += int64(4 * maxChain * e.batch)
	}
	// Each op's gradient views: the step's own at the ends of the chain,
	// two ping-pong buffers inside it (a paired depthwise conv's in its
	// scratch). An op's input gradient is the previous op's output
	// gradient, except after a fused ReLU, whose input gradient the conv
	// writes through the ReLU's mask.
	for _, gs := range e.p.Backward {
		ops := e.steps[gs.Forward]
		last := len(ops) - 1
		for k, x := range ops {
			switch {
			case k == last:
				x.dout = e.gradView(gs.OutGrad)
			case x.exec.PairedIntoNext:
				x.dout = x.pairGrad
			default:
				x.dout = view{p: e.chainGrad[k%2], stride: x.out.s.Elems(), s: x.out.s}
			}
			switch {
			case k == 0:
				x.dins = make([]view, len(gs.InGrads))
				x.acc = append([]bool(nil), gs.Accumulate...)
				for j, v := range gs.InGrads {
					if v != nil {
						x.dins[j] = e.gradView(*v)
					}
				}
			case ops[k-1].exec.ReLUIntoNext:
				x.dins, x.acc = ops[k-1].dins, ops[k-1].acc
			default:
				d := ops[k-1].dout
				x.dins = []view{{p: d.p, stride: d.stride, s: x.ins[0].s}}
				x.acc = []bool{false}
			}
		}
	}
	return nil
}

func (e *executable) Params() *runtime.Params { return e.params }
func (e *executable) Training() bool          { return e.p.Training }
func (e *executable) SetTraining(on bool)     { e.train = on && e.p.Training }

// RandState and SetRandState save and restore the mask generator, as the
// CPU backend's do (runtime.RandStater).
func (e *executable) RandState() ([]byte, error) { return e.masks.State() }
func (e *executable) SetRandState(b []byte) error {
	return e.masks.SetState(b)
}

// Forward runs the plan. The interface has no error return, so a device
// failure panics with a runtime.DeviceError, which the Stepper and the
// CLI recover into an error (runtime.CatchDeviceError).
func (e *executable) Forward(x []float32, n int, progress float64) ([]float32, []float32) {
	if err := e.forward(x, n, progress); err != nil {
		panic(runtime.DeviceError{Err: fmt.Errorf("cuda: %w", err)})
	}
	return e.out, e.aux
}

// Backward runs the reverse schedule and adds the gradients to
// Params().Grad.
func (e *executable) Backward(dLogits, dAux []float32) {
	if err := e.backward(dLogits, dAux); err != nil {
		panic(runtime.DeviceError{Err: fmt.Errorf("cuda: %w", err)})
	}
}

func (e *executable) forward(x []float32, n int, progress float64) error {
	if e.closed {
		return errors.New("executable is closed")
	}
	// One pass at a time on the device: a graph being captured must see
	// only its own executable's work on the stream.
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	n = min(n, e.batch)
	e.n, e.progress = n, progress
	if err := e.setMath(); err != nil {
		return err
	}
	// Until the optimiser runs on the device, the host's parameters are
	// the current ones (an optimiser step or a checkpoint load may have
	// changed them).
	if e.opt == nil {
		if err := e.dev.Upload(e.dparams, e.params.Data); err != nil {
			return err
		}
	}
	in := e.view(e.p.Input)
	if err := e.uploadView(in, x[:n*in.elems()], n); err != nil {
		return err
	}
	// The masks are drawn on the host in plan order, as the CPU backend
	// draws them, and uploaded before the pass's kernels run.
	for _, ops := range e.steps {
		for _, o := range ops {
			if err := o.drawMask(e); err != nil {
				return err
			}
		}
	}
	err := e.run(e.fwdGraphs, graphKey{n, e.train}, func() error {
		for _, ops := range e.steps {
			for _, o := range ops {
				if err := o.forward(e); err != nil {
					return fmt.Errorf("%s (%s): %w", o.kind, o.scope, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if e.out, err = e.downloadView(e.out, e.view(e.p.Output), n); err != nil {
		return err
	}
	if e.p.AuxOutput != nil {
		if e.aux, err = e.downloadView(e.aux, e.view(*e.p.AuxOutput), n); err != nil {
			return err
		}
	}
	if e.train && e.opt == nil {
		// The batch norms updated their moving statistics on the device:
		// one copy of all parameters costs less than one per batch norm.
		return e.dev.Download(e.params.Data, e.dparams)
	}
	return nil
}

// setMath sets the GEMMs' math mode for this executable's precision:
// executables of different precisions may share the device, and a graph
// captures the mode its GEMMs were queued with.
func (e *executable) setMath() error {
	return e.dev.SetTF32(e.opts.Precision == "tf32")
}

// run runs a pass's launches: from its graph for key when there is one,
// else capturing them into one first. A capture that fails turns graphs
// off for the executable and runs the launches directly.
func (e *executable) run(graphs map[graphKey]graphExec, key graphKey, launches func() error) error {
	if e.graphsOff {
		return launches()
	}
	if g, ok := graphs[key]; ok {
		return e.dev.LaunchGraph(g)
	}
	if err := e.dev.BeginCapture(); err != nil {
		e.graphsOff, e.graphErr = true, err
		return launches()
	}
	runErr := launches()
	g, err := e.dev.EndCapture()
	if runErr != nil || err != nil {
		if g != 0 {
			e.dev.DestroyGraph(g)
		}
		e.graphsOff, e.graphErr = true, errors.Join(runErr, err)
		return launches()
	}
	e.captures++
	graphs[key] = g
	return e.dev.LaunchGraph(g)
}

func (e *executable) backward(dLogits, dAux []float32) error {
	if !e.p.Training {
		return nil
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	n := e.n
	if err := e.setMath(); err != nil {
		return err
	}
	if err := e.dev.Zero(e.dgrads, int64(4*len(e.params.Grad))); err != nil {
		return err
	}
	g := e.gradView(*e.p.OutputGrad)
	if err := e.uploadView(g, dLogits[:n*g.elems()], n); err != nil {
		return err
	}
	if e.p.AuxOutputGrad != nil {
		ga := e.gradView(*e.p.AuxOutputGrad)
		if dAux != nil {
			if err := e.uploadView(ga, dAux[:n*ga.elems()], n); err != nil {
				return err
			}
		} else if err := e.zeroView(ga, n); err != nil {
			return err
		}
	}
	err := e.run(e.bwdGraphs, graphKey{n: n}, func() error {
		for _, gs := range e.p.Backward {
			ops := e.steps[gs.Forward]
			for k := len(ops) - 1; k >= 0; k-- {
				if err := ops[k].backward(e); err != nil {
					return fmt.Errorf("%s (%s) backward: %w", ops[k].kind, ops[k].scope, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if e.opt != nil {
		return nil // the optimiser reads them on the device
	}
	if err := e.dev.Download(e.gradTo, e.dgrads); err != nil {
		return err
	}
	for i, v := range e.gradTo {
		e.params.Grad[i] += v
	}
	return nil
}

// uploadView copies n dense images from the host into v.
func (e *executable) uploadView(v view, x []float32, n int) error {
	s := v.elems()
	if v.stride == s {
		return e.dev.Upload(v.p, x[:n*s])
	}
	for i := 0; i < n; i++ {
		if err := e.dev.Upload(v.p.add(i*v.stride), x[i*s:(i+1)*s]); err != nil {
			return err
		}
	}
	return nil
}

// downloadView copies v's first n images to the host, densely, into dst
// (grown as needed).
func (e *executable) downloadView(dst []float32, v view, n int) ([]float32, error) {
	s := v.elems()
	if cap(dst) < e.batch*s {
		dst = make([]float32, e.batch*s)
	}
	dst = dst[:n*s]
	if v.stride == s {
		return dst, e.dev.Download(dst, v.p)
	}
	for i := 0; i < n; i++ {
		if err := e.dev.Download(dst[i*s:(i+1)*s], v.p.add(i*v.stride)); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func (e *executable) zeroView(v view, n int) error {
	return e.launch(e.k.zero, n*v.elems(), argInt(n), argInt(v.elems()), argPtr(v.p), argInt(v.stride))
}

func (e *executable) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	var first error
	for _, gs := range []map[graphKey]graphExec{e.fwdGraphs, e.bwdGraphs} {
		for _, g := range gs {
			if err := e.dev.DestroyGraph(g); err != nil && first == nil {
				first = err
			}
		}
	}
	for _, p := range e.allocs {
		if err := e.dev.Free(p); err != nil && first == nil {
			first = err
		}
	}
	e.allocs = nil
	return first
}

// param is parameter id's values on the device.
func (e *executable) param(id int) dptr { return e.dparams.add(e.params.Off[id]) }

// grad is parameter id's gradient on the device.
func (e *executable) grad(id int) dptr { return e.dgrads.add(e.params.Off[id]) }

// launch runs an elementwise kernel over total items: blocks of 256
// threads, the grid capped (the kernels loop over the rest).
func (e *executable) launch(k kernel, total int, args ...uint64) error {
	if total <= 0 {
		return nil
	}
	blocks := min((total+255)/256, 1<<16)
	return e.dev.Launch(k, d1(blocks), d1(256), args)
}

// reduce runs a reduction kernel: one block per group (capped), the
// device's reduction width of threads per block.
func (e *executable) reduce(k kernel, groups int, args ...uint64) error {
	if groups <= 0 {
		return nil
	}
	return e.dev.Launch(k, d1(min(groups, 1<<16)), d1(reduceThreads(e.dev)), args)
}

// reduceThreads is the block size of reductions: 256 on a GPU (the
// kernels' __shared__ arrays hold 256), 8 in the emulator, where each
// thread of a reducing block is a fiber and fewer fibers run faster.
func reduceThreads(d device) int {
	if _, ok := d.(*emulator); ok {
		return 8
	}
	return 256
}
