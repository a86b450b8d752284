package compiler

import (
	"testing"

	"cellc/compiler/ir"
	"cellc/lang"
)

// The stdlib skeletons' parameter defaults are the source's own configs,
// so they must equal the presets that set them: nasnet_cifar is TF-slim's
// cifar_config, nasnet_imagenet its mobile_imagenet_config.
func TestSkeletonDefaultsArePresets(t *testing.T) {
	prog, diags := CheckFile(&lang.File{Name: "empty.cell"})
	if len(diags) > 0 {
		t.Fatalf("stdlib: %v", diags)
	}
	for sk, pre := range map[string]string{"nasnet_cifar": "cifar", "nasnet_imagenet": "mobile"} {
		s := prog.Skeletons[sk]
		if s == nil {
			t.Fatalf("no skeleton %s", sk)
		}
		cfg := preset(t, pre)
		want := map[string]float64{
			"n": float64(cfg.N), "base_filters": float64(cfg.BaseFilters), "stem_multiplier": cfg.StemMultiplier,
			"image_size": float64(cfg.ImageSize), "channels": float64(cfg.Channels), "classes": float64(cfg.Classes),
			"dense_dropout_keep_prob": cfg.DenseDropoutKeepProb, "skip_reduction_layer_input": 0,
		}
		for name, w := range want {
			p := s.Params[name]
			if p == nil {
				t.Errorf("%s: no parameter %s", sk, name)
				continue
			}
			if got, err := evalExpr(p.Default, nil); err != nil || got != w {
				t.Errorf("%s: %s = %v, preset %s has %v", sk, name, got, pre, w)
			}
		}
		if DefaultSkeleton(cfg.Dataset) != sk {
			t.Errorf("dataset %s builds %s by default, want %s", cfg.Dataset, DefaultSkeleton(cfg.Dataset), sk)
		}
	}
}

// Naming the default skeleton changes nothing; naming the other one
// builds the ImageNet stem from a CIFAR config.
func TestNetworkNamesSkeleton(t *testing.T) {
	base := parseSpec(t, "../specs/nasnet_a.cell")
	cfg := preset(t, "cifar")
	cfg.N, cfg.Training = 1, false
	want := buildGraphText(t, base, cfg)
	for _, sk := range []string{"nasnet_cifar", "nasnet_imagenet"} {
		f := withSkeleton(t, base, sk)
		got := buildGraphText(t, f, cfg)
		if same := got == want; same != (sk == "nasnet_cifar") {
			t.Errorf("skeleton: %s: graph equal to the default's = %v", sk, same)
		}
		if sk == "nasnet_imagenet" {
			res, _ := Build(f, cfg, Options{})
			if _, ok := endpoints(res.Built)["Cell_Stem_1"]; !ok {
				t.Errorf("skeleton: nasnet_imagenet built no stem cells")
			}
			if got := endpoints(res.Built)["Stem"]; got != (ir.Shape{C: 64, H: 4, W: 4}) {
				t.Errorf("skeleton: nasnet_imagenet at 32x32: stem %v, want 4x4x64", got)
			}
		}
	}
}

func withSkeleton(t *testing.T, f *lang.File, sk string) *lang.File {
	t.Helper()
	out := *f
	out.Decls = nil
	for _, d := range f.Decls {
		if n, ok := d.(*lang.NetworkDecl); ok {
			c := *n
			c.Fields = append(append([]*lang.Field(nil), n.Fields...), &lang.Field{Key: lang.Ident{Name: "skeleton"}, Value: lang.Ident{Name: sk}})
			d = &c
		}
		out.Decls = append(out.Decls, d)
	}
	return &out
}

func buildGraphText(t *testing.T, f *lang.File, cfg Config) string {
	t.Helper()
	res, diags := Build(f, cfg, Options{})
	if diags.HasErrors() {
		t.Fatalf("build: %v", diags)
	}
	return res.Built.String()
}
