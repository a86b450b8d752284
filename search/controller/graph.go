package controller

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"cellc/search/space"
)

// Objective is the loss a Trainer differentiates.
type Objective int

const (
	// REINFORCE is Williams' rule with a baseline, as in NAS (Zoph & Le
	// 2017): loss = -mean_i(A_i log pi(a_i)) - w mean_i(H_i).
	REINFORCE Objective = iota
	// PPO is the clipped surrogate of Schulman et al. (2017), as in the
	// NASNet paper: with r_i = exp(log pi(a_i) - log pi_old(a_i)),
	// loss = -mean_i(min(r_i A_i, clip(r_i, 1-eps, 1+eps) A_i)) - w mean_i(H_i).
	PPO
)

func (o Objective) String() string {
	if o == PPO {
		return "ppo"
	}
	return "reinforce"
}

// Loss configures a Trainer's objective.
type Loss struct {
	Objective Objective
	// Clip is PPO's epsilon.
	Clip float64
	// EntropyWeight weighs the entropy bonus: the loss subtracts
	// EntropyWeight times the mean (over the batch) of the summed
	// per-step entropies, so a positive weight encourages exploration
	// (the paper's "entropy penalty").
	EntropyWeight float64
}

// Batch is one minibatch of sampled architectures to learn from.
type Batch struct {
	Archs      []space.Arch
	Advantages []float64 // reward minus baseline, per architecture
	OldLogProb []float64 // PPO: log pi_old(a_i) when it was sampled
}

// Result is what one pass of the training graph computed.
type Result struct {
	Loss     float64
	LogProbs []float64 // log pi(a_i) under the current parameters
	Entropy  []float64 // summed per-step entropies along a_i
}

// maskValue is added to the logits of values a step cannot take; exp of it
// is exactly 0 in float64, so the masked softmax equals a softmax over the
// valid values only.
const maskValue = -1e9

// Trainer is the controller unrolled over all its steps as a gorgonia
// expression graph, for a fixed batch size and objective, with its
// gradient built by gorgonia's symbolic differentiation (Grad) and run by
// a TapeMachine. The graph is built once and reused: each call binds the
// batch's one-hot actions, advantages and old log-probabilities and the
// controller's current parameters.
type Trainer struct {
	c    *Controller
	m    int
	loss Loss

	g       *G.ExprGraph
	vm      G.VM
	params  []*G.Node       // one per parameter block, in c.blocks order
	values  []*tensor.Dense // their values, refreshed from c.flat
	grads   G.Nodes
	onehot  []*G.Node // per step, m x heads[kind]
	adv     *G.Node   // m
	old     *G.Node   // m (PPO)
	cost    *G.Node
	logp    *G.Node // m
	entropy *G.Node // m

	// The machine reuses memory, so results are copied out as the tape
	// runs (gorgonia.Read) rather than read from the nodes afterwards.
	readCost, readLogp, readEntropy G.Value
	readGrads                       []G.Value
}

// NewTrainer builds the training graph for batches of m architectures.
// Building takes a moment (thousands of nodes for the paper's 50 steps);
// keep the Trainer for the whole search.
func (c *Controller) NewTrainer(m int, loss Loss) (t *Trainer, err error) {
	if m < 1 {
		return nil, fmt.Errorf("controller: batch size must be at least 1, got %d", m)
	}
	if loss.Objective == PPO && !(loss.Clip > 0 && loss.Clip < 1) {
		return nil, fmt.Errorf("controller: PPO clip must be in (0, 1), got %g", loss.Clip)
	}
	defer func() {
		// gorgonia panics on some internal errors; a library returns them.
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("controller: building the training graph: %v", r)
		}
	}()
	t = &Trainer{c: c, m: m, loss: loss, g: G.NewGraph()}
	if err := t.build(); err != nil {
		return nil, fmt.Errorf("controller: building the training graph: %w", err)
	}
	t.vm = G.NewTapeMachine(t.g)
	return t, nil
}

// Close releases the machine.
func (t *Trainer) Close() error { return t.vm.Close() }

// BatchSize is the number of architectures per call.
func (t *Trainer) BatchSize() int { return t.m }

// builder threads the first error through a chain of graph operations, so
// that building reads top to bottom.
type builder struct {
	g   *G.ExprGraph
	err error
}

func (b *builder) op(f func() (*G.Node, error)) *G.Node {
	if b.err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		b.err = err
	}
	return n
}

func (b *builder) mul(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Mul(x, y) })
}
func (b *builder) add(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Add(x, y) })
}
func (b *builder) sub(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Sub(x, y) })
}
func (b *builder) prod(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.HadamardProd(x, y) })
}
func (b *builder) sigmoid(x *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Sigmoid(x) })
}
func (b *builder) tanh(x *G.Node) *G.Node { return b.op(func() (*G.Node, error) { return G.Tanh(x) }) }
func (b *builder) exp(x *G.Node) *G.Node  { return b.op(func() (*G.Node, error) { return G.Exp(x) }) }
func (b *builder) neg(x *G.Node) *G.Node  { return b.op(func() (*G.Node, error) { return G.Neg(x) }) }
func (b *builder) mean(x *G.Node) *G.Node { return b.op(func() (*G.Node, error) { return G.Mean(x) }) }
func (b *builder) rowSum(x *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Sum(x, 1) })
}
func (b *builder) logSoftmax(x *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.LogSoftMax(x, 1) })
}
func (b *builder) minimum(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.MinBetween(x, y) })
}
func (b *builder) maximum(x, y *G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.MaxBetween(x, y) })
}
func (b *builder) scale(x *G.Node, k float64) *G.Node {
	return b.op(func() (*G.Node, error) { return G.Mul(x, G.NewConstant(k)) })
}
func (b *builder) sum(xs []*G.Node) *G.Node {
	return b.op(func() (*G.Node, error) { return G.ReduceAdd(xs) })
}

// constMatrix is a matrix input bound once to a fixed value.
func (b *builder) constMatrix(name string, rows, cols int, fill func(i, j int) float64) *G.Node {
	data := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			data[i*cols+j] = fill(i, j)
		}
	}
	v := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
	return G.NewMatrix(b.g, tensor.Float64, G.WithShape(rows, cols), G.WithName(name), G.WithValue(v))
}

func (b *builder) vector(name string, n int, fill float64) *G.Node {
	data := make([]float64, n)
	for i := range data {
		data[i] = fill
	}
	v := tensor.New(tensor.WithShape(n), tensor.WithBacking(data))
	return G.NewVector(b.g, tensor.Float64, G.WithShape(n), G.WithName(name), G.WithValue(v))
}

func (t *Trainer) build() error {
	c, m, U := t.c, t.m, t.c.units
	b := &builder{g: t.g}
	byName := map[string]*G.Node{}
	for _, blk := range c.blocks {
		v := tensor.New(tensor.WithShape(blk.rows, blk.cols), tensor.WithBacking(append([]float64(nil), blk.of(c.flat)...)))
		n := G.NewMatrix(t.g, tensor.Float64, G.WithShape(blk.rows, blk.cols), G.WithName(blk.name), G.WithValue(v))
		t.params = append(t.params, n)
		t.values = append(t.values, v)
		byName[blk.name] = n
	}
	p := func(blk block) *G.Node { return byName[blk.name] }
	ones := b.constMatrix("ones", m, 1, func(int, int) float64 { return 1 })
	// bias broadcasts a 1 x n row to m x n.
	bias := func(row *G.Node) *G.Node { return b.mul(ones, row) }

	h := b.constMatrix("h0", m, U, func(int, int) float64 { return 0 })
	cell := b.constMatrix("c0", m, U, func(int, int) float64 { return 0 })
	x := bias(p(c.goEmb))
	var logps, ents []*G.Node
	for s, st := range c.steps {
		var z [4]*G.Node
		for g := range z {
			z[g] = b.add(b.add(b.mul(x, p(c.w[g])), b.mul(h, p(c.u[g]))), bias(p(c.b[g])))
		}
		i, f, gg, o := b.sigmoid(z[0]), b.sigmoid(z[1]), b.tanh(z[2]), b.sigmoid(z[3])
		cell = b.add(b.prod(f, cell), b.prod(i, gg))
		h = b.prod(o, b.tanh(cell))

		w := c.heads[st.Kind]
		mask := b.constMatrix(fmt.Sprintf("mask%d", s), m, w, func(_, j int) float64 {
			if j < st.Choices {
				return 0
			}
			return maskValue
		})
		logits := b.add(b.add(b.mul(h, p(c.headW[st.Kind])), bias(p(c.headB[st.Kind]))), mask)
		lsm := b.logSoftmax(logits)
		oh := G.NewMatrix(t.g, tensor.Float64, G.WithShape(m, w), G.WithName(fmt.Sprintf("action%d", s)),
			G.WithValue(tensor.New(tensor.WithShape(m, w), tensor.Of(tensor.Float64))))
		t.onehot = append(t.onehot, oh)
		logps = append(logps, b.rowSum(b.prod(oh, lsm)))
		ents = append(ents, b.neg(b.rowSum(b.prod(b.exp(lsm), lsm))))
		// The next input is the embedding of this decision.
		if s < len(c.steps)-1 {
			x = b.mul(oh, p(c.emb[table(st.Kind)]))
		}
	}
	t.logp = b.sum(logps)
	t.entropy = b.sum(ents)
	t.adv = b.vector("advantage", m, 0)
	var surrogate *G.Node
	switch t.loss.Objective {
	case REINFORCE:
		surrogate = b.prod(t.adv, t.logp)
	case PPO:
		t.old = b.vector("old_logp", m, 0)
		ratio := b.exp(b.sub(t.logp, t.old))
		lo, hi := b.vector("clip_lo", m, 1-t.loss.Clip), b.vector("clip_hi", m, 1+t.loss.Clip)
		clipped := b.minimum(b.maximum(ratio, lo), hi)
		surrogate = b.minimum(b.prod(ratio, t.adv), b.prod(clipped, t.adv))
	default:
		return fmt.Errorf("unknown objective %d", t.loss.Objective)
	}
	cost := b.neg(b.mean(surrogate))
	if t.loss.EntropyWeight != 0 {
		cost = b.sub(cost, b.scale(b.mean(t.entropy), t.loss.EntropyWeight))
	}
	if b.err != nil {
		return b.err
	}
	t.cost = cost
	grads, err := G.Grad(cost, t.params...)
	if err != nil {
		return err
	}
	t.grads = grads
	G.Read(t.cost, &t.readCost)
	G.Read(t.logp, &t.readLogp)
	G.Read(t.entropy, &t.readEntropy)
	t.readGrads = make([]G.Value, len(grads))
	for i, gn := range grads {
		G.Read(gn, &t.readGrads[i])
	}
	return nil
}

// Gradient runs the graph on a batch with the controller's current
// parameters and writes d loss / d params into grad (laid out like
// Controller.Params). It returns the loss and the per-architecture
// log-probabilities and entropies the graph computed.
func (t *Trainer) Gradient(batch Batch, grad []float64) (res Result, err error) {
	c := t.c
	if len(grad) != len(c.flat) {
		return res, fmt.Errorf("controller: gradient buffer has %d entries, want %d", len(grad), len(c.flat))
	}
	if len(batch.Archs) != t.m || len(batch.Advantages) != t.m {
		return res, fmt.Errorf("controller: batch of %d architectures and %d advantages, want %d", len(batch.Archs), len(batch.Advantages), t.m)
	}
	if t.loss.Objective == PPO && len(batch.OldLogProb) != t.m {
		return res, fmt.Errorf("controller: PPO needs %d old log-probabilities, got %d", t.m, len(batch.OldLogProb))
	}
	for i, a := range batch.Archs {
		if len(a) != len(c.steps) {
			return res, fmt.Errorf("controller: architecture %d has %d decisions, want %d", i, len(a), len(c.steps))
		}
		for s, st := range c.steps {
			if a[s] < 0 || a[s] >= st.Choices {
				return res, fmt.Errorf("controller: architecture %d: decision %d is %d, want 0..%d", i, s, a[s], st.Choices-1)
			}
		}
		if math.IsNaN(batch.Advantages[i]) || math.IsInf(batch.Advantages[i], 0) {
			return res, fmt.Errorf("controller: advantage %d is %g", i, batch.Advantages[i])
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("controller: running the training graph: %v", r)
		}
	}()
	// Values are bound with Let before every run: the machine must see
	// the current parameters and this batch.
	for i, blk := range c.blocks {
		copy(t.values[i].Data().([]float64), blk.of(c.flat))
		if err := G.Let(t.params[i], t.values[i]); err != nil {
			return res, err
		}
	}
	for s, oh := range t.onehot {
		w := c.heads[c.steps[s].Kind]
		data := make([]float64, t.m*w)
		for i, a := range batch.Archs {
			data[i*w+a[s]] = 1
		}
		if err := G.Let(oh, tensor.New(tensor.WithShape(t.m, w), tensor.WithBacking(data))); err != nil {
			return res, err
		}
	}
	if err := G.Let(t.adv, tensor.New(tensor.WithShape(t.m), tensor.WithBacking(append([]float64(nil), batch.Advantages...)))); err != nil {
		return res, err
	}
	if t.old != nil {
		if err := G.Let(t.old, tensor.New(tensor.WithShape(t.m), tensor.WithBacking(append([]float64(nil), batch.OldLogProb...)))); err != nil {
			return res, err
		}
	}
	defer t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		return res, fmt.Errorf("controller: running the training graph: %w", err)
	}
	for i, v := range t.readGrads {
		if v == nil {
			return res, errors.New("controller: a gradient was not computed")
		}
		copy(c.blocks[i].of(grad), v.Data().([]float64))
	}
	res.Loss = scalar(t.readCost)
	res.LogProbs = append([]float64(nil), t.readLogp.Data().([]float64)...)
	res.Entropy = append([]float64(nil), t.readEntropy.Data().([]float64)...)
	return res, nil
}

// LossValue runs the graph and returns the loss alone; the gradient
// check uses it for finite differences.
func (t *Trainer) LossValue(batch Batch) (float64, error) {
	grad := make([]float64, len(t.c.flat))
	res, err := t.Gradient(batch, grad)
	return res.Loss, err
}

func scalar(v G.Value) float64 {
	switch x := v.Data().(type) {
	case float64:
		return x
	case []float64:
		if len(x) == 1 {
			return x[0]
		}
	}
	return math.NaN()
}
