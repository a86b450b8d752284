package compiler

import "testing"

// paperCount is what a network's count test pins: its exact trainable
// parameters (aux head left out) and BN moving statistics, with the aux
// head, its mult-adds, and the paper's rounded figures they must meet.
type paperCount struct {
	params, moving, withAux int64
	madds                   int64
	paperParams, paperMadds float64
}

// checkPaperCount compares res's costs with want: exactly, and with the
// paper's figures to their rounding (params, to 0.05M) and within 0.5 %
// (mult-adds, counted by a convention the papers do not state).
func checkPaperCount(t *testing.T, res *Result, want paperCount) {
	t.Helper()
	main, aux := res.Built.Costs()
	if main.Params != want.params || main.Moving != want.moving {
		t.Errorf("params %d + moving %d, want %d + %d", main.Params, main.Moving, want.params, want.moving)
	}
	if got := main.Params + aux.Params; got != want.withAux {
		t.Errorf("params with aux head %d, want %d", got, want.withAux)
	}
	if main.MultAdd != want.madds {
		t.Errorf("mult-adds %d, want %d", main.MultAdd, want.madds)
	}
	if d := float64(main.Params) - want.paperParams; d < -0.05e6 || d > 0.05e6 {
		t.Errorf("params %d do not round to the paper's %.1fM", main.Params, want.paperParams/1e6)
	}
	if d := (float64(main.MultAdd) - want.paperMadds) / want.paperMadds; d < -5e-3 || d > 5e-3 {
		t.Errorf("mult-adds %d are not within 0.5%% of the paper's %g", main.MultAdd, want.paperMadds)
	}
	t.Logf("params %d moving %d aux %d madds %d", main.Params, main.Moving, aux.Params, main.MultAdd)
}
