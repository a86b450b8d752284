package space

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"cellc/compiler"
	"cellc/lang"
)

func TestDefaultSpaceIsThePapers(t *testing.T) {
	s := DefaultSpace()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ds := s.Decisions()
	if len(ds) != 2*5*5 || s.NumDecisions() != len(ds) {
		t.Fatalf("%d decisions, NumDecisions %d; want 50", len(ds), s.NumDecisions())
	}
	for i, d := range ds {
		cell := lang.Normal
		if i >= 25 {
			cell = lang.Reduction
		}
		b, k := (i%25)/5, Kind(i%5)
		want := map[Kind]int{InputA: 2 + b, InputB: 2 + b, OpA: 13, OpB: 13, Combine: 2}[k]
		if d.Cell != cell || d.Block != b || d.Kind != k || d.Choices != want || len(d.Names) != want {
			t.Errorf("decision %d = %+v; want %s b%d %s with %d choices", i, d, cell, b, k, want)
		}
	}
	if got := strings.Join(ds[4*5].Names, " "); got != "h_i h_i-1 b0 b1 b2 b3" {
		t.Errorf("block 4 states = %s", got)
	}
	if s.MaxStates() != 6 {
		t.Errorf("MaxStates = %d, want 6", s.MaxStates())
	}
	s.SeparateReduction = false
	if s.NumDecisions() != 25 || len(s.Decisions()) != 25 {
		t.Errorf("shared cells: %d decisions, want 25", len(s.Decisions()))
	}
}

func TestSpecsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../specs/search/*.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d search spaces, want nasnet, small and tiny", len(files))
	}
	for _, f := range files {
		s, err := LoadSpace(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if filepath.Base(f) == "nasnet.yaml" {
			want := DefaultSpace()
			if !equalYAML(t, s, want) {
				t.Errorf("nasnet.yaml differs from DefaultSpace")
			}
		}
	}
}

func TestLoadSpaceErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"blocks: 5\nbloks: 3\n", `bad.yaml:2: unknown key "bloks"; did you mean "blocks"?`},
		{"blocks: [5]\n", "bad.yaml:1: cannot unmarshal !!seq into int"},
		{"blocks: 5\n  x: : 1\n", "bad.yaml:2: "},
		{"ops: [sep3x3, sep3x4]\n", `bad.yaml: ops: unknown operation "sep3x4"; did you mean "sep3x3"?`},
		{"ops: [sep3x3, sep3x3]\n", `listed twice`},
		{"combiners: [add, concatenate]\n", `bad.yaml: combiners: unknown combiner "concatenate"`},
		{"blocks: 0\n", "blocks must be between 1 and 16"},
		{"inputs: 5\n", "inputs must be between 1 and 4"},
		{"child:\n  dataset: imagenet64\n", `bad.yaml: child: unknown dataset "imagenet64"`},
		{"child:\n  base_filters: 7\n", "base_filters must be even"},
		{"child:\n  schedule: linear\n", `unknown schedule "linear"`},
		{"strategy:\n  name: bayes\n", `bad.yaml: strategy: unknown strategy "bayes"`},
		{"strategy:\n  lr: 0\n", "lr must be positive"},
		{"strategy:\n  population: 4\n  sample: 5\n", "sample must be between 1 and population"},
		{"strategy:\n  zzzzzz: red\n", `bad.yaml:2: unknown key "zzzzzz" (keys: name, seed,`},
		{"retrain:\n  topp: 3\n", `unknown key "topp"; did you mean "top"?`},
		{"retrain:\n  top: 3\n  epochs: 0\n", "retrain: epochs must be at least 1"},
		{"architectures: 0\n", "architectures must be at least 1"},
		{"blocks: 5\n---\nblocks: 4\n", "more than one YAML document"},
	} {
		_, err := ParseSpace("bad.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.src, err, tc.want)
		}
	}
	if _, err := LoadSpace("no/such/file.yaml"); err == nil || !strings.Contains(err.Error(), "no/such/file.yaml") {
		t.Errorf("missing file: %v", err)
	}
	s, err := ParseSpace("empty.yaml", nil)
	if err != nil || !equalYAML(t, s, DefaultSpace()) {
		t.Errorf("an empty file should give the defaults (err %v)", err)
	}
	s, err = ParseSpace("ops.yaml", []byte("ops: [sep3x3]\nchild:\n  n: 3\n"))
	if err != nil || len(s.Ops) != 1 || s.Child.N != 3 || s.Child.Epochs != 20 {
		t.Errorf("a list replaces the default and other fields keep theirs: %+v, %v", s, err)
	}
}

func equalYAML(t *testing.T, a, b *Space) bool {
	t.Helper()
	return sprint(a) == sprint(b)
}

func randomArch(s *Space, r *rand.Rand) Arch {
	ds := s.Decisions()
	a := make(Arch, len(ds))
	for i, d := range ds {
		a[i] = r.IntN(d.Choices)
	}
	return a
}

// nasnetA is slim's NASNet-A in this space (its out: lists aside).
var nasnetA = Arch{
	0, 1, 11, 10, 0, 1, 1, 11, 10, 0, 0, 1, 4, 0, 0, 1, 1, 4, 4, 0, 0, 0, 10, 0, 0,
	0, 1, 11, 12, 0, 0, 1, 5, 12, 0, 0, 1, 4, 11, 0, 3, 2, 0, 4, 0, 2, 0, 10, 5, 0,
}

const nasnetAText = `normal cell nasnet_normal {
  block < in: h_i, h_i-1;   op: sep5x5, sep3x3;   combine: add >
  block < in: h_i-1, h_i-1; op: sep5x5, sep3x3;   combine: add >
  block < in: h_i, h_i-1;   op: avg3x3, identity; combine: add >
  block < in: h_i-1, h_i-1; op: avg3x3, avg3x3;   combine: add >
  block < in: h_i, h_i;     op: sep3x3, identity; combine: add >
}

reduction cell nasnet_reduction {
  block < in: h_i, h_i-1; op: sep5x5, sep7x7;   combine: add >
  block < in: h_i, h_i-1; op: max3x3, sep7x7;   combine: add >
  block < in: h_i, h_i-1; op: avg3x3, sep5x5;   combine: add >
  block < in: b1, b0;     op: identity, avg3x3; combine: add >
  block < in: b0, h_i;    op: sep3x3, max3x3;   combine: add >
}

network nasnet {
  normal: nasnet_normal
  reduction: nasnet_reduction
}
`

func TestCellText(t *testing.T) {
	s := DefaultSpace()
	text, err := s.CellText(nasnetA, "nasnet")
	if err != nil {
		t.Fatal(err)
	}
	if text != nasnetAText {
		t.Errorf("CellText =\n%s\nwant\n%s", text, nasnetAText)
	}
	r := rand.New(rand.NewPCG(1, 1))
	seen := map[string]string{}
	for range 200 {
		a := randomArch(s, r)
		text, err := s.CellText(a, "arch")
		if err != nil {
			t.Fatal(err)
		}
		f, diags := lang.Parse("a.cell", []byte(text))
		if diags.HasErrors() {
			t.Fatalf("%v\n%s", diags, text)
		}
		if string(lang.Format(f)) != text {
			t.Fatalf("not canonical:\n%s", text)
		}
		again, _ := s.CellText(a.Clone(), "arch")
		if again != text || Hash(again) != Hash(text) {
			t.Fatal("CellText is not deterministic")
		}
		if prev, ok := seen[Hash(text)]; ok && prev != a.String() {
			t.Fatalf("architectures %s and %s share a hash", prev, a)
		}
		seen[Hash(text)] = a.String()
	}
	if len(Hash("x")) != 16 || Hash("x") == Hash("y") {
		t.Errorf("Hash: %q %q", Hash("x"), Hash("y"))
	}
	for _, name := range []string{"", "9lives", "a-b", "network"} {
		if _, err := s.CellText(nasnetA, name); err == nil {
			t.Errorf("name %q: no error", name)
		}
	}
	bad := nasnetA.Clone()
	bad[0] = 2 // block 0 can read only h_i and h_i-1
	if _, err := s.CellText(bad, "x"); err == nil || !strings.Contains(err.Error(), "normal b0 input A") {
		t.Errorf("out-of-range input: %v", err)
	}
	if _, err := s.CellText(nasnetA[:10], "x"); err == nil {
		t.Error("short architecture: no error")
	}

	shared := DefaultSpace()
	shared.SeparateReduction = false
	text, err = shared.CellText(nasnetA[:25], "nasnet")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(nasnetAText[:strings.Index(nasnetAText, "\n}\n")+3], "normal", "reduction", 2); !strings.Contains(text, want) {
		t.Errorf("shared cells: the reduction cell is not the normal one:\n%s", text)
	}
}

func TestArchString(t *testing.T) {
	got := nasnetA.String()
	if !strings.HasPrefix(got, "0 1 11 10 0 ") || strings.Contains(got, "|") || len(strings.Fields(got)) != 50 {
		t.Errorf("String = %q", got)
	}
	formatted := DefaultSpace().Format(nasnetA)
	if !strings.Contains(formatted, " 10 0 0 | 0 1 11 12 ") {
		t.Errorf("Format = %q", formatted)
	}
	for _, text := range []string{got, formatted} {
		back, err := ParseArch(text)
		if err != nil || !back.Equal(nasnetA) {
			t.Errorf("ParseArch(%q) = %v, %v", text, back, err)
		}
	}
	if _, err := ParseArch("1 x 2"); err == nil {
		t.Error("ParseArch accepted a non-number")
	}
}

// build compiles a sampled .cell file as a small CIFAR child (N = 1, base
// filters 4) and returns the last normal cell's width.
func build(t *testing.T, text string) (int, error) {
	t.Helper()
	f, diags := lang.Parse("sampled.cell", []byte(text))
	if diags.HasErrors() {
		return 0, diags
	}
	cfg, err := compiler.Preset("cifar")
	if err != nil {
		t.Fatal(err)
	}
	cfg.N, cfg.BaseFilters = 1, 4
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if diags.HasErrors() {
		return 0, diags
	}
	return res.Filters, nil
}

// TestEveryChoiceCompiles builds, for every op and every combiner of the
// default space, cells that use it on every kind of input (cell inputs,
// blocks, concat-widened blocks), then random architectures.
func TestEveryChoiceCompiles(t *testing.T) {
	s := DefaultSpace()
	ds := s.Decisions()
	for op := range s.Ops {
		for comb := range s.Combiners {
			a := make(Arch, len(ds))
			for i, d := range ds {
				switch d.Kind {
				case InputA:
					a[i] = d.Choices - 1 // the previous block (or h_i-1 in block 0)
				case InputB:
					a[i] = d.Block % 2 // h_i or h_i-1
				case OpA, OpB:
					a[i] = op
				case Combine:
					a[i] = comb
				}
			}
			text, err := s.CellText(a, "every")
			if err != nil {
				t.Fatal(err)
			}
			width, err := build(t, text)
			if err != nil {
				t.Errorf("op %s, combiner %s: %v\n%s", s.Ops[op], s.Combiners[comb], err, text)
				continue
			}
			// Each block reads the one before, so the cell outputs its
			// last block alone: F = 16 in the last stage, 2F if concat.
			if want := map[string]int{"add": 16, "concat": 32}[s.Combiners[comb]]; width != want {
				t.Errorf("op %s, combiner %s: the cell is %d wide, want %d", s.Ops[op], s.Combiners[comb], width, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(2, 2))
	for range 50 {
		text, err := s.CellText(randomArch(s, r), "random")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := build(t, text); err != nil {
			t.Errorf("%v\n%s", err, text)
		}
	}
}

func TestRecipeConversions(t *testing.T) {
	s := DefaultSpace()
	cfg, err := s.Child.CompilerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.N != 2 || cfg.BaseFilters != 32 || cfg.ImageSize != 32 || cfg.Channels != 3 || cfg.Classes != 10 || cfg.AuxHead || !cfg.Training || cfg.Dataset != "cifar10" {
		t.Errorf("child config = %+v", cfg)
	}
	tr := s.Child.TrainRecipe()
	if tr.Epochs != 20 || tr.Schedule != "cosine" || tr.BatchSize != 32 || tr.LR != 0.025 || tr.Momentum != 0.9 || tr.AuxWeight != 0 || tr.Optimizer != "sgd" {
		t.Errorf("child recipe = %+v", tr)
	}
	if tr := s.Retrain.TrainRecipe(); tr.Epochs != 600 || tr.AuxWeight != 0.4 {
		t.Errorf("retrain recipe = %+v", tr)
	}
	fm := Recipe{Dataset: "fashion-mnist", Channels: 0}
	if size, ch, cl := fm.Input(); size != 28 || ch != 1 || cl != 10 {
		t.Errorf("fashion-mnist input = %d %d %d", size, ch, cl)
	}
}

func sprint(s *Space) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// A space can name a skeleton: darts_tiny.yaml's children are DARTS-style
// networks (darts_cifar at 5 layers). A sampled child's text names the
// skeleton, and it compiles under the child recipe into 5 cells, the
// reductions at layers 1 and 3, after DARTS' 3C stem.
func TestSkeletonSpaceChildCompiles(t *testing.T) {
	s, err := LoadSpace("../../specs/search/darts_tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Child.CompilerConfig()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	for range 5 {
		text, err := s.CellText(randomArch(s, r), "child")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "skeleton: darts_cifar") {
			t.Fatalf("the child's text names no skeleton:\n%s", text)
		}
		f, diags := lang.Parse("child.cell", []byte(text))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		res, diags := compiler.Build(f, cfg, compiler.Options{})
		if diags.HasErrors() {
			t.Fatalf("%v\n%s", diags, text)
		}
		if res.Config.Layers != 5 {
			t.Errorf("built %d layers, want the recipe's 5", res.Config.Layers)
		}
		var cells int
		for _, ep := range res.Built.Endpoints {
			if strings.HasPrefix(ep.Name, "Cell_") {
				cells++
				if sh := res.Built.Nodes[ep.Node].Shape; (ep.Name == "Cell_1" && sh.H != 8) || (ep.Name == "Cell_3" && sh.H != 4) {
					t.Errorf("%s is %v; the reductions are at layers 1 and 3", ep.Name, sh)
				}
			}
		}
		if cells != 5 || res.Built.Nodes[1].Scope != "stem/conv" {
			t.Errorf("%d cells, first node %q; want 5 cells after darts_cifar's stem/conv", cells, res.Built.Nodes[1].Scope)
		}
	}
}

// An unknown skeleton is refused with the nearest name; a recipe's n
// under a skeleton that counts layers, or its layers under one that
// counts cells per stage, is refused at its position, not ignored.
func TestSpaceSkeletonErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"skeleton: darts_cifr\n", `bad.yaml: skeleton: unknown skeleton "darts_cifr"; did you mean "darts_cifar"?`},
		{"skeleton: darts_cifar\nchild:\n  n: 2\n", "bad.yaml:3:3: child: n: skeleton darts_cifar has no parameter n; set layers"},
		{"child:\n  layers: 8\n", "bad.yaml:2:3: child: layers: skeleton nasnet_cifar has no parameter layers; set n"},
		{"skeleton: darts_cifar\nretrain:\n  n: 6\n", "bad.yaml:3:3: retrain: n: skeleton darts_cifar"},
		{"child:\n  layers: -1\n", "layers must be between 1 and 1000"},
	} {
		_, err := ParseSpace("bad.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}
