package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBNSumsFromConsumer checks that batch norms whose backward sums the
// next conv takes per image (wireDXSums) give the same gradients as the
// batch norm's own pass over the batch, on NASNet-A's small network.
func TestBNSumsFromConsumer(t *testing.T) {
	p := smallPlan(t, "../specs/nasnet_a.cell", true, nil)
	const batch = 6
	grads := make([][]float32, 2)
	for run := range grads {
		ex, err := CPU{}.Compile(p, batch, Options{BatchNormDecay: 0.9, BatchNormEpsilon: 1e-3, Workers: 2, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		e := ex.(*cpuExec)
		wired := 0
		for _, s := range e.steps {
			for _, op := range s.ops {
				if op.dxSumsTo == nil {
					continue
				}
				wired++
				if run == 1 { // the batch norm's own pass
					op.dxSumsTo.imgDySum, op.dxSumsTo.imgDyDev = nil, nil
					op.dxSumsTo = nil
				}
			}
		}
		if wired == 0 {
			t.Fatal("no batch norm takes its sums from a conv")
		}
		r := rand.New(rand.NewPCG(3, 4))
		x := randVec(r, batch*p.Input.Shape.Elems())
		e.SetTraining(true)
		logits, aux := ex.Forward(x, batch, 0.5)
		dl := randVec(r, len(logits))
		var da []float32
		if aux != nil {
			da = randVec(r, len(aux))
		}
		ex.Params().ZeroGrad()
		ex.Backward(dl, da)
		grads[run] = append([]float32(nil), ex.Params().Grad...)
		ex.Close()
	}
	for i, g := range grads[0] {
		want := grads[1][i]
		if d := math.Abs(float64(g - want)); d > 1e-4*(1+math.Abs(float64(want))) {
			t.Fatalf("gradient %d: %v with the conv's sums, %v with the batch norm's", i, g, want)
		}
	}
}
