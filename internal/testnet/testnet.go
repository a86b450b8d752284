// Package testnet compiles the small networks the runtime's tests run:
// one place that says what "a small network from a spec" is, for the CPU
// backend's tests, the GPU backend's parity tests and the export checks.
package testnet

import (
	"os"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
)

// SmallPlan compiles spec into a tiny CIFAR-style network: N=1, 4 base
// filters, stem multiplier 2, 16×16 images (32×32 for ENAS' skeleton, see
// smallImage), 5 classes, drop path and dropout off. A network whose
// skeleton counts layers (DARTS') gets 4 layers and 29×29 images (see
// countsLayers). mutate, when not nil, changes the configuration further.
func SmallPlan(t testing.TB, spec string, training bool, mutate func(*compiler.Config)) *plan.Plan {
	t.Helper()
	p, err := plan.Lower(SmallBuild(t, spec, training, mutate).Graph)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// SmallBuild is SmallPlan's network before lowering, for tests that lower
// it themselves (the export checks lower it with and without batch-norm
// folding).
func SmallBuild(t testing.TB, spec string, training bool, mutate func(*compiler.Config)) *compiler.Result {
	t.Helper()
	src, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse(spec, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, _ := compiler.Preset("cifar")
	cfg.N, cfg.BaseFilters, cfg.Filters = 1, 4, 0
	cfg.ImageSize, cfg.Classes = smallImage(f), 5
	cfg.StemMultiplier = 2
	cfg.Training = training
	cfg.DropPathKeepProb, cfg.DenseDropoutKeepProb = 1, 1
	if countsLayers(t, f, cfg) {
		// 4 layers put the reductions at 1 and 2 and a normal cell after
		// them: the fewest that build every cell and input adaptation
		// DARTS has (a normal cell reading the stem twice, a reduction
		// after a normal cell and after a reduction, FactorizedReduce
		// into a normal cell); a gradient check's cost grows roughly with
		// the square of the cells. The aux head follows layer 2, and
		// AuxiliaryHeadCIFAR pools 5×5 at stride 3 and then convolves
		// 2×2, so it needs an 8×8 map after two reductions: 29 → 15 → 8
		// is the smallest input that leaves one, odd sizes included.
		cfg.Layers, cfg.ImageSize = 4, 29
	}
	if mutate != nil {
		mutate(&cfg)
	}
	res, diags := compiler.Build(f, cfg, compiler.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return res
}

// smallImage is the image size of the tiny network: 16×16, except for a
// network stacked into the standard library's enas_cifar skeleton, whose
// aux head (micro_child.py's, after the layer that follows the second
// reduction) reads a quarter of the image through a 5×5 VALID pool of
// stride 3: 16×16 leaves it 4×4, too small, and 20×20 a 1×1 map, where
// its batch norms see one value per image and the gradient check is
// ill-conditioned; 32×32, ENAS' own size, gives it its 2×2.
func smallImage(f *lang.File) int {
	for _, d := range f.Decls {
		if n, ok := d.(*lang.NetworkDecl); ok {
			for _, fl := range n.Fields {
				if (fl.Key.Name == "skeleton" || fl.Key.Name == "cifar_skeleton") && fl.Value.Name == "enas_cifar" {
					return 32
				}
			}
		}
	}
	return 16
}

// countsLayers reports whether the network cfg picks in f is built into a
// skeleton that counts layers rather than cells per stage.
func countsLayers(t testing.TB, f *lang.File, cfg compiler.Config) bool {
	t.Helper()
	prog, diags := compiler.CheckFile(f)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	net, diags := compiler.SelectNetwork(prog, f, cfg.Network)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sk := net.SkeletonFor(cfg.Dataset)
	return sk != nil && sk.Params["layers"] != nil
}
