package runtime

import (
	"math"
	"math/rand/v2"
	"path/filepath"
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

// TestNetworkGradients checks the whole backward pass of a small network
// built from every spec against central finite differences of the loss
// sum(r·logits) + sum(q·aux), on a random sample of parameters.
func TestNetworkGradients(t *testing.T) {
	specs, _ := filepath.Glob("../specs/*.cell")
	for _, spec := range specs {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			p := smallPlan(t, spec, true, nil)
			gradCheckDirectional(t, p)
		})
	}
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

// gradCheckDirectional checks every parameter tensor's gradient of the
// loss sum(r·logits) + sum(q·aux) against central differences.
func gradCheckDirectional(t *testing.T, p *plan.Plan) {
	t.Helper()
	const batch = 8
	ex, err := CPU{}.Compile(p, batch, Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Workers: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	r := rand.New(rand.NewPCG(1, 2))
	in := p.Input.Shape.Elems()
	x := make([]float32, batch*in)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	logits, aux := ex.Forward(x, batch, 0)
	rw := randVec(r, len(logits))
	var qw []float32
	if aux != nil {
		qw = randVec(r, len(aux))
	}
	loss := func() float64 {
		l, a := ex.Forward(x, batch, 0)
		s := dot(l, rw)
		if a != nil {
			s += dot(a, qw)
		}
		return s
	}
	P := ex.Params()
	P.ZeroGrad()
	loss()
	ex.Backward(rw, qw)
	grad := append([]float32(nil), P.Grad...)

	// For each parameter tensor, the directional derivative along
	// a random unit direction in that tensor: the analytic value
	// is grad·d, the numeric one a central difference. A direction
	// sums many entries' contributions, so float32 rounding and the
	// occasional ReLU or max-pool kink average out where a single
	// entry's difference would drown in them; an entry passes when
	// any of three step sizes agrees, and a wrong gradient
	// disagrees at all of them.
	checked, bad := 0, 0
	// At most 40 tensors, spread over the network.
	var tensors []int
	for i, spec := range P.Specs {
		if spec.Trainable {
			tensors = append(tensors, i)
		}
	}
	stride := max(1, len(tensors)/40)
	for k := 0; k < len(tensors); k += stride {
		i := tensors[k]
		spec := P.Specs[i]
		v := P.Value(i)
		old := append([]float32(nil), v...)
		d := randVec(r, len(v))
		norm := math.Sqrt(dot(d, d))
		ana := 0.0
		for j := range d {
			d[j] /= float32(norm)
			ana += float64(d[j]) * float64(grad[P.Off[i]+j])
		}
		best := math.Inf(1)
		var nums []float64
		for _, h := range []float32{1e-3, 3e-4, 1e-4} {
			for j := range v {
				v[j] = old[j] + h*d[j]
			}
			lp := loss()
			for j := range v {
				v[j] = old[j] - h*d[j]
			}
			lm := loss()
			copy(v, old)
			num := (lp - lm) / float64(2*h)
			nums = append(nums, num)
			best = math.Min(best, math.Abs(num-ana)/math.Max(1, math.Abs(ana)))
		}
		checked++
		if best > 0.1 {
			bad++
			t.Logf("%s: analytic %.5g, numeric %.5g", spec.Name, ana, nums)
		}
	}
	// Small BN batches and many ReLU/max-pool kinks make some deep
	// tensors' differences noisy (the kernels themselves are checked
	// exactly in runtime/kernels); a wrong backward step shows up in
	// every tensor before it, not in a tenth of them.
	if bad*10 > checked {
		t.Errorf("%d of %d parameter tensors disagree by more than 10%%", bad, checked)
	}
	t.Logf("%d parameters checked, %d disagree", checked, bad)
}
