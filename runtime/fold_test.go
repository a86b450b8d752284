package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"cellc/compiler"
)

// A trained network evaluated with its training plan (moving statistics)
// and with the BN-folded, buffer-sharing inference plan gives the same
// logits: folding, fusion without BN, concat elision and liveness buffer
// reuse are all checked against the straightforward plan.
func TestFoldedInferenceMatchesEval(t *testing.T) {
	trainPlan := smallPlan(t, "../specs/nasnet_a.cell", true, nil)
	inferPlan := smallPlan(t, "../specs/nasnet_a.cell", false, func(c *compiler.Config) {})
	const batch = 3
	opts := Options{BatchNormDecay: 0.5, BatchNormEpsilon: 1e-3, Workers: 2, Seed: 3}
	tr, err := CPU{}.Compile(trainPlan, batch, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r := rand.New(rand.NewPCG(5, 6))
	x := randVec(r, batch*trainPlan.Input.Shape.Elems())
	// A few training-mode passes give the moving statistics real values.
	for i := 0; i < 4; i++ {
		tr.Forward(x, batch, 0)
	}
	P := tr.Params()
	for i, s := range P.Specs {
		if s.Kind == "gamma" || s.Kind == "beta" {
			for j := range P.Value(i) {
				P.Value(i)[j] += float32(r.NormFloat64()) * 0.1
			}
		}
	}
	tr.SetTraining(false)
	want, _ := tr.Forward(x, batch, 1)
	want = append([]float32(nil), want...)

	in, err := CPU{}.Compile(inferPlan, batch, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := LoadFolded(inferPlan, in.Params(), P.Lookup, opts.BatchNormEpsilon); err != nil {
		t.Fatal(err)
	}
	got, _ := in.Forward(x, batch, 1)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-3*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("logit %d: inference plan %v, training plan in eval mode %v", i, got[i], want[i])
		}
	}
}
