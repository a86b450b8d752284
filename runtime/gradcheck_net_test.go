package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
)

// netGradCheck compares the backward pass of a small training network
// with central differences of the loss sum(r·logits) + sum(q·aux), for
// every trainable tensor that only selects (all when nil): the
// directional derivative along a random unit direction within the
// tensor. A tensor passes when, along one of `directions` directions and
// at one of five step sizes, the two agree to 5 % of the larger (or within the
// rounding of the two losses): small BN batches and ReLU and max-pool
// kinks make the larger steps inexact, rounding the smaller ones, and a
// direction can cross a kink at every step; a wrong gradient is wrong
// along all of them. mutate, when not nil, changes the analytic gradient
// first (the mutation test). It returns the tensors that disagree.
// directions is how many random directions a tensor is tried along. Three
// were enough until the AVX-512 tile kernel's summation order moved the
// rounding of one PNASNet batch-norm offset (whose analytic gradient both
// kernels compute identically) outside 5 % along all three; a wrong
// gradient stays wrong along every direction, which the mutation test
// shows, so more directions cost only time on the tensors that need them.
const directions = 5

func netGradCheck(t *testing.T, p *plan.Plan, workers int, only func(plan.Param) bool, mutate func(*Params, []float32)) []string {
	t.Helper()
	const batch = 8
	ex, err := CPU{}.Compile(p, batch, Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Workers: workers, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	r := rand.New(rand.NewPCG(1, 2))
	x := randVec(r, batch*p.Input.Shape.Elems())
	logits, aux := ex.Forward(x, batch, 0)
	rw := randVec(r, len(logits))
	var qw []float32
	if aux != nil {
		qw = randVec(r, len(aux))
	}
	// scale is Σ|r·logit|: the size of the sums whose float32 rounding
	// the differences see.
	loss := func() (l, scale float64) {
		lg, a := ex.Forward(x, batch, 0)
		for i, v := range lg {
			l += float64(v) * float64(rw[i])
			scale += math.Abs(float64(v) * float64(rw[i]))
		}
		for i, v := range a {
			l += float64(v) * float64(qw[i])
			scale += math.Abs(float64(v) * float64(qw[i]))
		}
		return l, scale
	}
	P := ex.Params()
	P.ZeroGrad()
	loss()
	ex.Backward(rw, qw)
	grad := append([]float32(nil), P.Grad...)
	if mutate != nil {
		mutate(P, grad)
	}
	var bad []string
	for i, spec := range P.Specs {
		if !spec.Trainable || only != nil && !only(spec) {
			continue
		}
		v := P.Value(i)
		old := append([]float32(nil), v...)
		// A wrong gradient is wrong along every direction; a kink (a
		// ReLU or max-pool switch within the step) or rounding spoils
		// one direction's differences, not all of them.
		var tried []string
		ok, informative := false, false
		for try := 0; try < directions && !ok; try++ {
			d := randVec(r, len(v))
			norm := math.Sqrt(dot(d, d))
			ana := 0.0
			for j := range d {
				d[j] /= float32(norm)
				ana += float64(d[j]) * float64(grad[P.Off[i]+j])
			}
			tried = append(tried, fmt.Sprintf("analytic %.5g, numeric", ana))
			for _, h := range []float32{1e-2, 3e-3, 1e-3, 3e-4, 1e-4} {
				for j := range v {
					v[j] = old[j] + h*d[j]
				}
				lp, sp := loss()
				for j := range v {
					v[j] = old[j] - h*d[j]
				}
				lm, sm := loss()
				copy(v, old)
				num := (lp - lm) / float64(2*h)
				// The two losses' rounding, measured on these networks:
				// about 1e-7 of their size.
				noise := 1e-7 * (sp + sm) / float64(2*h)
				tried = append(tried, fmt.Sprintf("%.5g", num))
				size := math.Max(math.Abs(num), math.Abs(ana))
				if noise > 0.25*size {
					// Rounding swamps this step: it can neither pass nor
					// fail the tensor (a zeroed gradient would pass it).
					continue
				}
				informative = true
				if math.Abs(num-ana) <= 0.05*size+noise {
					ok = true
					break
				}
			}
		}
		// A derivative below what float32 losses resolve at every step
		// cannot be checked, and passes.
		ok = ok || !informative
		if !ok {
			bad = append(bad, spec.Name+": "+strings.Join(tried, " "))
		}
	}
	return bad
}

// TestNetworkGradients checks every parameter tensor's gradient of a
// small network from every spec (classifier and aux head included)
// against finite differences, on one worker, and on two and three for
// two specs (the weight-gradient partials are summed per worker).
func TestNetworkGradients(t *testing.T) {
	specs, _ := filepath.Glob("../specs/*.cell")
	for _, spec := range specs {
		workers := []int{1}
		if b := filepath.Base(spec); b == "nasnet_a.cell" || b == "darts_v2.cell" {
			workers = []int{1, 2, 3}
		}
		for _, w := range workers {
			t.Run(fmt.Sprintf("%s/workers=%d", filepath.Base(spec), w), func(t *testing.T) {
				t.Parallel()
				var small func(*compiler.Config)
				if filepath.Base(spec) == "enas.cell" {
					// ENAS' aux head needs 32×32 images (internal/testnet),
					// four times the work of every other spec; its ops are
					// the other aux heads' and its fully connected layers
					// the classifier's, so the cells are checked at 16×16.
					small = func(c *compiler.Config) { c.ImageSize, c.AuxHead = 16, false }
				}
				p := smallPlan(t, spec, true, small)
				for _, b := range netGradCheck(t, p, w, nil, nil) {
					t.Error(b)
				}
			})
		}
	}
}

// TestGradientCheckCatchesMutations injects the weight-gradient bugs a
// gradient check must catch into the analytic gradient and asserts that
// the check fails for each. Only the mutated tensors are probed: the
// others pass, which TestNetworkGradients shows.
func TestGradientCheckCatchesMutations(t *testing.T) {
	isDW := func(s plan.Param) bool { return s.Kind == plan.Weights && len(s.Dims) == 4 && s.Dims[1] == 1 }
	type mutation struct {
		name, spec string
		hit        func(plan.Param) bool
		apply      func(g []float32)
	}
	zero := func(g []float32) { clear(g) }
	muts := []mutation{
		{"classifier weights zeroed", "nasnet_a", func(s plan.Param) bool { return strings.HasPrefix(s.Name, "final_layer/") && s.Kind == plan.Weights }, zero},
		{"classifier biases zeroed", "nasnet_a", func(s plan.Param) bool { return strings.HasPrefix(s.Name, "final_layer/") && s.Kind == plan.Biases }, zero},
		{"aux head zeroed", "nasnet_a", func(s plan.Param) bool { return strings.HasPrefix(s.Name, "aux") }, zero},
		{"7x7 depthwise zeroed", "nasnet_a", func(s plan.Param) bool { return isDW(s) && s.Dims[2] == 7 }, zero},
		{"reduction-cell depthwise zeroed", "pnasnet5", func(s plan.Param) bool { return isDW(s) && strings.HasPrefix(s.Name, "reduction_cell") }, zero},
		{"depthwise halved", "darts_v2", isDW, func(g []float32) {
			for i := range g {
				g[i] /= 2
			}
		}},
		{"beta sign-flipped", "darts_v2", func(s plan.Param) bool { return s.Kind == plan.Beta }, func(g []float32) {
			for i := range g {
				g[i] = -g[i]
			}
		}},
	}
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			p := smallPlan(t, "../specs/"+m.spec+".cell", true, nil)
			hits := 0
			bad := netGradCheck(t, p, 1, m.hit, func(P *Params, g []float32) {
				for i, s := range P.Specs {
					if s.Trainable && m.hit(s) {
						hits++
						m.apply(g[P.Off[i] : P.Off[i]+int(s.Elems())])
					}
				}
			})
			if hits == 0 {
				t.Fatalf("%s has no tensor the mutation applies to", m.spec)
			}
			if len(bad) == 0 {
				t.Errorf("the gradient check passed %d mutated tensors", hits)
			}
		})
	}
}
