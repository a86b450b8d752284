package darts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"cellc/compiler"
	"cellc/internal/txtartest"
	"cellc/lang"
	"cellc/lang/genotype"
	"cellc/stdlib"
)

const published = "../../lang/genotype/testdata/published.py"

func publishedEntries(t *testing.T) []*genotype.Entry {
	t.Helper()
	src, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	entries, diags := genotype.ParseFile(published, src)
	if len(diags) > 0 || len(entries) == 0 {
		t.Fatalf("%s: %d entries, %v", published, len(entries), diags)
	}
	return entries
}

// importAndCheck imports g and checks the file, failing on any error.
func importAndCheck(t *testing.T, g *genotype.Genotype, name string) (*lang.File, *compiler.Program, []byte) {
	t.Helper()
	text, err := Import(g, Options{Name: name, Source: g.Name})
	if err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse("imported.cell", text)
	if len(diags) > 0 {
		t.Fatalf("imported file does not parse: %v\n%s", diags, text)
	}
	if again := lang.Format(f); !bytes.Equal(again, text) {
		t.Errorf("imported file is not in canonical form:\n%s", text)
	}
	prog, diags := compiler.CheckFile(f)
	if diags.HasErrors() {
		t.Fatalf("imported file does not check: %v\n%s", diags, text)
	}
	for _, d := range diags {
		t.Logf("warning: %v", d)
	}
	return f, prog, text
}

// TestRoundTrip: every published genotype imports to a .cell file that
// checks and builds, and exports back to the same genotype (range(2, 6)
// and AutoDL's grouped pairs print in DARTS' list form).
func TestRoundTrip(t *testing.T) {
	for _, e := range publishedEntries(t) {
		t.Run(e.Name, func(t *testing.T) {
			f, prog, _ := importAndCheck(t, e.Genotype, "")
			net, diags := compiler.SelectNetwork(prog, f, "")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			g, diags := Export(prog, net)
			if len(diags) > 0 {
				t.Fatalf("export: %v", diags)
			}
			if got, want := g.String(), e.Genotype.String(); got != want {
				t.Errorf("round trip changed the genotype:\n got %s\nwant %s", got, want)
			}
			cfg, err := compiler.Preset("cifar")
			if err != nil {
				t.Fatal(err)
			}
			cfg.N = 1
			if _, diags := compiler.Build(f, cfg, compiler.Options{}); diags.HasErrors() {
				t.Errorf("build: %v", diags)
			}
		})
	}
}

// TestDARTSV2MatchesSpec: the published DARTS_V2 imports to cells that
// compile to the same IR as specs/darts_v2.cell's hand-written ones,
// under every preset, for training and inference.
func TestDARTSV2MatchesSpec(t *testing.T) {
	var v2 *genotype.Genotype
	for _, e := range publishedEntries(t) {
		if e.Name == "DARTS_V2" {
			v2 = e.Genotype
		}
	}
	imported, prog, _ := importAndCheck(t, v2, "")
	specPath := "../../specs/darts_v2.cell"
	src, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	spec, diags := lang.Parse(specPath, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}

	// The cells, block by block.
	specProg, diags := compiler.CheckFile(spec)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, name := range []string{"darts_v2_normal", "darts_v2_reduction"} {
		a, b := prog.Cells[name], specProg.Cells[name]
		if a == nil || b == nil {
			t.Fatalf("cell %s: imported %v, spec %v", name, a != nil, b != nil)
		}
		if got, want := cellString(a), cellString(b); got != want {
			t.Errorf("cell %s:\nimported %s\n    spec %s", name, got, want)
		}
	}

	// The compiled networks, node by node.
	for _, preset := range []string{"cifar", "mobile", "large"} {
		for _, training := range []bool{true, false} {
			cfg, err := compiler.Preset(preset)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Training = training
			a, diags := compiler.Build(imported, cfg, compiler.Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			b, diags := compiler.Build(spec, cfg, compiler.Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for _, pair := range [][2]string{{irText(a.Built.String()), irText(b.Built.String())}, {irText(a.Graph.String()), irText(b.Graph.String())}} {
				if pair[0] != pair[1] {
					t.Errorf("%s training=%v: imported and spec IR differ:\n%s", preset, training, firstDiff(pair[0], pair[1]))
				}
			}
			if a.Graph.String() == "" || len(a.Built.Nodes) < 100 {
				t.Errorf("%s: suspiciously small graph (%d nodes)", preset, len(a.Built.Nodes))
			}
		}
	}
}

// cellString prints a checked cell's wiring: blocks, ops, combiners and
// outputs.
func cellString(c *compiler.Cell) string {
	ref := func(r compiler.StateRef) string {
		switch {
		case r.Block >= 0:
			return fmt.Sprintf("b%d", r.Block)
		case r.Input == 0:
			return "h_i"
		}
		return fmt.Sprintf("h_i-%d", r.Input)
	}
	var b strings.Builder
	for _, bl := range c.Blocks {
		fmt.Fprintf(&b, "%s< %s:%s %s:%s %s> ", bl.Name, ref(bl.Inputs[0]), bl.Ops[0].Name, ref(bl.Inputs[1]), bl.Ops[1].Name, bl.Combine)
	}
	b.WriteString("out:")
	for _, r := range c.Out {
		b.WriteString(" " + ref(r))
	}
	return b.String()
}

// irText drops what differs between two files holding the same cells:
// the graph's name line and each node's source position.
func irText(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "graph ") {
			continue
		}
		if i := strings.LastIndex(l, " @"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "imported: " + al[i] + "\n    spec: " + bl[i]
		}
	}
	return "lengths differ"
}

// TestExportErrors: cells outside DARTS' space are refused at the token
// that does not fit. testdata/export.txtar holds NAME.cell sections and
// out/NAME, the diagnostics; CELLC_UPDATE=1 rewrites the out/ sections.
func TestExportErrors(t *testing.T) {
	txtartest.Run(t, filepath.Join("testdata", "export.txtar"), func(t *testing.T, a *txtar.Archive) map[string]string {
		out := map[string]string{}
		for _, f := range a.Files {
			if !strings.HasSuffix(f.Name, ".cell") {
				continue
			}
			file, diags := lang.Parse(f.Name, f.Data)
			if diags.HasErrors() {
				t.Fatalf("%s: %v", f.Name, diags)
			}
			prog, diags := compiler.CheckFile(file)
			if diags.HasErrors() {
				t.Fatalf("%s: %v", f.Name, diags)
			}
			net, diags := compiler.SelectNetwork(prog, file, "")
			if diags.HasErrors() {
				t.Fatalf("%s: %v", f.Name, diags)
			}
			g, diags := Export(prog, net)
			if g != nil || !diags.HasErrors() {
				t.Errorf("%s: exported %v", f.Name, g)
			}
			var b bytes.Buffer
			diags.Render(&b, map[string][]byte{f.Name: f.Data, stdlib.Name: stdlib.Source()})
			out[txtartest.Prefix+strings.TrimSuffix(f.Name, ".cell")] = b.String()
		}
		return out
	})
}

// TestIdent: genotype names become .cell identifiers.
func TestIdent(t *testing.T) {
	for in, want := range map[string]string{
		"DARTS_V2": "darts_v2", "": "genotype", "PC-DARTS (cifar)": "pc_darts__cifar", "2nd": "g_2nd", "h_i": "g_h_i", "__": "genotype",
	} {
		if got := ident(in); got != want {
			t.Errorf("ident(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStdlibDefinesDARTSOps: every op a genotype may name is a standard
// library op that strides (so it can read a cell input of a reduction
// cell, as every DARTS op can).
func TestStdlibDefinesDARTSOps(t *testing.T) {
	prog, diags := compiler.CheckFile(&lang.File{Name: "empty.cell"})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, name := range genotype.Ops() {
		op := prog.Ops[name]
		switch {
		case op == nil:
			t.Errorf("stdlib does not define %s", name)
		case !op.Library || !op.Strides():
			t.Errorf("%s: library %v, strides %v", name, op.Library, op.Strides())
		}
	}
}
