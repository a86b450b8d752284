package genotype

import (
	"bytes"
	"cellc/internal/txtartest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

const publishedPath = "testdata/published.py"

// TestPublished reads the genotypes the DARTS family publishes, checks
// the names and two of them field by field, and that printing and
// re-reading each gives the same genotype.
func TestPublished(t *testing.T) {
	src, err := os.ReadFile(publishedPath)
	if err != nil {
		t.Fatal(err)
	}
	entries, diags := ParseFile(publishedPath, src)
	if len(diags) > 0 {
		t.Fatalf("ParseFile: %v", diags)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if len(e.Diags) > 0 || e.Genotype == nil {
			t.Errorf("%s: %v", e.Name, e.Diags)
		}
	}
	want := "NASNet AmoebaNet DARTS_V1 DARTS_V2 DARTS PC_DARTS_cifar PC_DARTS_image PDARTS GDAS_V1"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names: %s, want %s", got, want)
	}
	byName := map[string]*Entry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	if e := byName["DARTS"]; e.Alias != "DARTS_V2" || e.Genotype != byName["DARTS_V2"].Genotype {
		t.Errorf("DARTS is not the alias of DARTS_V2: %+v", e)
	}

	// DARTS_V2 is printed exactly as genotypes.py writes it.
	for _, line := range strings.Split(string(src), "\n") {
		if text, ok := strings.CutPrefix(line, "DARTS_V2 = "); ok {
			if got := byName["DARTS_V2"].Genotype.String(); got != text {
				t.Errorf("DARTS_V2 printed as\n%s\nwant\n%s", got, text)
			}
		}
	}
	// range(2, 6) becomes a list; AutoDL's grouped pairs become flat.
	pc := byName["PC_DARTS_cifar"].Genotype
	if got := pc.String(); !strings.Contains(got, "normal_concat=[2, 3, 4, 5]") || !strings.HasSuffix(got, "reduce_concat=[2, 3, 4, 5])") {
		t.Errorf("PC_DARTS_cifar: %s", got)
	}
	gdas := byName["GDAS_V1"].Genotype
	if n := gdas.Normal.Nodes[3]; n[0].Op != "sep_conv_5x5" || n[0].Input != 4 || n[1].Op != "sep_conv_3x3" || n[1].Input != 3 {
		t.Errorf("GDAS_V1 normal node 3 = %+v", n)
	}
	nas := byName["NASNet"].Genotype
	if len(nas.Normal.Nodes) != 5 || len(nas.Reduce.Nodes) != 5 || !slices.Equal(nas.Reduce.Concat, []int{4, 5, 6}) {
		t.Errorf("NASNet: %d normal nodes, %d reduce nodes, reduce_concat %v", len(nas.Normal.Nodes), len(nas.Reduce.Nodes), nas.Reduce.Concat)
	}
	// Spans point at the source.
	e := gdas.Normal.Nodes[0][1]
	if got := string(src[e.OpSpan.Start.Offset:e.OpSpan.End.Offset]); got != "'skip_connect'" {
		t.Errorf("GDAS_V1 normal edge 1 op span covers %q", got)
	}

	for _, e := range entries {
		g := e.Genotype
		text := g.String()
		again, diags := Parse("again", []byte(text))
		if len(diags) > 0 {
			t.Errorf("%s: printed form does not parse: %v\n%s", e.Name, diags, text)
			continue
		}
		if again.String() != text {
			t.Errorf("%s: print/parse/print differs:\n%s\n%s", e.Name, text, again.String())
		}
		named, diags := Parse("named", []byte(e.Name+" = "+text))
		if len(diags) > 0 || named.Name != e.Name {
			t.Errorf("%s: NAME = Genotype(...) reads as %v %v", e.Name, named, diags)
		}
	}
}

// TestParseFile covers what ParseFile skips and how it reports one broken
// genotype without losing the others.
func TestParseFile(t *testing.T) {
	src := `from collections import namedtuple
Genotype = namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')
PRIMITIVES = [
'none',   # an unindented continuation line inside brackets
]
"""A docstring with Genotype(normal=[]) in it."""
def f(x):
  A = Genotype(oops)
  return x
A = Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=[2],
reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])
B = \
  Genotype(normal=[('sep_conv_9x9', 0), ('sep_conv_3x3', 1)], normal_concat=[2], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])
C = A
D = nothing
Genotype(normal=[('skip_connect', 0), ('sep_conv_3x3', 1)], normal_concat=[2], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])
A = Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], normal_concat=[2], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])
`
	entries, diags := ParseFile("g.py", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var got []string
	for _, e := range entries {
		s := e.Name + ":"
		if e.Alias != "" {
			s += "=" + e.Alias + ":"
		}
		if e.Genotype != nil {
			s += e.Genotype.Normal.Nodes[0][0].Op
		}
		for _, d := range e.Diags {
			s += d.String()
		}
		got = append(got, s)
	}
	want := []string{
		"A:skip_connect", // rebound by the last line
		`B:g.py:13:21: unknown operation "sep_conv_9x9"; did you mean "sep_conv_3x3"?`,
		"C:=A:sep_conv_3x3", // the A of its time
		":skip_connect",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// File-level errors leave no entries.
	entries, diags = ParseFile("g.py", []byte("A = Genotype(normal=[)\n"))
	if len(entries) != 0 || len(diags) != 1 || !strings.HasPrefix(diags[0].String(), `g.py:1:22: ")" does not close "["`) {
		t.Errorf("got %v, %v", entries, diags)
	}
}

// TestErrors renders the diagnostics of the bad genotypes in
// testdata/errors.txtar: each section is one genotype, and out/NAME holds
// what it renders to.
func TestErrors(t *testing.T) {
	txtartest.Run(t, filepath.Join("testdata", "errors.txtar"), func(t *testing.T, a *txtar.Archive) map[string]string {
		out := map[string]string{}
		for _, f := range a.Files {
			if strings.HasPrefix(f.Name, txtartest.Prefix) {
				continue
			}
			g, diags := Parse("genotype", f.Data)
			if g != nil || !diags.HasErrors() {
				t.Errorf("%s: no error", f.Name)
			}
			for _, d := range diags {
				if d.Subject.File != "genotype" || d.Subject.Start.Line < 1 || d.Subject.Start.Col < 1 || d.Summary == "" {
					t.Errorf("%s: badly placed diagnostic %v", f.Name, d)
				}
			}
			var b bytes.Buffer
			diags.Render(&b, map[string][]byte{"genotype": f.Data})
			out[txtartest.Prefix+f.Name] = b.String()
		}
		return out
	})
}

// TestString checks Python's repr of the rarer strings and an empty cell.
func TestString(t *testing.T) {
	g := &Genotype{
		Normal: Cell{Nodes: []Node{{{Op: "it's", Input: 0}, {Op: `a"b'c\`, Input: 1}}}, Concat: []int{2}},
	}
	want := `Genotype(normal=[("it's", 0), ('a"b\'c\\', 1)], normal_concat=[2], reduce=[], reduce_concat=[])`
	if got := g.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
