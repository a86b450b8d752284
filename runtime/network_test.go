package runtime

import (
	"math/rand/v2"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/internal/testnet"
)

// smallPlan compiles a spec into a tiny network: N=1, few filters, 16x16.
func smallPlan(t testing.TB, spec string, training bool, mutate func(*compiler.Config)) *plan.Plan {
	t.Helper()
	return testnet.SmallPlan(t, spec, training, mutate)
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
