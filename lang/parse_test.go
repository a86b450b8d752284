package lang

import (
	"fmt"
	"strings"
	"testing"
)

const sample = `# ops
op sep3x3 = relu -> dw(k: 3, stride: $stride) -> pw -> bn
op c17 = conv(k: 1x7)

normal cell nasnet_a_normal {
  block < in: h_i, h_i-1;   op: sep5x5, sep3x3;  combine: add >
  block s2 < combine: concat; op: max3x3, sep3x3; in: h_i-1, b0; > # last
  out: h_i-1, b0, s2
}

reduction cell r {
  block < in: h_i, h_i; op: a, b; combine: add >
  route: b0
}

network nasnet_a {
  normal: nasnet_a_normal
  reduction: r
}
`

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, diags := Parse("t.cell", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	return f
}

func TestParseAST(t *testing.T) {
	f := mustParse(t, sample)
	if len(f.Decls) != 5 {
		t.Fatalf("got %d decls, want 5", len(f.Decls))
	}
	op := f.Decls[0].(*OpDecl)
	if op.Name.Name != "sep3x3" || len(op.Stages) != 4 {
		t.Fatalf("op: %+v", op)
	}
	dw := op.Stages[1]
	if dw.Prim.Name != "dw" || len(dw.Args) != 2 ||
		dw.Args[0].Key.Name != "k" || dw.Args[0].Value != (Value{Kind: IntValue, Int: 3, Span: dw.Args[0].Value.Span}) ||
		dw.Args[1].Value.Kind != VarValue || dw.Args[1].Value.Var != "stride" {
		t.Errorf("dw stage: %+v %+v %+v", dw, dw.Args[0], dw.Args[1])
	}
	k := f.Decls[1].(*OpDecl).Stages[0].Args[0].Value
	if k.Kind != KernelValue || k.KH != 1 || k.KW != 7 {
		t.Errorf("kernel value: %+v", k)
	}

	cell := f.Decls[2].(*CellDecl)
	if cell.Kind != Normal || cell.Name.Name != "nasnet_a_normal" || len(cell.Blocks) != 2 {
		t.Fatalf("cell: %+v", cell)
	}
	b := cell.Blocks[1]
	if b.Name == nil || b.Name.Name != "s2" || refNames(b.Inputs) != "h_i-1 b0" ||
		identNames(b.Ops) != "max3x3 sep3x3" || b.Combine.Name != "concat" {
		t.Errorf("block s2: %+v", b)
	}
	if cell.Out == nil || cell.Out.Mode != OutConcat || refNames(cell.Out.Refs) != "h_i-1 b0 s2" {
		t.Errorf("out: %+v", cell.Out)
	}
	red := f.Decls[3].(*CellDecl)
	if red.Kind != Reduction || red.Out == nil || red.Out.Mode != OutRoute || red.Blocks[0].Name != nil {
		t.Errorf("reduction cell: %+v", red)
	}
	net := f.Decls[4].(*NetworkDecl)
	if len(net.Fields) != 2 || net.Fields[1].Key.Name != "reduction" || net.Fields[1].Value.Name != "r" {
		t.Errorf("network: %+v", net)
	}
	if len(f.Comments) != 2 || f.Comments[0].Text != "# ops" || f.Comments[1].Text != "# last" {
		t.Errorf("comments: %+v", f.Comments)
	}
}

func refNames(rs []Ref) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Name)
	}
	return strings.Join(s, " ")
}

func identNames(ids []Ident) string {
	var s []string
	for _, id := range ids {
		s = append(s, id.Name)
	}
	return strings.Join(s, " ")
}

// TestSpans checks that each node's span covers exactly its text, and
// that every span's line and column agree with its offset.
func TestSpans(t *testing.T) {
	f := mustParse(t, sample)
	text := func(s Span) string { return sample[s.Start.Offset:s.End.Offset] }
	cell := f.Decls[2].(*CellDecl)
	op := f.Decls[0].(*OpDecl)
	tests := []struct {
		span Span
		want string
	}{
		{op.Span, "op sep3x3 = relu -> dw(k: 3, stride: $stride) -> pw -> bn"},
		{op.Name.Span, "sep3x3"},
		{op.Stages[1].Span, "dw(k: 3, stride: $stride)"},
		{op.Stages[1].Args[1].Span, "stride: $stride"},
		{op.Stages[1].Args[1].Value.Span, "$stride"},
		{op.Stages[3].Span, "bn"},
		{f.Decls[1].(*OpDecl).Stages[0].Args[0].Value.Span, "1x7"},
		{cell.KindSpan, "normal"},
		{cell.Blocks[0].Span, "block < in: h_i, h_i-1;   op: sep5x5, sep3x3;  combine: add >"},
		{cell.Blocks[0].Inputs[1].Span, "h_i-1"},
		{cell.Blocks[1].Name.Span, "s2"},
		{cell.Blocks[1].Combine.Span, "concat"},
		{cell.Out.Span, "out: h_i-1, b0, s2"},
		{f.Decls[4].(*NetworkDecl).Fields[0].Span, "normal: nasnet_a_normal"},
		{f.Comments[1].Span, "# last"},
	}
	for _, tt := range tests {
		if got := text(tt.span); got != tt.want {
			t.Errorf("span text %q, want %q", got, tt.want)
		}
	}
	if got := text(cell.Span); !strings.HasPrefix(got, "normal cell") || !strings.HasSuffix(got, "s2\n}") {
		t.Errorf("cell span text %q", got)
	}
	if s := cell.Blocks[1].Span; s.Start != (Pos{Line: 7, Col: 3, Offset: strings.Index(sample, "block s2")}) || s.File != "t.cell" {
		t.Errorf("block s2 starts at %+v in %q", s.Start, s.File)
	}
	forEachSpan(f, func(what string, s Span) {
		for _, p := range []Pos{s.Start, s.End} {
			if want := posAt(sample, p.Offset); p != want {
				t.Errorf("%s: position %+v, want %+v", what, p, want)
			}
		}
	})
}

// posAt computes the position of offset the slow way.
func posAt(src string, offset int) Pos {
	before := src[:offset]
	line := strings.Count(before, "\n") + 1
	return Pos{Line: line, Col: offset - (strings.LastIndex(before, "\n") + 1) + 1, Offset: offset}
}

// forEachSpan calls fn with every span in f.
func forEachSpan(f *File, fn func(what string, s Span)) {
	for _, c := range f.Comments {
		fn("comment", c.Span)
	}
	for _, d := range f.Decls {
		fn("decl", d.DeclSpan())
		fn("decl name", d.DeclName().Span)
		switch d := d.(type) {
		case *OpDecl:
			for _, s := range d.Stages {
				fn("stage", s.Span)
				fn("prim", s.Prim.Span)
				for _, a := range s.Args {
					fn("arg", a.Span)
					fn("arg key", a.Key.Span)
					fn("value", a.Value.Span)
				}
			}
		case *CellDecl:
			fn("kind", d.KindSpan)
			for _, b := range d.Blocks {
				fn("block", b.Span)
				if b.Name != nil {
					fn("block name", b.Name.Span)
				}
				for _, r := range b.Inputs {
					fn("input", r.Span)
				}
				for _, o := range b.Ops {
					fn("op", o.Span)
				}
				fn("combine", b.Combine.Span)
			}
			if d.Out != nil {
				fn("out", d.Out.Span)
				for _, r := range d.Out.Refs {
					fn("out ref", r.Span)
				}
			}
		case *NetworkDecl:
			for _, fl := range d.Fields {
				fn("field", fl.Span)
				fn("field key", fl.Key.Span)
				fn("field value", fl.Value.Span)
			}
		}
	}
}

// TestColumnsCountBytes: the AST counts columns in bytes (participle
// counts runes).
func TestColumnsCountBytes(t *testing.T) {
	_, diags := Parse("t", []byte("op x = a ->é"))
	if len(diags) != 1 || diags[0].Subject.Start.Col != 12 || diags[0].Subject.End.Col != 14 {
		t.Errorf("got %v", diags)
	}
}

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name, src string
		decls     int
		comments  []string
	}{
		{"empty", "", 0, nil},
		{"only whitespace", " \n\t\n", 0, nil},
		{"only comments", "# a\n\n# b", 0, []string{"# a", "# b"}},
		{"comment at EOF without newline", "op a = b # c", 1, []string{"# c"}},
		{"CRLF line ends", "# a \r\nop a = b\r\n", 1, []string{"# a"}},
		{"comment with -> and symbols", "# a -> b { } < > $", 0, []string{"# a -> b { } < > $"}},
		{"stage with empty parens", "op a = b()", 1, nil},
		{"keywords as names", "op op = cell -> block\nnetwork network { normal: op }", 2, nil},
		{"odd refs are kept for the checker", "normal cell c { block < in: h_i-0, h_i-9; op: a, b; combine: add > }", 1, nil},
		{"trailing semicolon in block", "normal cell c { block < in: a; op: b; combine: c; > }", 1, nil},
		{"empty cell and network", "normal cell c { }\nnetwork n { }", 2, nil},
		{"large in-range int", "op a = b(k: 2147483647)", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.src)
			if len(f.Decls) != tt.decls {
				t.Errorf("got %d decls, want %d", len(f.Decls), tt.decls)
			}
			var got []string
			for _, c := range f.Comments {
				got = append(got, c.Text)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.comments) {
				t.Errorf("comments %q, want %q", got, tt.comments)
			}
		})
	}
	refs := mustParse(t, "normal cell c { block < in: h_i, h_i-2, b3, b03, s2, h_i-0, h_i-02; op: a, b; combine: add > }").Decls[0].(*CellDecl).Blocks[0].Inputs
	var typed []string
	for _, r := range refs {
		typed = append(typed, fmt.Sprintf("%s:%d/%d", r.Name, r.Kind, r.N))
	}
	if got, want := strings.Join(typed, " "), "h_i:1/0 h_i-2:1/2 b3:2/3 b03:0/0 s2:0/0 h_i-0:1/-1 h_i-02:1/-1"; got != want {
		t.Errorf("typed refs %q, want %q", got, want)
	}
	f := mustParse(t, "normal cell c { block < in: h_i-0, h_i-99999999999999999999; op: a, b; combine: add > }")
	if got := refNames(f.Decls[0].(*CellDecl).Blocks[0].Inputs); got != "h_i-0 h_i-99999999999999999999" {
		t.Errorf("refs %q", got)
	}
}

// TestParseRecovers: a syntax error in one declaration does not hide the
// declarations after it, nor their errors.
func TestParseRecovers(t *testing.T) {
	src := `op a = relu -> conv(k 3)
op b = relu
normal cell c {
  block < in: h_i h_i-1; op: x, y; combine: add >
}
normal cell d {
  block < in: h_i, h_i-1; op: x, y; combin: add >
}
network n {
  normal d
}
op e = bn
`
	f, diags := Parse("t", []byte(src))
	var names []string
	for _, d := range f.Decls {
		names = append(names, d.DeclName().Name)
	}
	if got := strings.Join(names, " "); got != "b d e" {
		t.Errorf("parsed decls %q, want \"b d e\"", got)
	}
	var lines []int
	for _, d := range diags {
		lines = append(lines, d.Subject.Start.Line)
	}
	if fmt.Sprint(lines) != "[1 4 7 10]" {
		t.Errorf("diagnostics on lines %v, want [1 4 7 10]:\n%v", lines, diags)
	}
}
