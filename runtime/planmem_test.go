package runtime

import (
	"path/filepath"
	"testing"
)

// TestPlanMemoryIsExact checks that the CPU backend allocates for fused
// steps' intermediates exactly what the plan's Exec decisions say
// (plan.Memory.Intermediates), in training and inference plans of every
// spec: the fusion decisions are the compiler's, not the runtime's.
func TestPlanMemoryIsExact(t *testing.T) {
	specs, _ := filepath.Glob("../specs/*.cell")
	for _, spec := range specs {
		for _, training := range []bool{true, false} {
			p := smallPlan(t, spec, training, nil)
			const batch = 3
			ex, err := CPU{}.Compile(p, batch, Options{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := ex.(*cpuExec).intermediates
			ex.Close()
			if want := p.Memory.Intermediates * batch; got != want {
				t.Errorf("%s (training %v): allocated %d bytes of intermediates, the plan says %d", filepath.Base(spec), training, got, want)
			}
		}
	}
}
