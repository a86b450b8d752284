package plan_test

import (
	"os"
	"strings"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
)

func lowerSpec(t testing.TB, path string, training bool) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse(path, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, _ := compiler.Preset("cifar")
	cfg.Training = training
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := plan.Lower(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLowerSmoke(t *testing.T) {
	for _, training := range []bool{false, true} {
		p := lowerSpec(t, "../../specs/nasnet_a.cell", training)
		var b strings.Builder
		plan.Fprint(&b, p)
		lines := strings.Split(b.String(), "\n")
		t.Log(strings.Join(lines[:min(12, len(lines))], "\n"))
		if p.Memory.Forward > p.Memory.Unshared {
			t.Errorf("forward memory %d exceeds unshared %d", p.Memory.Forward, p.Memory.Unshared)
		}
	}
}
