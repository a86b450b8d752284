package compiler

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"cellc/internal/txtartest"

	"cellc/compiler/ir"
	"cellc/lang"
)

// The semantic-error corpus: each testdata/check/*.txtar holds a small
// .cell file (-- in.cell --) and the diagnostics it must produce
// (-- out/errors --), one Diagnostic.String() per line, in the order the
// compiler returns them. The file is checked together with the standard
// library; when it declares a network and checks cleanly, it is also built
// under the cifar preset, so build-time errors (shape mismatches, odd
// filter counts) belong in the same section.
//
// CELLC_UPDATE=1 go test ./compiler -run TestCheckCorpus rewrites the
// out/errors sections from what the compiler says now; read the diff.

const corpusDir = "../testdata/check"

func TestCheckCorpus(t *testing.T) {
	n := txtartest.Run(t, filepath.Join(corpusDir, "*.txtar"), func(t *testing.T, ar *txtar.Archive) map[string]string {
		return map[string]string{"out/errors": checkCorpusFile(t, txtartest.MustSection(t, ar, "in.cell"))}
	})
	if n < 25 {
		t.Errorf("found %d corpus files in %s, want at least 25", n, corpusDir)
	}
}

// checkCorpusFile parses, checks and (for a clean file with a network)
// builds src, and returns the diagnostics one per line.
func checkCorpusFile(t *testing.T, src []byte) string {
	t.Helper()
	f, diags := lang.Parse("in.cell", src)
	if len(diags) > 0 {
		// The corpus is about the checker; a syntax error here is a bug in
		// the test file or in the parser.
		t.Fatalf("parse:\n%v", diags)
	}
	_, diags = CheckFile(f)
	if !diags.HasErrors() && hasNetwork(f) {
		cfg, err := Preset("cifar")
		if err != nil {
			t.Fatal(err)
		}
		res, bdiags := Build(f, cfg, Options{})
		// Build checks again: its diagnostics include the checker's.
		diags = bdiags
		if !diags.HasErrors() && res == nil {
			t.Fatal("Build returned no result and no error")
		}
	}
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func hasNetwork(f *lang.File) bool {
	for _, d := range f.Decls {
		if _, ok := d.(*lang.NetworkDecl); ok {
			return true
		}
	}
	return false
}

// A --filters that the normal cell's output width does not divide is a
// build error on the network, with the nearest valid values.
func TestFiltersNotDivisible(t *testing.T) {
	f := parseSpec(t, "../specs/nasnet_a.cell")
	cfg := preset(t, "cifar")
	cfg.BaseFilters, cfg.Filters = 0, 770
	res, diags := Build(f, cfg, Options{})
	if res != nil || !diags.HasErrors() {
		t.Fatalf("Build with --filters 770 succeeded")
	}
	want := `../specs/nasnet_a.cell:54:9: --filters 770 is not a multiple of 24: cell "nasnet_a_normal" outputs 6 states of F filters and F doubles 2 times; nearest valid: 792 or 768`
	if got := diags.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	cfg.Filters = 12
	_, diags = Build(f, cfg, Options{})
	if got := diags.Error(); !strings.Contains(got, "the smallest is 24") {
		t.Errorf("--filters 12: got %s, want a hint naming the smallest width", got)
	}

	cfg.Filters = 792 // the next valid width: F = 33
	res, diags = Build(f, cfg, Options{})
	if diags.HasErrors() {
		t.Fatalf("--filters 792: %v", diags)
	}
	if got := endpoints(res.Built)["Cell_17"]; got != (ir.Shape{C: 792, H: 8, W: 8}) {
		t.Errorf("--filters 792: last cell %v, want 8x8x792", got)
	}
}

func parseSpec(t testing.TB, path string) *lang.File {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse(path, src)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	return f
}

// The corpus files must be in txtar's canonical form, with in.cell and then
// out/errors (absent where a case must build cleanly), so that a
// regenerated file differs only in its errors.
func TestCheckCorpusShape(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*.txtar"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ar := txtar.Parse(data)
		if len(ar.Files) == 0 || len(ar.Files) > 2 || ar.Files[0].Name != "in.cell" || (len(ar.Files) == 2 && ar.Files[1].Name != "out/errors") {
			t.Errorf("%s: want sections in.cell and out/errors, in that order", path)
		}
		if !bytes.Equal(txtar.Format(ar), data) {
			t.Errorf("%s: not in txtar's canonical form", path)
		}
	}
}
