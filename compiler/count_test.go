package compiler

import (
	"os"
	"testing"

	"cellc/compiler/ir"
	"cellc/lang"
)

func buildSpec(t testing.TB, path string, cfg Config) *Result {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := lang.Parse(path, src)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	res, diags := Build(f, cfg, Options{})
	if diags.HasErrors() {
		t.Fatalf("build: %v", diags)
	}
	return res
}

func preset(t testing.TB, name string) Config {
	cfg, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The acceptance numbers: TF-slim/Keras counts (facts file §2).
func TestNASNetACounts(t *testing.T) {
	cifar := preset(t, "cifar")
	cifar.BaseFilters, cifar.Filters = 0, 768
	mobile := preset(t, "mobile")
	mobile.BaseFilters, mobile.Filters = 0, 1056
	large := preset(t, "large")
	cases := []struct {
		name                    string
		cfg                     Config
		params, moving, withAux int64
		madds                   int64 // ±0.05%
		out                     ir.Shape
	}{
		{"cifar 6@768", cifar, 3346538, 37248, 4978036, 544_300_000, ir.Shape{C: 768, H: 8, W: 8}},
		{"mobile 4@1056", mobile, 5289978, 36738, 7701218, 563_600_000, ir.Shape{C: 1056, H: 7, W: 7}},
		{"large 6@4032", large, 88753150, 196668, 93320934, 23_783_000_000, ir.Shape{C: 4032, H: 11, W: 11}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := buildSpec(t, "../specs/nasnet_a.cell", c.cfg)
			main, aux := res.Built.Costs()
			if main.Params != c.params || main.Moving != c.moving {
				t.Errorf("params %d + moving %d, want %d + %d", main.Params, main.Moving, c.params, c.moving)
			}
			if got := main.Params + aux.Params; got != c.withAux {
				t.Errorf("params with aux head %d, want %d", got, c.withAux)
			}
			if d := float64(main.MultAdd-c.madds) / float64(c.madds); d > 5e-4 || d < -5e-4 {
				t.Errorf("mult-adds %d, want about %d", main.MultAdd, c.madds)
			}
			t.Logf("params %d moving %d aux %d madds %d", main.Params, main.Moving, aux.Params, main.MultAdd)
			var last ir.Shape
			for _, e := range res.Built.Endpoints {
				if e.Name == "Cell_"+itoa(3*c.cfg.N-1) {
					last = res.Built.Nodes[e.Node].Shape
				}
			}
			if last != c.out {
				t.Errorf("last cell %v, want %v", last, c.out)
			}
		})
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
