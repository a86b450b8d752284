package train

import (
	"context"
	"errors"
	"math"
	"testing"

	"cellc/runtime"
	"cellc/runtime/data"
)

// poisoned is a data set whose images hold a NaN, so the first training
// step's loss is not finite.
type poisoned struct{ data.Dataset }

func (p poisoned) Example(i int, dst []float32) (int, error) {
	label, err := p.Dataset.Example(i, dst)
	dst[0] = float32(math.NaN())
	return label, err
}

// A run whose loss stops being finite ends with an error that wraps
// runtime.ErrDiverged through Run, which is how the search tells a child
// that diverged (a result) from one that failed (an error).
func TestDivergenceIsErrDiverged(t *testing.T) {
	job := tinyJob(t, t.TempDir(), 1)
	job.Train = poisoned{job.Train}
	_, err := Run(context.Background(), job)
	if !errors.Is(err, runtime.ErrDiverged) {
		t.Fatalf("Run returned %v, want an error wrapping runtime.ErrDiverged", err)
	}
	t.Log(err)
}
