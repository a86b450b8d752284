package genotype

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"cellc/internal/txtartest"
	"cellc/lang"
)

// FuzzGenotype: Parse and ParseFile never panic, every diagnostic points
// into the input, and a genotype that reads without errors prints to
// text that reads back to the same genotype. The seeds are the published
// genotypes (the whole file and each line), the bad inputs of
// testdata/errors.txtar and the corpus in testdata/fuzz/FuzzGenotype;
// plain `go test` runs them all.
func FuzzGenotype(f *testing.F) {
	src, err := os.ReadFile(publishedPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	for _, line := range strings.Split(string(src), "\n") {
		if _, expr, ok := strings.Cut(line, " = "); ok {
			f.Add([]byte(expr))
		}
	}
	a, err := txtar.ParseFile(filepath.Join("testdata", "errors.txtar"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range a.Files {
		if !strings.HasPrefix(file.Name, txtartest.Prefix) {
			f.Add(file.Data)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		g, diags := Parse("g", src)
		checkDiags(t, src, diags)
		if (g == nil) != diags.HasErrors() {
			t.Fatalf("Parse returned %v with %v", g, diags)
		}
		if g != nil {
			roundTrip(t, g)
		}
		entries, diags := ParseFile("g", src)
		checkDiags(t, src, diags)
		for _, e := range entries {
			checkDiags(t, src, e.Diags)
			if (e.Genotype == nil) != e.Diags.HasErrors() {
				t.Fatalf("entry %q: genotype %v with %v", e.Name, e.Genotype, e.Diags)
			}
			if e.Genotype != nil {
				roundTrip(t, e.Genotype)
			}
		}
	})
}

func checkDiags(t *testing.T, src []byte, diags lang.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		s := d.Subject
		if s.File != "g" || s.Start.Line < 1 || s.Start.Col < 1 || s.Start.Offset > len(src) ||
			s.End.Offset < s.Start.Offset || s.End.Offset > len(src) || d.Summary == "" {
			t.Fatalf("bad diagnostic %+v for %q", d, src)
		}
	}
}

func roundTrip(t *testing.T, g *Genotype) {
	t.Helper()
	text := g.String()
	again, diags := Parse("again", []byte(text))
	if diags.HasErrors() {
		t.Fatalf("printed genotype does not parse: %v\n%s", diags, text)
	}
	if again.String() != text {
		t.Fatalf("print/parse/print differs:\n%s\n%s", text, again.String())
	}
}
