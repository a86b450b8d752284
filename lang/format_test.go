package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"cellc/internal/txtartest"
)

// TestFormatGolden checks Format's output for the cases in
// testdata/lang/format: "in.cell" formats to "out/cell".
func TestFormatGolden(t *testing.T) {
	txtartest.Run(t, filepath.Join(goldenDir, "format", "*.txtar"), func(t *testing.T, a *txtar.Archive) map[string]string {
		f := mustParse(t, string(txtartest.MustSection(t, a, "in.cell")))
		out := Format(f)
		checkRoundTrip(t, "in.cell", f, out)
		return map[string]string{"out/cell": string(out)}
	})
}

// checkRoundTrip checks that out (Format(f)) parses back to f and formats
// to itself.
func checkRoundTrip(t *testing.T, name string, f *File, out []byte) {
	t.Helper()
	g, diags := Parse(name, out)
	if len(diags) > 0 {
		t.Fatalf("formatted output does not parse:\n%v\n--- output\n%s", diags, out)
	}
	if !Equal(f, g) {
		t.Errorf("Parse(Format(f)) differs from f\n--- output\n%s", out)
	}
	if again := Format(g); string(again) != string(out) {
		t.Errorf("Format is not idempotent\n--- once\n%s--- twice\n%s", out, again)
	}
}

// TestRoundTripFiles formats every .cell file of the repository's
// stdlib and specs. Files that do not parse (specs may be work in
// progress) are skipped.
func TestRoundTripFiles(t *testing.T) {
	n := 0
	for _, dir := range []string{"../stdlib", "../specs"} {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".cell") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				return nil
			}
			f, diags := Parse(path, src)
			if diags.HasErrors() {
				t.Logf("skipping %s, which does not parse:\n%v", path, diags)
				return nil
			}
			n++
			t.Run(path, func(t *testing.T) { checkRoundTrip(t, path, f, Format(f)) })
			return nil
		})
	}
	if n == 0 {
		t.Error("no .cell files found in ../stdlib or ../specs")
	}
}

func TestRoundTripInline(t *testing.T) {
	for _, src := range roundTripCases {
		f := mustParse(t, src)
		checkRoundTrip(t, "t.cell", f, Format(f))
	}
}

// roundTripCases are small inputs shared with the fuzz seeds.
var roundTripCases = []string{
	"",
	// skeletons: parameters, extends, positions, pipelines, scopes, parentheses
	"skeleton s(n = 6, f = 2.5) extends b { layers: 3 * (n - 1) / 2  # body\n reductions: at n, 2 * n\n stem: conv(k: 3x3, pad: valid, filters: f * 32) as conv0 -> bn as a/b_bn -> gap() }",
	"skeleton t {\n  # before\n  aux: after 2*n-1\n\n  classifier: relu -> gap -> dropout(keep: p) -> dense(filters: classes) as FC -> relu -> relu -> relu -> relu -> relu\n}",
	"# only a comment",
	"op a = b",
	"op a = b() -> c(k: 1x7, s: $stride, d: 2)",
	// widths relative to F (AmoebaNet's bottleneck), spaced or not
	"op a = relu -> conv(k: 1, filters: $F/4) -> conv(k: 1x7, filters: $F * 3 / 8) -> pw(filters: $F*2) -> pw(filters: $F)",
	"normal cell c { }",
	"reduction cell c { block < in: h_i; op: x; combine: add > route: b0, b1 }",
	"normal cell c { block x < combine: add; in: h_i, h_i-1, b0; op: a > out: x }",
	"network n { }",
	"network n { normal: a reduction: b depth: c }",
	"network n { normal: a reduction: b  # cells\n # on ImageNet\n imagenet_skeleton: p cifar_skeleton: q }",
	"skeleton p extends nasnet_imagenet { inputs: reduce_prev(hold: 1 - skip_reduction_layer_input) }",
	"op a = b # t\n# own\n\n# after blank\nop c = d # t2\n# end",
	"normal cell c { # a\n # b\n block < in: h_i, # c\n h_i; op: a, b; combine: add > # d\n # e\n } # f",
	"normal # a\n cell # b\n c # c\n { # d\n }",
	"network # a\n n # b\n { # c\n normal # d\n : # e\n a # f\n # g\n } # h",
	"op a = b ->\n # in pipeline\n c(\n # in args\n k: 3)",
	"\n\n# first\n\n\n# second\n\n\nop a = b\n\n\n# end\n\n",
	"# a \r\nop a = b\r\n",
	// Blank lines and alignment runs.
	"op a = b\n\n\nop bb = c # x\nop ccc = d # y\n# own\nop e = f\nnormal cell c { }\nreduction cell d { }",
	"normal cell c {\n\n block < in: h_i; op: a; combine: add > # t\n\n # c\n\n block x < in: # inside\n h_i, h_i-1; op: a, b; combine: add >\n block < in: h_i; op: a; combine: add >\n\n out: b0 # o\n\n}",
	"network n { a: b # c\n\n cc: d # e\n fff: g }\nnetwork m {}\n# c\n\nop a = b",
	"op a = b # c\n\n# d\n\nop b = c ->\n # e\n\n d\nop cc = d",
}

func TestFormatNil(t *testing.T) {
	if Format(nil) != nil {
		t.Error("Format(nil) is not nil")
	}
	// A hand-built tree: no spans, nil entries, a comment with nowhere
	// to go. Format must print what it can, keep the comment and not
	// panic.
	f := &File{
		Decls: []Decl{
			(*OpDecl)(nil),
			&OpDecl{Name: Ident{Name: "a"}, Stages: []*Stage{nil, {Prim: Ident{Name: "b"}, Args: []*Arg{nil}}}},
			&CellDecl{Name: Ident{Name: "c"}, Blocks: []*Block{nil, {}}},
			&NetworkDecl{Name: Ident{Name: "n"}, Fields: []*Field{nil}},
		},
		Comments: []Comment{{Text: "# c"}},
	}
	out := string(Format(f))
	if !strings.Contains(out, "op a = b()") || !strings.Contains(out, "# c") {
		t.Errorf("got\n%s", out)
	}
}

func TestEqual(t *testing.T) {
	a := mustParse(t, "op a = b(k: 3)\nnormal cell c { block < in: h_i; op: x; combine: add > }")
	b := mustParse(t, "  op a = b(k: 3)   normal cell c{block<in:h_i;op:x;combine:add>}")
	if !Equal(a, b) {
		t.Error("files that differ only in layout are not Equal")
	}
	for _, src := range []string{
		"op a = b(k: 4)\nnormal cell c { block < in: h_i; op: x; combine: add > }",
		"op a = b(k: 3x3)\nnormal cell c { block < in: h_i; op: x; combine: add > }",
		"op a = b(k: 3)\nreduction cell c { block < in: h_i; op: x; combine: add > }",
		"op a = b(k: 3)\nnormal cell c { block b < in: h_i; op: x; combine: add > }",
		"op a = b(k: 3)\nnormal cell c { block < in: h_i; op: x; combine: add > out: b0 }",
		"op a = b(k: 3) # c\nnormal cell c { block < in: h_i; op: x; combine: add > }",
	} {
		if Equal(a, mustParse(t, src)) {
			t.Errorf("Equal to %q", src)
		}
	}
	if !Equal(nil, nil) || Equal(a, nil) {
		t.Error("Equal with nil")
	}
}

// TestFormatBlocksPartial: blocks that lack fields (Parse reports those,
// but Format prints any tree) leave their columns blank.
func TestFormatBlocksPartial(t *testing.T) {
	ids := func(names ...string) []Ident {
		out := make([]Ident, len(names))
		for i, n := range names {
			out[i] = Ident{Name: n}
		}
		return out
	}
	got := formatBlocks([]*Block{
		{Inputs: []Ref{{Name: "h_i"}, {Name: "h_i-1"}}, Ops: ids("a", "b"), Combine: Ident{Name: "add"}},
		{Name: &Ident{Name: "s3"}, Ops: ids("c", "d"), Combine: Ident{Name: "add"}},
		{Inputs: []Ref{{Name: "b0"}}, Combine: Ident{Name: "concat"}},
		{Inputs: []Ref{{Name: "b0"}}},
		{},
	})
	want := []string{
		"block    < in: h_i, h_i-1; op: a, b; combine: add >",
		"block s3 <                 op: c, d; combine: add >",
		"block    < in: b0;                   combine: concat >",
		"block    < in: b0 >",
		"block    < >",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
