package controller

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"cellc/search/space"
)

func smallSpace() *space.Space {
	s := space.DefaultSpace()
	s.Ops = []string{"identity", "sep3x3", "max3x3", "avg3x3"}
	s.Blocks = 2
	return s
}

func newController(t testing.TB, s *space.Space, units int, seed uint64) *Controller {
	t.Helper()
	c, err := New(Steps(s.Decisions()), Config{Units: units, InitRange: 0.1}, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGraphMatchesPlainGo(t *testing.T) {
	s := smallSpace()
	c := newController(t, s, 8, 1)
	r := rand.New(rand.NewPCG(3, 3))
	const m = 4
	var b Batch
	for range m {
		tr := c.Sample(r)
		b.Archs = append(b.Archs, tr.Arch)
		b.Advantages = append(b.Advantages, r.NormFloat64())
		b.OldLogProb = append(b.OldLogProb, tr.LogProb)
	}
	tr, err := c.NewTrainer(m, Loss{Objective: PPO, Clip: 0.2, EntropyWeight: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float64, len(c.Params()))
	t0 := time.Now()
	res, err := tr.Gradient(b, grad)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gradient in %v; loss %g", time.Since(t0), res.Loss)
	for i, a := range b.Archs {
		want, _ := c.Evaluate(a)
		if math.Abs(res.LogProbs[i]-want.LogProb) > 1e-9 || math.Abs(res.Entropy[i]-want.Entropy) > 1e-9 {
			t.Errorf("arch %d: graph logp %g entropy %g, plain Go %g %g", i, res.LogProbs[i], res.Entropy[i], want.LogProb, want.Entropy)
		}
	}
}

// batchOf samples m architectures with advantages and, for PPO, old
// log-probabilities offset so that some ratios fall outside the clip range
// and some inside, none near its edges.
func batchOf(c *Controller, m int, r *rand.Rand) Batch {
	var b Batch
	offsets := []float64{0, 0.5, -0.5, 0.05, -0.1, 1}
	for i := range m {
		tr := c.Sample(r)
		b.Archs = append(b.Archs, tr.Arch)
		adv := r.NormFloat64()
		if i%2 == 1 {
			adv = -adv
		}
		b.Advantages = append(b.Advantages, adv)
		b.OldLogProb = append(b.OldLogProb, tr.LogProb+offsets[i%len(offsets)])
	}
	return b
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	for _, obj := range []Objective{REINFORCE, PPO} {
		t.Run(obj.String(), func(t *testing.T) {
			s := smallSpace()
			c := newController(t, s, 6, 7)
			r := rand.New(rand.NewPCG(11, uint64(obj)))
			b := batchOf(c, 6, r)
			tr, err := c.NewTrainer(len(b.Archs), Loss{Objective: obj, Clip: 0.2, EntropyWeight: 0.05})
			if err != nil {
				t.Fatal(err)
			}
			params := c.Params()
			grad := make([]float64, len(params))
			res, err := tr.Gradient(b, grad)
			if err != nil {
				t.Fatal(err)
			}
			if obj == PPO {
				inside, outside := 0, 0
				for i, lp := range res.LogProbs {
					ratio := math.Exp(lp - b.OldLogProb[i])
					if ratio > 0.8 && ratio < 1.2 {
						inside++
					} else {
						outside++
					}
					if math.Abs(ratio-0.8) < 0.01 || math.Abs(ratio-1.2) < 0.01 {
						t.Fatalf("ratio %g is at a kink of the clipped objective", ratio)
					}
				}
				if inside == 0 || outside == 0 {
					t.Fatalf("want ratios both inside and outside the clip range: %d, %d", inside, outside)
				}
			}
			loss := Loss{Objective: obj, Clip: 0.2, EntropyWeight: 0.05}
			if want := plainLoss(t, c, b, loss); math.Abs(res.Loss-want) > 1e-12 {
				t.Errorf("graph loss %.15g, plain Go %.15g", res.Loss, want)
			}
			// Every parameter, by central differences of the loss computed
			// independently in plain Go (the graph's own forward pass is
			// checked against it too, on a sample).
			const eps = 1e-5
			worst := 0.0
			for i := range params {
				keep := params[i]
				params[i] = keep + eps
				up := plainLoss(t, c, b, loss)
				params[i] = keep - eps
				down := plainLoss(t, c, b, loss)
				if i%50 == 0 {
					if g, err := tr.LossValue(b); err != nil || math.Abs(g-down) > 1e-12 {
						t.Fatalf("graph forward %g, plain Go %g (%v)", g, down, err)
					}
				}
				params[i] = keep
				fd := (up - down) / (2 * eps)
				diff := math.Abs(fd - grad[i])
				if diff > 1e-7+1e-5*math.Abs(fd) {
					t.Errorf("param %d: autodiff %.10g, finite differences %.10g", i, grad[i], fd)
				}
				worst = max(worst, diff)
			}
			nonzero := 0
			for _, g := range grad {
				if g != 0 {
					nonzero++
				}
			}
			if nonzero < len(grad)/2 {
				t.Errorf("only %d of %d gradients are non-zero", nonzero, len(grad))
			}
			t.Logf("%d parameters, worst |autodiff - fd| = %.2g", len(params), worst)
		})
	}
}

// plainLoss is the objective computed from the plain-Go forward pass.
func plainLoss(t *testing.T, c *Controller, b Batch, l Loss) float64 {
	t.Helper()
	sum, ent := 0.0, 0.0
	for i, a := range b.Archs {
		tr, err := c.Evaluate(a)
		if err != nil {
			t.Fatal(err)
		}
		ent += tr.Entropy
		switch l.Objective {
		case REINFORCE:
			sum += b.Advantages[i] * tr.LogProb
		case PPO:
			r := math.Exp(tr.LogProb - b.OldLogProb[i])
			clipped := math.Min(math.Max(r, 1-l.Clip), 1+l.Clip)
			sum += math.Min(r*b.Advantages[i], clipped*b.Advantages[i])
		}
	}
	n := float64(len(b.Archs))
	return -sum/n - l.EntropyWeight*ent/n
}

// TestMaskedSoftmax enumerates every architecture of a tiny step list:
// their probabilities sum to 1, so masked values get no mass.
func TestMaskedSoftmax(t *testing.T) {
	steps := []Step{{space.InputA, 2}, {space.InputB, 3}, {space.OpA, 2}, {space.InputA, 3}, {space.Combine, 2}}
	c, err := New(steps, Config{Units: 5, InitRange: 0.5}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	total, n := 0.0, 0
	a := make(space.Arch, len(steps))
	var walk func(i int)
	walk = func(i int) {
		if i == len(steps) {
			tr, err := c.Evaluate(a)
			if err != nil {
				t.Fatal(err)
			}
			total += math.Exp(tr.LogProb)
			n++
			return
		}
		for v := range steps[i].Choices {
			a[i] = v
			walk(i + 1)
		}
	}
	walk(0)
	if n != 2*3*2*3*2 || math.Abs(total-1) > 1e-12 {
		t.Errorf("%d architectures, total probability %.15f", n, total)
	}
	// Sampling never picks a masked value and reports the same log-prob.
	r := rand.New(rand.NewPCG(5, 5))
	counts := map[string]int{}
	const draws = 20000
	for range draws {
		tr := c.Sample(r)
		ev, err := c.Evaluate(tr.Arch)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ev.LogProb-tr.LogProb) > 1e-12 || math.Abs(ev.Entropy-tr.Entropy) > 1e-12 {
			t.Fatalf("sample logp %g, evaluate %g", tr.LogProb, ev.LogProb)
		}
		counts[tr.Arch.String()]++
	}
	// And draws each architecture at its probability (a loose check).
	for key, k := range counts {
		a, _ := space.ParseArch(key)
		tr, _ := c.Evaluate(a)
		p := math.Exp(tr.LogProb)
		sd := math.Sqrt(p * (1 - p) / draws)
		if got := float64(k) / draws; math.Abs(got-p) > 5*sd+1e-3 {
			t.Errorf("%s drawn %.4f of the time, probability %.4f", key, got, p)
		}
	}
}

func TestGraphFollowsParameterUpdates(t *testing.T) {
	s := smallSpace()
	c := newController(t, s, 8, 1)
	r := rand.New(rand.NewPCG(3, 4))
	b := batchOf(c, 5, r)
	tr, err := c.NewTrainer(5, Loss{Objective: REINFORCE})
	if err != nil {
		t.Fatal(err)
	}
	adam := NewAdam(len(c.Params()), 0.05)
	grad := make([]float64, len(c.Params()))
	for step := range 5 {
		res, err := tr.Gradient(b, grad)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range b.Archs {
			want, _ := c.Evaluate(a)
			if math.Abs(res.LogProbs[i]-want.LogProb) > 1e-9 {
				t.Fatalf("step %d arch %d: graph logp %g, plain Go %g", step, i, res.LogProbs[i], want.LogProb)
			}
		}
		adam.Step(c.Params(), grad)
	}
}

func TestREINFORCERaisesGoodArchitectures(t *testing.T) {
	s := smallSpace()
	c := newController(t, s, 8, 1)
	r := rand.New(rand.NewPCG(3, 5))
	b := batchOf(c, 4, r)
	b.Advantages = []float64{1, -1, 0, 0}
	before := make([]float64, 4)
	for i, a := range b.Archs {
		tr, _ := c.Evaluate(a)
		before[i] = tr.LogProb
	}
	tr, err := c.NewTrainer(4, Loss{Objective: REINFORCE})
	if err != nil {
		t.Fatal(err)
	}
	adam := NewAdam(len(c.Params()), 0.01)
	grad := make([]float64, len(c.Params()))
	for range 10 {
		if _, err := tr.Gradient(b, grad); err != nil {
			t.Fatal(err)
		}
		adam.Step(c.Params(), grad)
	}
	up, _ := c.Evaluate(b.Archs[0])
	down, _ := c.Evaluate(b.Archs[1])
	if up.LogProb <= before[0] || down.LogProb >= before[1] {
		t.Errorf("positive advantage: logp %g -> %g; negative: %g -> %g", before[0], up.LogProb, before[1], down.LogProb)
	}
}

func TestPPOClipStopsTheUpdate(t *testing.T) {
	// With every ratio pushed past the clip in the direction of its
	// advantage, the clipped objective is flat: zero gradient but for the
	// entropy bonus, here off.
	s := smallSpace()
	c := newController(t, s, 8, 1)
	r := rand.New(rand.NewPCG(3, 6))
	b := batchOf(c, 4, r)
	for i, a := range b.Archs {
		tr, _ := c.Evaluate(a)
		if i%2 == 0 {
			b.Advantages[i], b.OldLogProb[i] = 1, tr.LogProb-1 // ratio e > 1.2, A > 0
		} else {
			b.Advantages[i], b.OldLogProb[i] = -1, tr.LogProb+1 // ratio 1/e < 0.8, A < 0
		}
	}
	tr, err := c.NewTrainer(4, Loss{Objective: PPO, Clip: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float64, len(c.Params()))
	res, err := tr.Gradient(b, grad)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range grad {
		if g != 0 {
			t.Fatalf("gradient %d is %g, want 0 with every ratio clipped", i, g)
		}
	}
	if want := -(1.2 + 0.8*-1 + 1.2 + 0.8*-1) / 4; math.Abs(res.Loss-want) > 1e-12 {
		t.Errorf("loss %g, want %g", res.Loss, want)
	}
}

func TestAdam(t *testing.T) {
	// Minimise (x-3)^2 + (y+1)^2.
	p := []float64{0, 0}
	a := NewAdam(2, 0.1)
	for range 2000 {
		a.Step(p, []float64{2 * (p[0] - 3), 2 * (p[1] + 1)})
	}
	if math.Abs(p[0]-3) > 1e-3 || math.Abs(p[1]+1) > 1e-3 || a.T != 2000 {
		t.Errorf("Adam ended at %v after %d steps", p, a.T)
	}
}

func TestNewErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		steps []Step
		cfg   Config
	}{
		{nil, Config{Units: 4, InitRange: 0.1}},
		{[]Step{{space.OpA, 0}}, Config{Units: 4, InitRange: 0.1}},
		{[]Step{{space.Kind(9), 2}}, Config{Units: 4, InitRange: 0.1}},
		{[]Step{{space.OpA, 2}}, Config{Units: 0, InitRange: 0.1}},
		{[]Step{{space.OpA, 2}}, Config{Units: 4, InitRange: 0}},
	} {
		if _, err := New(tc.steps, tc.cfg, r); err == nil {
			t.Errorf("New(%v, %+v): no error", tc.steps, tc.cfg)
		}
	}
	c, _ := New([]Step{{space.OpA, 2}}, Config{Units: 4, InitRange: 0.1}, r)
	if _, err := c.Evaluate(space.Arch{2}); err == nil {
		t.Error("Evaluate accepted an out-of-range value")
	}
	tr, err := c.NewTrainer(2, Loss{Objective: PPO, Clip: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float64, len(c.Params()))
	if _, err := tr.Gradient(Batch{Archs: []space.Arch{{0}, {1}}, Advantages: []float64{1, 1}}, grad); err == nil {
		t.Error("PPO batch without old log-probs: no error")
	}
	if _, err := tr.Gradient(Batch{Archs: []space.Arch{{0}, {3}}, Advantages: []float64{1, 1}, OldLogProb: []float64{0, 0}}, grad); err == nil {
		t.Error("out-of-range action: no error")
	}
	if _, err := c.NewTrainer(2, Loss{Objective: PPO, Clip: 0}); err == nil {
		t.Error("PPO with clip 0: no error")
	}
}

// TestPaperSizeController builds the paper's controller (100 units, 50
// steps) and its PPO graph for a minibatch of 20, and checks the graph
// against the plain-Go pass.
func TestPaperSizeController(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the paper-size graph (a few seconds)")
	}
	s := space.DefaultSpace()
	c := newController(t, s, 100, 1)
	if n := len(c.Params()); n < 80000 {
		t.Errorf("%d parameters; a 100-unit LSTM alone has 80,400", n)
	}
	r := rand.New(rand.NewPCG(3, 3))
	start := time.Now()
	b := batchOf(c, 20, r)
	t.Logf("sampling 20 architectures: %v", time.Since(start))
	start = time.Now()
	tr, err := c.NewTrainer(20, Loss{Objective: PPO, Clip: 0.2, EntropyWeight: 0.00001})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("building the graph: %v", time.Since(start))
	grad := make([]float64, len(c.Params()))
	start = time.Now()
	res, err := tr.Gradient(b, grad)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one gradient: %v", time.Since(start))
	for i, a := range b.Archs {
		want, _ := c.Evaluate(a)
		if math.Abs(res.LogProbs[i]-want.LogProb) > 1e-9 {
			t.Errorf("arch %d: graph logp %g, plain Go %g", i, res.LogProbs[i], want.LogProb)
		}
	}
}
