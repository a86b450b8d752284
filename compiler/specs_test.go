package compiler

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"cellc/compiler/ir"
)

// Every published cell in specs/ must parse, check without a diagnostic,
// and build under each of TF-slim's presets, for training and for
// inference, into graphs the verifier accepts.
func TestSpecsBuild(t *testing.T) {
	paths, err := filepath.Glob("../specs/*.cell")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no specs found in ../specs")
	}
	for _, path := range paths {
		f := parseSpec(t, path)
		if _, diags := CheckFile(f); len(diags) > 0 {
			t.Errorf("%s: check:\n%v", path, diags)
			continue
		}
		for _, name := range []string{"cifar", "mobile", "large"} {
			for _, training := range []bool{true, false} {
				mode := map[bool]string{true: "training", false: "inference"}[training]
				t.Run(fmt.Sprintf("%s/%s/%s", filepath.Base(path), name, mode), func(t *testing.T) {
					cfg := preset(t, name)
					cfg.Training = training
					res, diags := Build(f, cfg, Options{})
					if diags.HasErrors() {
						t.Fatalf("build:\n%v", diags)
					}
					if len(diags) > 0 {
						t.Errorf("build warnings:\n%v", diags)
					}
					checkBuilt(t, res, cfg)
				})
			}
		}
	}
}

// checkBuilt checks what every build must satisfy: both graphs verify,
// the mode's training-only nodes are present or absent, the logits have
// the class count, and the passes keep the parameters.
func checkBuilt(t *testing.T, res *Result, cfg Config) {
	t.Helper()
	for name, g := range map[string]*ir.Graph{"built": res.Built, "final": res.Graph} {
		if err := ir.Verify(g); err != nil {
			t.Errorf("%s graph: %v", name, err)
		}
		if g.Training != cfg.Training {
			t.Errorf("%s graph: Training = %v, want %v", name, g.Training, cfg.Training)
		}
		logits := endpoint(t, g, "Logits")
		if want := (ir.Shape{C: cfg.Classes, H: 1, W: 1}); logits != want {
			t.Errorf("%s graph: logits %v, want %v", name, logits, want)
		}
		_, hasAux := endpoints(g)["AuxLogits"]
		if hasAux != cfg.Training || (g.AuxOutput >= 0) != cfg.Training {
			t.Errorf("%s graph: aux head present = %v (AuxOutput %d), want %v", name, hasAux, g.AuxOutput, cfg.Training)
		}
	}
	trainingOnly := 0
	for _, n := range res.Built.Nodes {
		if n.Kind == ir.DropPath || n.Kind == ir.Dropout || n.Aux {
			trainingOnly++
		}
	}
	if !cfg.Training && trainingOnly > 0 {
		t.Errorf("inference graph has %d training-only nodes", trainingOnly)
	}
	if cfg.Training && trainingOnly == 0 {
		t.Errorf("training graph has no aux head, drop path or dropout")
	}

	// The passes may drop dead nodes (dse), so compare with the live part
	// of the built graph. Only routed cells (NASNet-B) leave dead nodes:
	// the last cells' states routed past the end of the network.
	live := eliminateDead(res.Built)
	built, final := totalCost(live), totalCost(res.Graph)
	if all := totalCost(res.Built); all != built {
		if res.Network.Normal.Route || res.Network.Reduction.Route {
			t.Logf("built graph has %d parameters, %d of them dead (routed past the last cell)", all.Params, all.Params-built.Params)
		} else {
			t.Errorf("built graph has %d parameters, %d of them in nodes no output reads", all.Params, all.Params-built.Params)
		}
	}
	if cfg.Training {
		// Fusion regroups nodes; it must not add or lose a weight.
		if final.Params != built.Params || final.Moving != built.Moving {
			t.Errorf("passes changed the parameters: built %d + %d moving, final %d + %d moving",
				built.Params, built.Moving, final.Params, final.Moving)
		}
		return
	}
	// Inference: each folded BN (2C parameters, 2C moving statistics)
	// becomes a C-wide bias on its conv.
	if final.Params <= 0 || final.Params > built.Params {
		t.Errorf("folded graph has %d parameters, built %d: want 0 < folded <= built", final.Params, built.Params)
	}
	foldedC := bnChannels(live) - bnChannels(res.Graph)
	if foldedC <= 0 {
		t.Errorf("inference passes folded no batch norm")
	}
	if want := built.Params - foldedC; final.Params != want {
		t.Errorf("folded graph has %d parameters, want %d (built %d less %d folded BN channels)", final.Params, want, built.Params, foldedC)
	}
	if want := built.Moving - 2*foldedC; final.Moving != want {
		t.Errorf("folded graph has %d moving statistics, want %d", final.Moving, want)
	}
}

func totalCost(g *ir.Graph) ir.Cost {
	main, aux := g.Costs()
	return ir.Cost{Params: main.Params + aux.Params, Moving: main.Moving + aux.Moving, MultAdd: main.MultAdd + aux.MultAdd}
}

// bnChannels sums the channels of every batch norm, fused or not.
func bnChannels(g *ir.Graph) int64 {
	var n int64
	for _, node := range g.Nodes {
		if node.Kind == ir.BatchNorm {
			n += int64(node.Shape.C)
		}
		for _, s := range node.Chain {
			if s.Kind == ir.BatchNorm {
				n += int64(s.Shape.C)
			}
		}
	}
	return n
}

func endpoints(g *ir.Graph) map[string]ir.Shape {
	m := map[string]ir.Shape{}
	for _, e := range g.Endpoints {
		m[e.Name] = g.Nodes[e.Node].Shape
	}
	return m
}

func endpoint(t *testing.T, g *ir.Graph, name string) ir.Shape {
	t.Helper()
	s, ok := endpoints(g)[name]
	if !ok {
		t.Errorf("no endpoint %s", name)
	}
	return s
}

// NASNet-A's endpoint shapes under the three presets: the table of the
// facts file, §1.5 (TF-slim nasnet_test.py).
func TestNASNetAEndpoints(t *testing.T) {
	type stage struct {
		hw, c int
	}
	cases := []struct {
		preset                       string
		stem, stage1, red0           stage
		stage2, red1, stage3         stage
		conv0, cellStem0             stage // ImageNet only
		wantStemCells, cellsPerStage int
	}{
		{preset: "cifar", cellsPerStage: 6,
			stem: stage{32, 96}, stage1: stage{32, 192}, red0: stage{16, 256},
			stage2: stage{16, 384}, red1: stage{8, 512}, stage3: stage{8, 768}},
		{preset: "mobile", cellsPerStage: 4, wantStemCells: 2,
			stem: stage{28, 88}, stage1: stage{28, 264}, red0: stage{14, 352},
			stage2: stage{14, 528}, red1: stage{7, 704}, stage3: stage{7, 1056},
			conv0: stage{111, 32}, cellStem0: stage{56, 44}},
		{preset: "large", cellsPerStage: 6, wantStemCells: 2,
			stem: stage{42, 336}, stage1: stage{42, 1008}, red0: stage{21, 1344},
			stage2: stage{21, 2016}, red1: stage{11, 2688}, stage3: stage{11, 4032},
			conv0: stage{165, 96}, cellStem0: stage{83, 168}},
	}
	f := parseSpec(t, "../specs/nasnet_a.cell")
	for _, c := range cases {
		for _, training := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/training=%v", c.preset, training), func(t *testing.T) {
				cfg := preset(t, c.preset)
				cfg.Training = training
				if cfg.N != c.cellsPerStage {
					t.Fatalf("preset %s has N = %d, want %d", c.preset, cfg.N, c.cellsPerStage)
				}
				res, diags := Build(f, cfg, Options{})
				if diags.HasErrors() {
					t.Fatalf("build:\n%v", diags)
				}
				for _, g := range []*ir.Graph{res.Built, res.Graph} {
					want := map[string]stage{"Stem": c.stem, "Reduction_Cell_0": c.red0, "Reduction_Cell_1": c.red1}
					for i := 0; i < cfg.N; i++ {
						want[fmt.Sprintf("Cell_%d", i)] = c.stage1
						want[fmt.Sprintf("Cell_%d", cfg.N+i)] = c.stage2
						want[fmt.Sprintf("Cell_%d", 2*cfg.N+i)] = c.stage3
					}
					if c.wantStemCells > 0 {
						want["Conv0"] = c.conv0
						want["Cell_Stem_0"] = c.cellStem0
					}
					got := endpoints(g)
					names := make([]string, 0, len(want))
					for name := range want {
						names = append(names, name)
					}
					sort.Strings(names)
					for _, name := range names {
						s := want[name]
						w := ir.Shape{C: s.c, H: s.hw, W: s.hw}
						if have, ok := got[name]; !ok {
							t.Errorf("no endpoint %s", name)
						} else if have != w {
							t.Errorf("%s is %v, want %v", name, have, w)
						}
					}
					if _, ok := got[fmt.Sprintf("Cell_%d", 3*cfg.N)]; ok {
						t.Errorf("endpoint Cell_%d: more than 3N normal cells", 3*cfg.N)
					}
					stems := 0
					for name := range got {
						if strings.HasPrefix(name, "Cell_Stem_") {
							stems++
						}
					}
					if stems != c.wantStemCells {
						t.Errorf("%d stem cells, want %d", stems, c.wantStemCells)
					}
				}
			})
		}
	}
}
