package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync/atomic"
	"time"

	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/runtime/kernels"
)

// CPU is the CPU backend: Go kernels, GEMMs through a BLAS, work split
// across cores by image (or by channel for batch statistics).
type CPU struct{}

// Name says which GEMMs and vector loops the kernels run.
func (CPU) Name() string { return "cpu (" + kernels.GEMMName() + ", " + kernels.VecName() + " loops)" }

// Compile allocates every buffer, scratch area and kernel closure the
// plan needs for batches of up to batch images.
func (CPU) Compile(p *plan.Plan, batch int, opts Options) (Executable, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d: must be at least 1", batch)
	}
	if err := CheckPrecision(opts.Precision); err != nil {
		return nil, err
	}
	if opts.Precision != "" && opts.Precision != "fp32" {
		return nil, fmt.Errorf("precision %s: the CPU backend computes in fp32 only (%s needs --device cuda)", opts.Precision, opts.Precision)
	}
	opts = opts.WithDefaults(goruntime.GOMAXPROCS(0))
	params := NewParams(p.Params, p.Training)
	params.Init(opts.Seed)
	pool := newWorkers(opts.Workers, opts.SharedCores)
	e, err := newCPUExec(p, batch, opts, params, pool, nil)
	if err != nil {
		pool.close()
		return nil, err
	}
	if e.perImage && pool.n > 1 {
		// The images a batch leaves over when it is split evenly across
		// the workers (all of a batch of one) run one at a time with
		// their launches spread across the workers (launchDAG), through
		// an executable for one image whose buffers are renamed so that
		// launches need not wait for others only because they reuse a
		// buffer. Each buffer gets imageCopies copies: for 6@768 three
		// already give the two-worker schedule of unlimited copies (1.5×
		// faster than the plan's own buffers), and more would add only
		// memory and cold caches.
		const imageCopies = 4
		one := renameBuffers(p, imageCopies)
		e.single, err = newCPUExec(one, 1, opts, params, pool, e)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.single.dag = newLaunchDAG(e.single, launchDeps(one))
	}
	return e, nil
}

// newCPUExec builds an executable of p for batch images over the given
// parameters and worker pool. With outer set it is outer's one-image
// executable (CPU.Compile): it shares outer's packed weights, scratch
// and worker buffers, and gives every fused launch's intermediates
// buffers of their own, since its launches run at the same time.
func newCPUExec(p *plan.Plan, batch int, opts Options, params *Params, pool *workers, outer *cpuExec) (*cpuExec, error) {
	e := &cpuExec{
		p:      p,
		batch:  batch,
		opts:   opts,
		params: params,
		pool:   pool,
		masks:  NewMasks(opts.Seed),
		train:  p.Training,
		outer:  outer,
	}
	e.perImage = perImagePlan(p)
	if e.perImage {
		e.logits = make([]float32, batch*p.Output.Shape.Elems())
	}
	e.bufs = make([][]float32, len(p.Buffers))
	for i, b := range p.Buffers {
		e.bufs[i] = make([]float32, int(b.Elems)*batch)
	}
	if p.Training {
		e.gbufs = make([][]float32, len(p.GradBuffers))
		for i, b := range p.GradBuffers {
			e.gbufs[i] = make([]float32, int(b.Elems)*batch)
		}
	}
	if err := e.build(); err != nil {
		return nil, err
	}
	return e, nil
}

type cpuExec struct {
	p      *plan.Plan
	batch  int
	n      int // images in the current batch
	opts   Options
	params *Params
	pool   *workers
	masks  *Masks

	bufs, gbufs [][]float32
	steps       []*cpuStep
	// Per-worker scratch (im2col) and weight-gradient partial sums.
	scratch, wpart [][]float32
	// Per-worker one-image buffers for the depthwise output of a paired
	// depthwise → pointwise conv, and its gradient.
	pairAct, pairGrad [][]float32
	// Ping-pong buffers for gradients inside fused chains.
	chainGrad [2][]float32

	// perImage says that every op of the plan works on each image alone
	// (an inference plan without random masks); then imageMajor runs the
	// whole forward pass one image at a time on each worker (see
	// bindImageMajor), and logits gathers the output.
	perImage   bool
	imageMajor func(w, lo, hi int)
	logits     []float32
	// images runs imageMajor over the first imagesN images, each worker
	// taking the next image not yet taken (imagesNext) until none is
	// left: a worker that a shared machine slows for a while then does
	// fewer images instead of keeping the other waiting at the end.
	images     func(w, lo, hi int)
	imagesNext atomic.Int32
	imagesN    int32
	// single, on a per-image plan with several workers, runs the images
	// left over from an even split one at a time, its launches spread
	// across the workers (its dag); outer is the executable a single
	// belongs to.
	single *cpuExec
	dag    *launchDAG
	outer  *cpuExec
	// modes picks how batches smaller than the worker count run.
	modes modePicker

	// packs are the ops whose weights every forward pass first packs
	// (cpuOp.packed), packFn the loop that packs them.
	packs  []*cpuOp
	packFn func(w, lo, hi int)

	// intermediates is the bytes allocated for fused steps' intermediates,
	// which the plan's Memory.Intermediates predicts (per image).
	intermediates int64

	progress float64
	closed   bool
	// train is the behaviour of the next Forward (see SetTraining).
	train bool
}

func (e *cpuExec) Params() *Params { return e.params }
func (e *cpuExec) Training() bool  { return e.p.Training }

func (e *cpuExec) SetTraining(on bool) { e.train = on && e.p.Training }

// RandState is the state of the generator that draws drop path and
// dropout masks, for a checkpoint.
func (e *cpuExec) RandState() ([]byte, error) { return e.masks.State() }

// SetRandState restores a state RandState returned.
func (e *cpuExec) SetRandState(b []byte) error {
	return e.masks.SetState(b)
}

func (e *cpuExec) Close() error {
	if !e.closed {
		e.closed = true
		e.pool.close()
	}
	return nil
}

func (e *cpuExec) tensor(v plan.View) kernels.Tensor {
	stride := v.Stride
	if e.perImage {
		// Every view of a buffer gets the same block per image (the
		// buffer's size per image), so that one image's tensors never
		// overlap another's: an image runs the whole network while the
		// others are at other steps (bindImageMajor), and a plan's
		// buffers are shared by tensors of different sizes over time.
		stride = int(e.p.Buffers[v.Buffer].Elems)
	}
	return kernels.Tensor{Data: e.bufs[v.Buffer], Off: v.Offset, Stride: stride, N: e.batch, S: kshape(v.Shape)}
}

func (e *cpuExec) gradTensor(v plan.View) kernels.Tensor {
	return kernels.Tensor{Data: e.gbufs[v.Buffer], Off: v.Offset, Stride: v.Stride, N: e.batch, S: kshape(v.Shape)}
}

func kshape(s ir.Shape) kernels.Shape { return kernels.Shape{C: s.C, H: s.H, W: s.W} }

// Forward runs the plan.
func (e *cpuExec) Forward(x []float32, n int, progress float64) ([]float32, []float32) {
	if n > e.batch {
		n = e.batch
	}
	e.n, e.progress = n, progress
	in := e.tensor(e.p.Input)
	for i := 0; i < n; i++ {
		copy(in.Img(i), x[i*in.S.Elems():(i+1)*in.S.Elems()])
	}
	// The weights may have changed since the last pass (an optimiser
	// step, a checkpoint loaded): packing them all costs less than one
	// image's products (13 MiB copied for 6@768), and every image of the
	// batch then reads them. (Inference plans repack only weights that
	// changed, see packWeights.) A batch smaller than the worker count
	// runs all its images through the one-image executable, whose
	// launches check their own weights as they come (packOwner): the
	// compare then overlaps other launches instead of holding all
	// workers before the first.
	// Such a batch may also run one image per worker instead, when that
	// has been faster lately (modePicker).
	spread := e.single != nil
	small := spread && n < e.pool.n
	var start time.Time
	if small {
		spread = e.modes.spread()
		start = time.Now()
	}
	packEach := small && spread
	if len(e.packs) > 0 && !packEach {
		e.pool.run(len(e.packs), e.packFn)
	}
	if e.single != nil {
		e.single.dag.packs = packEach
	}
	switch {
	case spread:
		// Whole rounds of images one per worker, then the rest one at a
		// time across all workers.
		k := n / e.pool.n * e.pool.n
		e.runImages(k)
		for i := k; i < n; i++ {
			e.single.forwardImage(e, i)
		}
	case e.imageMajor != nil:
		e.runImages(n)
	default:
		for _, s := range e.steps {
			for _, op := range s.ops {
				op.forward(e)
			}
		}
	}
	if small {
		e.modes.record(spread, time.Since(start)/time.Duration(max(n, 1)))
	}
	out := e.tensor(e.p.Output)
	logits := out.Data[:n*out.S.Elems()]
	if e.perImage {
		logits = e.logits[:n*out.S.Elems()]
		for i := 0; i < n; i++ {
			copy(logits[i*out.S.Elems():], out.Img(i))
		}
	}
	var aux []float32
	if e.p.AuxOutput != nil {
		a := e.tensor(*e.p.AuxOutput)
		aux = a.Data[a.Off : a.Off+n*a.S.Elems()]
	}
	return logits, aux
}

// forwardImage runs image i of outer's input through the one-image
// executable e (outer.single) and leaves its output where outer's own
// pass would have.
func (e *cpuExec) forwardImage(outer *cpuExec, i int) {
	copy(e.tensor(e.p.Input).Img(0), outer.tensor(outer.p.Input).Img(i))
	e.dag.forward(e.pool)
	copy(outer.tensor(outer.p.Output).Img(i), e.tensor(e.p.Output).Img(0))
}

// Backward runs the reverse schedule.
func (e *cpuExec) Backward(dLogits, dAux []float32) {
	if !e.p.Training {
		return
	}
	n := e.n
	g := e.gradTensor(*e.p.OutputGrad)
	copy(g.Data[g.Off:g.Off+n*g.S.Elems()], dLogits)
	if e.p.AuxOutputGrad != nil {
		ga := e.gradTensor(*e.p.AuxOutputGrad)
		if dAux != nil {
			copy(ga.Data[ga.Off:ga.Off+n*ga.S.Elems()], dAux)
		} else {
			clear(ga.Data[ga.Off : ga.Off+n*ga.S.Elems()])
		}
	}
	for _, gs := range e.p.Backward {
		s := e.steps[gs.Forward]
		s.backward(e)
	}
}

// cpuStep is one plan step: its ops run in order, intermediates in
// step-private buffers.
type cpuStep struct {
	step *plan.Launch
	ops  []*cpuOp
}

func (s *cpuStep) backward(e *cpuExec) {
	for k := len(s.ops) - 1; k >= 0; k-- {
		s.ops[k].backward(e)
	}
}

func (e *cpuExec) build() error {
	maxScratch, maxW, maxChain, maxPair := 0, 0, 0, 0
	// Inference needs a fused chain's intermediates only until the next op
	// of the chain has read them, so every chain shares two ping-pong
	// buffers; training keeps them for the backward pass.
	var shared [2][]float32
	private := e.p.Training || e.outer != nil
	if !private {
		for _, st := range e.p.Launches {
			for _, o := range st.Ops[:len(st.Ops)-1] {
				maxChain = max(maxChain, o.Shape.Elems())
			}
		}
		shared[0] = make([]float32, maxChain*e.batch)
		shared[1] = make([]float32, maxChain*e.batch)
		e.intermediates += int64(8 * maxChain * e.batch)
	}
	for i := range e.p.Launches {
		st := &e.p.Launches[i]
		cs := &cpuStep{step: st}
		var prev kernels.Tensor
		// The plan decides what fuses (plan.OpExec, compiler/plan/fusion.go):
		// a fused ReLU's conv applies it while reading each image
		// (depthwise ones while copying their padded planes) and
		// back-propagates through its mask; a paired depthwise conv's
		// output lives in a one-image worker buffer, still in cache when
		// the pointwise conv reads it, and is recomputed in backward; an
		// in-place batch norm normalises its conv's output where it lies
		// and back-propagates from its own output, and a chain's last conv
		// writes straight into the step's output.
		fuseReLU := func(k int) bool { return st.Exec[k].ReLUIntoNext }
		paired := func(k int) bool { return st.Exec[k].PairedIntoNext }
		bnInPlace := func(k int) bool { return k+1 < len(st.Ops) && st.Exec[k+1].InPlace }
		for k, o := range st.Ops {
			op := &cpuOp{kind: o.Kind, attrs: o.Attrs, params: st.Params[k], last: k == len(st.Ops)-1}
			op.accumulate = op.last && st.Accumulate
			if k == 0 {
				for _, v := range st.Inputs {
					op.ins = append(op.ins, e.tensor(v))
				}
			} else {
				op.ins = []kernels.Tensor{prev}
			}
			switch {
			case fuseReLU(k):
				// No buffer: the conv after it applies it.
				op.out = kernels.Tensor{N: e.batch, S: kshape(o.Shape)}
				op.fusedInto = true
			case paired(k):
				// No buffer: the pointwise conv computes this per image.
				op.out = kernels.Tensor{N: e.batch, S: kshape(o.Shape)}
				op.pairedInto = true
				maxPair = max(maxPair, kernels.PairActLen(kshape(o.Shape)))
			case k > 0 && bnInPlace(k-1):
				op.out, op.bnInPlace = prev, true
				// The conv computes each image's moments as it writes
				// it, still in cache; the batch norm only merges them.
				c := o.Shape.C
				op.imgMean, op.imgM2 = make([]float64, e.batch*c), make([]float64, e.batch*c)
				cs.ops[k-1].momentsTo = op
			case op.last || bnInPlace(k) && k+1 == len(st.Ops)-1:
				op.out = e.tensor(st.Output)
			default:
				s := kshape(o.Shape)
				buf := shared[k%2]
				if private {
					buf = make([]float32, s.Elems()*e.batch)
					e.intermediates += int64(4 * len(buf))
				}
				op.out = kernels.Dense(buf, e.batch, s)
				if e.perImage {
					// One block per image for every op of every chain, as
					// for the plan's buffers (see tensor).
					op.out.Stride = len(buf) / e.batch
				}
				maxChain = max(maxChain, s.Elems())
			}
			if k > 0 {
				maxChain = max(maxChain, op.ins[0].S.Elems())
			}
			if k > 0 && fuseReLU(k-1) {
				op.reluFused = true
				op.ins = []kernels.Tensor{cs.ops[k-1].ins[0]}
			}
			if k > 0 && paired(k-1) {
				op.pairDW = cs.ops[k-1]
			}
			if e.outer != nil {
				// outer packs these weights at the start of its Forward,
				// before it runs this executable, or has the launch
				// that reads them pack them (launchDAG.packs).
				op.packOwner = e.outer.steps[i].ops[k]
				op.packed = op.packOwner.packed
			}
			if err := op.prepare(e); err != nil {
				return fmt.Errorf("step s%d (%s): %v", st.ID, st.Scope, err)
			}
			maxScratch = max(maxScratch, op.scratchLen)
			for _, pid := range op.params {
				if e.p.Params[pid].Trainable {
					maxW = max(maxW, int(e.p.Params[pid].Elems()))
				}
			}
			cs.ops = append(cs.ops, op)
			prev = op.out
		}
		e.steps = append(e.steps, cs)
	}
	if e.outer != nil {
		// The same ops as outer's: the same sizes. The two never run at
		// once.
		maxScratch, maxPair = 0, 0
	}
	e.scratch = make([][]float32, e.pool.n)
	e.wpart = make([][]float32, e.pool.n)
	e.pairAct = make([][]float32, e.pool.n)
	e.pairGrad = make([][]float32, e.pool.n)
	for w := range e.pairAct {
		e.pairAct[w] = make([]float32, maxPair)
		e.pairGrad[w] = make([]float32, maxPair)
	}
	for w := range e.scratch {
		e.scratch[w] = make([]float32, maxScratch)
		if e.p.Training {
			e.wpart[w] = make([]float32, 2*maxW)
		}
	}
	if e.p.Training {
		e.chainGrad[0] = make([]float32, maxChain*e.batch)
		e.chainGrad[1] = make([]float32, maxChain*e.batch)
		e.intermediates += int64(8 * maxChain * e.batch)
		// Wire each op's gradient tensors: the step's own gradient views
		// at the ends of the chain, ping-pong buffers inside it.
		for _, gs := range e.p.Backward {
			s := e.steps[gs.Forward]
			last := len(s.ops) - 1
			for k, op := range s.ops {
				if k == last {
					op.dout = e.gradTensor(gs.OutGrad)
				} else {
					op.dout = kernels.Dense(e.chainGrad[k%2], e.batch, op.out.S)
				}
				if k == 0 {
					op.dins = make([]kernels.Tensor, len(gs.InGrads))
					op.acc = append([]bool(nil), gs.Accumulate...)
					for j, v := range gs.InGrads {
						if v != nil {
							op.dins[j] = e.gradTensor(*v)
						}
					}
				} else if op.reluFused {
					// The conv finishes the ReLU's backward itself, into
					// the ReLU's input gradient.
					op.dins, op.acc = s.ops[k-1].dins, s.ops[k-1].acc
				} else {
					op.dins = []kernels.Tensor{kernels.Dense(e.chainGrad[(k+1)%2], e.batch, op.ins[0].S)}
					op.acc = []bool{false}
				}
			}
		}
	}
	if e.p.Training {
		e.wireDXSums()
	}
	for _, s := range e.steps {
		for _, op := range s.ops {
			op.bind(e)
			if (op.packed != nil || op.packedT != nil) && e.outer == nil {
				if !e.p.Training {
					op.packedFrom = make([]float32, len(e.params.Value(op.params[0])))
				}
				e.packs = append(e.packs, op)
			}
		}
	}
	e.packFn = func(_, lo, hi int) {
		for _, op := range e.packs[lo:hi] {
			op.packWeights(e)
		}
	}
	if e.outer != nil {
		e.scratch, e.pairAct, e.pairGrad = e.outer.scratch, e.outer.pairAct, e.outer.pairGrad
	}
	e.bindImageMajor()
	return nil
}

// wireDXSums gives each in-place training batch norm whose output one
// conv reads (through a fused ReLU or not), and whose whole output
// gradient that conv alone writes, the conv as the source of its
// backward sums (cpuOp.dxSumsTo): each image's sums are then taken while
// its gradient is still in cache, instead of in a pass over the batch.
// In NASNet that is the first half of every separable conv, whose batch
// norm ends a step and whose ReLU → depthwise conv starts the next.
func (e *cpuExec) wireDXSums() {
	type writer struct {
		op *cpuOp
		j  int
	}
	// The ops that write each gradient step's input gradients (a fused
	// ReLU's conv writes the ReLU's).
	writers := make([][]writer, len(e.p.Backward))
	at := make(map[int]int, len(e.p.Backward)) // forward step → backward position
	for b, gs := range e.p.Backward {
		at[gs.Forward] = b
		for _, op := range e.steps[gs.Forward].ops {
			if op.fusedInto {
				continue
			}
			for j, d := range op.dins {
				if d.Data != nil && !inChain(e, d) {
					writers[b] = append(writers[b], writer{op, j})
				}
			}
		}
	}
	for _, gs := range e.p.Backward {
		s := e.steps[gs.Forward]
		bn := s.ops[len(s.ops)-1]
		if bn.kind != ir.BatchNorm || !bn.bnInPlace || bn.dout.Data == nil {
			continue
		}
		// The gradient buffers are shared by liveness: the writers of
		// this value's gradient are those that ran since the one that
		// wrote it first (without accumulating).
		var found []writer
	scan:
		for b := at[gs.Forward] - 1; b >= 0; b-- {
			for _, w := range writers[b] {
				if overlaps(w.op.dins[w.j], bn.dout) {
					found = append(found, w)
					if !w.op.acc[w.j] {
						break scan
					}
				}
			}
		}
		if len(found) != 1 {
			continue
		}
		c, j := found[0].op, found[0].j
		if c.kind != ir.Conv && c.kind != ir.DWConv || j != 0 || c.acc[0] ||
			!sameView(c.dins[0], bn.dout) || !sameView(c.ins[0], bn.out) {
			continue
		}
		c.dxSumsTo = bn
		bn.imgDySum = make([]float64, e.batch*bn.out.S.C)
		bn.imgDyDev = make([]float64, e.batch*bn.out.S.C)
	}
}

// inChain reports whether a gradient tensor is one of the ping-pong
// buffers inside a step's chain rather than a plan gradient buffer.
func inChain(e *cpuExec, t kernels.Tensor) bool {
	for _, b := range e.chainGrad {
		if len(b) > 0 && &t.Data[0] == &b[0] {
			return true
		}
	}
	return false
}

// sameView reports whether two tensors are the same view of the same
// buffer.
func sameView(a, b kernels.Tensor) bool {
	return len(a.Data) > 0 && len(b.Data) > 0 && &a.Data[0] == &b.Data[0] &&
		a.Off == b.Off && a.Stride == b.Stride && a.S == b.S
}

// overlaps reports whether two views of a buffer may share elements:
// their first images' ranges meet, or their strides differ.
func overlaps(a, b kernels.Tensor) bool {
	if len(a.Data) == 0 || len(b.Data) == 0 || &a.Data[0] != &b.Data[0] {
		return false
	}
	if a.Stride != b.Stride {
		return true
	}
	return a.Off < b.Off+b.S.Elems() && b.Off < a.Off+a.S.Elems()
}

// bindImageMajor sets imageMajor when the plan is an inference plan whose
// every op works on each image alone (no batch statistics, no random
// masks): then each worker takes its images through the whole network
// one at a time, and an image's activations stay in the core's caches
// from one op to the next instead of the whole batch streaming through
// memory at every op. The results are the same bit for bit: each image
// sees the same kernels in the same order.
func (e *cpuExec) bindImageMajor() {
	if !e.perImage {
		return
	}
	var ops []*cpuOp
	for _, s := range e.steps {
		for _, op := range s.ops {
			if op.fusedInto || op.pairedInto {
				continue
			}
			ops = append(ops, op)
		}
	}
	e.imageMajor = func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			for _, op := range ops {
				op.fwd(w, i, i+1)
			}
		}
	}
	e.images = func(w, _, _ int) {
		for {
			i := int(e.imagesNext.Add(1)) - 1
			if i >= int(e.imagesN) {
				return
			}
			e.imageMajor(w, i, i+1)
		}
	}
}

// runImages takes the first n images through the whole network, one
// image at a time on each worker (see images).
func (e *cpuExec) runImages(n int) {
	if n <= 0 {
		return
	}
	e.imagesNext.Store(0)
	e.imagesN = int32(n)
	e.pool.run(min(e.pool.n, n), e.images)
}

// perImagePlan reports whether every op of the plan computes each image
// from that image alone: an inference plan (batch norms folded or using
// moving statistics) without dropout or drop path, which draw masks for
// the whole batch first.
func perImagePlan(p *plan.Plan) bool {
	if p.Training {
		return false
	}
	for _, st := range p.Launches {
		for _, o := range st.Ops {
			if o.Kind == ir.Dropout || o.Kind == ir.DropPath {
				return false
			}
		}
	}
	return p.AuxOutput == nil
}
