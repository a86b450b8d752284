package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConfig checks that a network config sets what it names and
// refuses, with the file and position, everything it would otherwise
// drop: unknown keys, TF-slim hparams that do not shape the network, and
// the bounded activation cellc does not build.
func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base, _ := Preset("cifar")
	cfg, err := LoadConfig(write("ok.yaml", "n: 2\nfilters: 384\nuse_bounded_activation: false\n"), base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.N != 2 || cfg.Filters != 384 || cfg.BaseFilters != base.BaseFilters || cfg.UseBoundedActivation {
		t.Errorf("loaded %+v", cfg)
	}
	for _, c := range []struct{ name, src, want string }{
		{"steps.yaml", "n: 2\ntotal_training_steps: 1000\n", "steps.yaml:2:1: total_training_steps is not a network setting: ScheduledDropPath follows training progress"},
		{"wd.yaml", "weight_decay: 4e-5\n", "wd.yaml:1:1: weight_decay is not a network setting: it is a recipe field (--weight-decay"},
		{"format.yaml", "  data_format: NCHW\n", "format.yaml:1:3: data_format is not a network setting"},
		{"relu6.yaml", "use_bounded_activation: true\n", "relu6.yaml:1:25: use_bounded_activation: true is not implemented"},
		{"typo.yaml", "n: 2\nbase_filter: 32\n", `typo.yaml:2: unknown key "base_filter"; did you mean "base_filters"?`},
		{"type.yaml", "n: two\n", "type.yaml:1: cannot unmarshal !!str `two` into int"},
	} {
		_, err := LoadConfig(write(c.name, c.src), base)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// All of them at once, one per line.
	_, err = LoadConfig(write("all.yaml", "total_training_steps: 1\ndata_format: NHWC\nweight_decay: 0\n"), base)
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("three retired keys: %v", err)
	}
	bounded := base
	bounded.UseBoundedActivation = true
	if err := bounded.Validate(); err == nil {
		t.Error("Validate accepts use_bounded_activation")
	}
}
