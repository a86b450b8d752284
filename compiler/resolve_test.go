package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cellc/lang"
)

// ResolveConfig applies the preset (or the dataset's defaults), the YAML
// and the flags in that order, and records which keys the user gave.
func TestResolveConfigOrder(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(yml, []byte("n: 2\nbase_filters: 16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, filters, imagenet := 3, 768, "imagenet"
	cfg, err := ResolveConfig(Request{ConfigFile: yml, Flags: Flags{N: &n}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.N != 3 || cfg.BaseFilters != 16 || !cfg.SkeletonDefaults {
		t.Errorf("yaml then --n: n %d base %d skeleton defaults %v; want 3, 16, true", cfg.N, cfg.BaseFilters, cfg.SkeletonDefaults)
	}
	want := []Given{{"n", yml + ":1:1"}, {"base_filters", yml + ":2:1"}, {"n", "--n"}}
	if len(cfg.Given) != len(want) {
		t.Fatalf("given %v, want %v", cfg.Given, want)
	}
	for i := range want {
		if cfg.Given[i] != want[i] {
			t.Errorf("given[%d] %v, want %v", i, cfg.Given[i], want[i])
		}
	}
	cfg, err = ResolveConfig(Request{Preset: "large", ConfigFile: yml, Flags: Flags{Filters: &filters, Dataset: &imagenet}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.N != 2 || cfg.Filters != 768 || cfg.BaseFilters != 0 || cfg.ImageSize != 331 || cfg.SkeletonDefaults {
		t.Errorf("large, yaml, --filters: %+v", cfg)
	}
	bad := "mnist"
	if _, err := ResolveConfig(Request{Flags: Flags{Dataset: &bad}}); !IsFlagError(err) {
		t.Errorf("--dataset mnist: %v, want a flag error", err)
	}
	if _, err := ResolveConfig(Request{ConfigFile: filepath.Join(dir, "missing.yaml")}); err == nil || IsFlagError(err) {
		t.Errorf("missing config: %v, want a file error", err)
	}
}

// dartsSpec is darts_v2.cell (its network names both DARTS skeletons)
// with a second network of its cells in NASNet's CIFAR skeleton.
func dartsSpec(t *testing.T) *lang.File {
	t.Helper()
	const path = "../specs/darts_v2.cell"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, "\nnetwork darts_in_nasnet {\n  normal: darts_v2_normal\n  reduction: darts_v2_reduction\n  skeleton: nasnet_cifar\n}\n"...)
	f, diags := lang.Parse(path, src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f
}

// Without a preset, the skeleton's own defaults stand for what the user
// did not set: DARTS' C = 36 and 20 layers on CIFAR, C = 48 and 14 layers
// on ImageNet, not the dataset's NASNet config. --layers sets the depth,
// and the resolved config says what was built.
func TestResolveSkeletonDefaults(t *testing.T) {
	f := dartsSpec(t)
	build := func(fl Flags) *Result {
		t.Helper()
		name := "darts_v2"
		fl.Network = &name
		cfg, err := ResolveConfig(Request{Flags: fl})
		if err != nil {
			t.Fatal(err)
		}
		res, diags := Build(f, cfg, Options{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return res
	}
	res := build(Flags{})
	if m, _ := res.Built.Costs(); m.Params != 3_349_342 || res.Config.Layers != 20 || res.Config.BaseFilters != 36 {
		t.Errorf("cifar defaults: %d params, %d layers, base %d; want 3,349,342, 20, 36", m.Params, res.Config.Layers, res.Config.BaseFilters)
	}
	if res.Config.Given != nil || res.Config.SkeletonDefaults {
		t.Errorf("the result's config keeps %v / %v; it should rebuild by itself", res.Config.Given, res.Config.SkeletonDefaults)
	}
	again, diags := Build(f, res.Config, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a, _ := again.Built.Costs()
	if m, _ := res.Built.Costs(); a != m {
		t.Errorf("rebuilding from the result's config gives %v, want %v", a, m)
	}
	imagenet := "imagenet"
	res = build(Flags{Dataset: &imagenet})
	if m, _ := res.Built.Costs(); m.Params != 4_718_752 || res.Config.Layers != 14 {
		t.Errorf("imagenet defaults: %d params, %d layers; want 4,718,752, 14", m.Params, res.Config.Layers)
	}
	layers, base := 8, 16
	res = build(Flags{Layers: &layers, BaseFilters: &base})
	if res.Config.Layers != 8 || res.BaseFilters != 16 || len(endpointsWith(res, "Cell_")) != 8 {
		t.Errorf("--layers 8 --base-filters 16: %d layers, base %d, %d cells", res.Config.Layers, res.BaseFilters, len(endpointsWith(res, "Cell_")))
	}
}

func endpointsWith(res *Result, prefix string) []string {
	var names []string
	for name := range endpoints(res.Built) {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	return names
}

// A key the user gave for a parameter the skeleton does not declare is
// refused, every one, where the build would otherwise ignore it: --n for
// a skeleton that counts layers, --layers for one that counts cells per
// stage, and any other (here YAML's, at its position).
func TestResolveRefusesUndeclared(t *testing.T) {
	f := dartsSpec(t)
	dir := t.TempDir()
	yml := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(yml, []byte("dense_dropout_keep_prob: 0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, layers := 3, 8
	for _, c := range []struct {
		network, config string
		fl              Flags
		want            []string
	}{
		{"darts_v2", "", Flags{N: &n}, []string{"--n: skeleton darts_cifar counts layers (layers = 20), not cells per stage", "set its depth with --layers"}},
		{"darts_in_nasnet", "", Flags{Layers: &layers}, []string{"--layers: skeleton nasnet_cifar counts cells per stage (n = 6), not layers", "--n (3N cells in all)"}},
		{"darts_v2", yml, Flags{}, []string{yml + ":1:1: dense_dropout_keep_prob: skeleton darts_cifar has no parameter dense_dropout_keep_prob, so the build would ignore it"}},
		{"darts_v2", yml, Flags{N: &n}, []string{"dense_dropout_keep_prob: skeleton", "--n: skeleton"}},
	} {
		name := c.network
		c.fl.Network = &name
		cfg, err := ResolveConfig(Request{ConfigFile: c.config, Flags: c.fl})
		if err != nil {
			t.Fatal(err)
		}
		_, diags := Build(f, cfg, Options{})
		var text strings.Builder
		for _, d := range diags {
			text.WriteString(d.Summary + "; " + d.Detail + "\n")
		}
		for _, w := range c.want {
			if !strings.Contains(text.String(), w) {
				t.Errorf("%s %+v: diagnostics\n%s\nwant %q", c.network, c.config, text.String(), w)
			}
		}
	}
}
