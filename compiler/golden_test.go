package compiler_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/internal/txtartest"
	"cellc/lang"
)

// goldenCase is the header of a golden txtar file: which .cell to build
// (a repo-relative spec path, or the archive's in.cell), how, and what to
// pin. Small networks pin their whole IR and plan; the paper-size presets
// (thousands of nodes, which any pass change would rewrite by the
// thousand lines) pin their stages: each cell's output shape, parameters
// and mult-adds, and the totals.
type goldenCase struct {
	Spec   string         `yaml:"spec"`
	Preset string         `yaml:"preset"`
	Config map[string]any `yaml:"config"`
	Pin    string         `yaml:"pin"` // "" (IR and plan) or "stages"
}

// TestGolden pins the compiled IR and plan, or the stages, of every case
// under testdata/golden. Regenerate with CELLC_UPDATE=1 and review the
// diff.
func TestGolden(t *testing.T) {
	txtartest.Run(t, "../testdata/golden/*.txtar", func(t *testing.T, ar *txtar.Archive) map[string]string {
		var gc goldenCase
		if err := yaml.Unmarshal(ar.Comment, &gc); err != nil {
			t.Fatalf("header: %v", err)
		}
		if gc.Pin != "" && gc.Pin != "stages" {
			t.Fatalf("header: pin %q, want stages or nothing", gc.Pin)
		}
		return compileGolden(t, ar, gc)
	})
}

func compileGolden(t *testing.T, ar *txtar.Archive, gc goldenCase) map[string]string {
	name, src := "in.cell", []byte(nil)
	if gc.Spec != "" {
		var err error
		name = gc.Spec
		if src, err = os.ReadFile(filepath.Join("..", gc.Spec)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range ar.Files {
		if f.Name == "in.cell" {
			src = f.Data
		}
	}
	cfg, err := compiler.Preset(cmpOr(gc.Preset, "cifar"))
	if err != nil {
		t.Fatal(err)
	}
	if gc.Config != nil {
		raw, _ := yaml.Marshal(gc.Config)
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if _, ok := gc.Config["filters"]; ok {
			cfg.BaseFilters = 0
		}
	}
	out := map[string]string{}
	f, diags := lang.Parse(name, src)
	var res *compiler.Result
	if !diags.HasErrors() {
		var d lang.Diagnostics
		res, d = compiler.Build(f, cfg, compiler.Options{})
		diags = append(diags, d...)
	}
	if len(diags) > 0 {
		out["out/errors"] = diags.Error() + "\n"
	}
	if res == nil {
		return out
	}
	var b bytes.Buffer
	if gc.Pin == "stages" {
		printStages(&b, res.Graph)
		out["out/stages"] = b.String()
		return out
	}
	ir.Fprint(&b, res.Graph)
	out["out/ir"] = b.String()
	p, err := plan.Lower(res.Graph)
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	plan.Fprint(&b, p)
	out["out/plan"] = b.String()
	return out
}

// printStages writes one line per stage (name, kind, output shape, exact
// parameters, moving statistics and mult-adds) and the totals.
func printStages(w io.Writer, g *ir.Graph) {
	var total ir.Cost
	for _, s := range ir.Stages(g) {
		fmt.Fprintf(w, "%s %s %v params=%d moving=%d multadds=%d\n", s.Name, strings.ReplaceAll(s.Kind, " ", "_"), s.Out, s.Cost.Params, s.Cost.Moving, s.Cost.MultAdd)
		total.Params += s.Cost.Params
		total.Moving += s.Cost.Moving
		total.MultAdd += s.Cost.MultAdd
	}
	fmt.Fprintf(w, "total params=%d moving=%d multadds=%d\n", total.Params, total.Moving, total.MultAdd)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
