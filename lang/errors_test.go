package lang

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"cellc/internal/txtartest"
)

// TestErrors checks the diagnostics for the bad inputs in
// testdata/lang/errors: each file's "in.cell" section is parsed and the
// "out/errors" section holds Diagnostic.String() of every diagnostic, one a
// line. The checker adds its own cases to the same corpus later.
func TestErrors(t *testing.T) {
	txtartest.Run(t, filepath.Join(goldenDir, "errors", "*.txtar"), func(t *testing.T, a *txtar.Archive) map[string]string {
		_, diags := Parse("in.cell", txtartest.MustSection(t, a, "in.cell"))
		if len(diags) == 0 {
			t.Error("no diagnostics for a bad input")
		}
		var b strings.Builder
		for _, d := range diags {
			if d.Subject.File != "in.cell" || d.Subject.Start.Line < 1 || d.Subject.Start.Col < 1 {
				t.Errorf("diagnostic without a position: %v", d)
			}
			b.WriteString(d.String() + "\n")
		}
		return map[string]string{"out/errors": b.String()}
	})
}
