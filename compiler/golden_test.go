package compiler_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/compiler/ir"
	"cellc/compiler/plan"
	"cellc/lang"
)

// goldenCase is the header of a golden txtar file: which .cell to build
// (a repo-relative spec path, or the archive's in.cell) and how.
type goldenCase struct {
	Spec   string         `yaml:"spec"`
	Preset string         `yaml:"preset"`
	Config map[string]any `yaml:"config"`
}

// TestGolden pins the compiled IR and plan of every case under
// testdata/golden. Regenerate with CELLC_UPDATE=1 and review the diff.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("../testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	update := os.Getenv("CELLC_UPDATE") == "1" // the README's one rule: exactly "1"
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := yaml.Unmarshal(ar.Comment, &gc); err != nil {
				t.Fatalf("header: %v", err)
			}
			got := compileGolden(t, ar, gc)
			if update {
				var files []txtar.File
				for _, f := range ar.Files {
					if !strings.HasPrefix(f.Name, "out/") {
						files = append(files, f)
					}
				}
				for _, name := range []string{"out/errors", "out/ir", "out/plan"} {
					if got[name] != "" {
						files = append(files, txtar.File{Name: name, Data: []byte(got[name])})
					}
				}
				ar.Files = files
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, f := range ar.Files {
				if !strings.HasPrefix(f.Name, "out/") {
					continue
				}
				if want := string(f.Data); got[f.Name] != want {
					t.Errorf("%s differs from %s:\n%s", f.Name, path, firstDiff(want, got[f.Name]))
				}
				delete(got, f.Name)
			}
			for name, text := range got {
				if text != "" {
					t.Errorf("%s: no %s section (run with CELLC_UPDATE=1)", path, name)
				}
			}
		})
	}
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

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// firstDiff shows the first differing line, so a failure is readable
// without dumping thousands of lines.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return "(no line differs)"
}
