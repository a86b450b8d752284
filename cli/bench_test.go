package cli

import (
	"os"
	"testing"

	"cellc/compiler"
	"cellc/compiler/plan"
	"cellc/lang"
)

// BenchmarkBuildNASNetALarge measures the whole compile of NASNet-A
// 6 @ 4032 (TF-slim's large_imagenet_config): parse, check, build, the
// pass pipeline and lowering to a plan.
func BenchmarkBuildNASNetALarge(b *testing.B) {
	const path = "../specs/nasnet_a.cell"
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := compiler.Preset("large")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, diags := lang.Parse(path, src)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		res, diags := compiler.Build(f, cfg, compiler.Options{})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if _, err := plan.Lower(res.Graph); err != nil {
			b.Fatal(err)
		}
	}
}
