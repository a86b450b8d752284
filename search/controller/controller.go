package controller

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"cellc/search/space"
)

// Config sizes the controller.
type Config struct {
	// Units is the LSTM's hidden size, which is also the size of the
	// decision embeddings (paper: 100).
	Units int
	// InitRange: every weight starts uniform in [-InitRange, InitRange]
	// (paper: 0.1).
	InitRange float64
}

// Step is one decision the controller makes: its kind (which softmax head
// and embedding table it uses) and how many values are valid.
type Step struct {
	Kind    space.Kind
	Choices int
}

// Steps turns a space's decisions into controller steps.
func Steps(ds []space.Decision) []Step {
	steps := make([]Step, len(ds))
	for i, d := range ds {
		steps[i] = Step{Kind: d.Kind, Choices: d.Choices}
	}
	return steps
}

// table is the embedding table a decision kind's values are looked up in:
// states (input A and B), ops (op A and B) or combiners.
func table(k space.Kind) int {
	switch k {
	case space.InputA, space.InputB:
		return 0
	case space.OpA, space.OpB:
		return 1
	}
	return 2
}

const tables = 3

// block is one parameter tensor: a rows x cols row-major view into the
// controller's flat parameter vector.
type block struct {
	name       string
	rows, cols int
	off        int
}

func (b block) of(flat []float64) []float64 { return flat[b.off : b.off+b.rows*b.cols] }

// Controller is the policy: a one-layer LSTM that emits one softmax per
// step. Its parameters live in one flat vector (Params) so that an
// optimizer and a checkpoint can treat them as a whole.
type Controller struct {
	steps []Step
	units int
	// rows[t] is the number of values of table t: the most choices any
	// step using it has.
	rows [tables]int
	// heads[k] is the width of kind k's softmax head, rows[table(k)];
	// steps with fewer choices are masked.
	heads [space.Kinds]int

	flat   []float64
	blocks []block
	// Parameter blocks, by role.
	goEmb block              // 1 x U: the first step's input
	emb   [tables]block      // rows[t] x U
	w, u  [4]block           // gates i, f, g, o: U x U input and recurrent weights
	b     [4]block           // 1 x U gate biases
	headW [space.Kinds]block // U x heads[k]
	headB [space.Kinds]block // 1 x heads[k]
}

// New makes a controller for steps with weights drawn from r.
func New(steps []Step, cfg Config, r *rand.Rand) (*Controller, error) {
	if len(steps) == 0 {
		return nil, errors.New("controller: no steps")
	}
	if cfg.Units < 1 {
		return nil, fmt.Errorf("controller: units must be at least 1, got %d", cfg.Units)
	}
	if !(cfg.InitRange > 0) || math.IsInf(cfg.InitRange, 0) {
		return nil, fmt.Errorf("controller: init range must be positive, got %g", cfg.InitRange)
	}
	c := &Controller{steps: append([]Step(nil), steps...), units: cfg.Units}
	var fed [tables]bool       // whether a table's embeddings are ever read
	var used [space.Kinds]bool // whether a kind's head is ever used
	for i, s := range steps {
		if s.Kind < 0 || int(s.Kind) >= space.Kinds {
			return nil, fmt.Errorf("controller: step %d has unknown kind %d", i, s.Kind)
		}
		if s.Choices < 1 {
			return nil, fmt.Errorf("controller: step %d (%s) has %d choices", i, s.Kind, s.Choices)
		}
		c.rows[table(s.Kind)] = max(c.rows[table(s.Kind)], s.Choices)
		fed[table(s.Kind)] = fed[table(s.Kind)] || i < len(steps)-1
		used[s.Kind] = true
	}
	// Heads of kinds that share a table are as wide as the table, so a
	// one-hot action also selects its embedding.
	for k := range c.heads {
		c.heads[k] = c.rows[table(space.Kind(k))]
	}
	U := cfg.Units
	add := func(name string, rows, cols int) block {
		b := block{name: name, rows: rows, cols: cols, off: len(c.flat)}
		if rows*cols > 0 {
			c.flat = append(c.flat, make([]float64, rows*cols)...)
			c.blocks = append(c.blocks, b)
		}
		return b
	}
	c.goEmb = add("go", 1, U)
	for t, name := range []string{"embed_state", "embed_op", "embed_combine"} {
		if fed[t] { // the last decision's embedding is never read
			c.emb[t] = add(name, c.rows[t], U)
		}
	}
	for g, name := range []string{"i", "f", "g", "o"} {
		c.w[g] = add("lstm_w_"+name, U, U)
		c.u[g] = add("lstm_u_"+name, U, U)
		c.b[g] = add("lstm_b_"+name, 1, U)
	}
	for k, name := range []string{"input_a", "input_b", "op_a", "op_b", "combine"} {
		if used[k] {
			c.headW[k] = add("head_"+name+"_w", U, c.heads[k])
			c.headB[k] = add("head_"+name+"_b", 1, c.heads[k])
		}
	}
	for i := range c.flat {
		c.flat[i] = (2*r.Float64() - 1) * cfg.InitRange
	}
	return c, nil
}

// Steps returns the controller's steps.
func (c *Controller) Steps() []Step { return append([]Step(nil), c.steps...) }

// Units is the LSTM's hidden size.
func (c *Controller) Units() int { return c.units }

// Params is the flat parameter vector. It is the controller's own: an
// optimizer updates it in place.
func (c *Controller) Params() []float64 { return c.flat }

// SetParams copies p into the parameters.
func (c *Controller) SetParams(p []float64) error {
	if len(p) != len(c.flat) {
		return fmt.Errorf("controller: %d parameters, want %d", len(p), len(c.flat))
	}
	copy(c.flat, p)
	return nil
}

// ParamNames lists the parameter tensors in the order of the flat vector,
// as "name[rows x cols]".
func (c *Controller) ParamNames() []string {
	names := make([]string, len(c.blocks))
	for i, b := range c.blocks {
		names[i] = fmt.Sprintf("%s[%dx%d]", b.name, b.rows, b.cols)
	}
	return names
}

// Trajectory is what the controller did on one architecture.
type Trajectory struct {
	Arch    space.Arch
	LogProb float64 // sum over steps of log pi(a_t | a_<t)
	Entropy float64 // sum over steps of the entropy of pi(. | a_<t)
}

// Sample draws an architecture from the policy with r: a plain-Go forward
// pass, no graph.
func (c *Controller) Sample(r *rand.Rand) Trajectory {
	tr, _ := c.run(nil, r)
	return tr
}

// Evaluate scores a given architecture under the policy: its log
// probability and the entropies along its path.
func (c *Controller) Evaluate(a space.Arch) (Trajectory, error) {
	if len(a) != len(c.steps) {
		return Trajectory{}, fmt.Errorf("controller: architecture has %d decisions, want %d", len(a), len(c.steps))
	}
	for i, s := range c.steps {
		if a[i] < 0 || a[i] >= s.Choices {
			return Trajectory{}, fmt.Errorf("controller: decision %d is %d, want 0..%d", i, a[i], s.Choices-1)
		}
	}
	return c.run(a, nil)
}

// run walks the steps: following a when r is nil, sampling otherwise.
// Each step: the LSTM reads the embedding of the previous decision (the
// "go" embedding first), its kind's head turns h into logits, the first
// Choices of which are soft-maxed (the mask), and a value is taken.
func (c *Controller) run(a space.Arch, r *rand.Rand) (Trajectory, error) {
	U := c.units
	h, cell := make([]float64, U), make([]float64, U)
	var gates [4][]float64
	for g := range gates {
		gates[g] = make([]float64, U)
	}
	x := c.goEmb.of(c.flat)
	logits := make([]float64, 0, 64)
	tr := Trajectory{Arch: make(space.Arch, len(c.steps))}
	for t, s := range c.steps {
		// LSTM: z_g = x W_g + h U_g + b_g.
		for g := range gates {
			z := gates[g]
			copy(z, c.b[g].of(c.flat))
			matvecAdd(z, x, c.w[g].of(c.flat), U)
			matvecAdd(z, h, c.u[g].of(c.flat), U)
		}
		for j := 0; j < U; j++ {
			i, f, g, o := sigmoid(gates[0][j]), sigmoid(gates[1][j]), math.Tanh(gates[2][j]), sigmoid(gates[3][j])
			cell[j] = f*cell[j] + i*g
			h[j] = o * math.Tanh(cell[j])
		}
		// Head: logits = h W_k + b_k, masked to the step's choices.
		w, n := c.heads[s.Kind], s.Choices
		logits = logits[:w]
		copy(logits, c.headB[s.Kind].of(c.flat))
		matvecAdd(logits, h, c.headW[s.Kind].of(c.flat), w)
		logits = logits[:n]
		lse := logSumExp(logits)
		v := 0
		if r == nil {
			v = a[t]
		} else {
			v = n - 1
			u, acc := r.Float64(), 0.0
			for j, l := range logits {
				acc += math.Exp(l - lse)
				if u < acc {
					v = j
					break
				}
			}
		}
		tr.Arch[t] = v
		tr.LogProb += logits[v] - lse
		for _, l := range logits {
			lp := l - lse
			tr.Entropy -= math.Exp(lp) * lp
		}
		if t < len(c.steps)-1 {
			x = c.emb[table(s.Kind)].of(c.flat)[v*U : (v+1)*U]
		}
	}
	return tr, nil
}

// matvecAdd adds the row vector v times the len(v) x cols matrix m to dst.
func matvecAdd(dst, v, m []float64, cols int) {
	for i, vi := range v {
		if vi == 0 {
			continue
		}
		row := m[i*cols : (i+1)*cols]
		for j, mij := range row {
			dst[j] += vi * mij
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}
