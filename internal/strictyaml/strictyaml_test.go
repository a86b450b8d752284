package strictyaml

import (
	"strings"
	"testing"
)

type inner struct {
	Depth int `yaml:"depth"`
}

type conf struct {
	LR     float64 `yaml:"lr"`
	Epochs int     `yaml:"epochs"`
	Plain  string
	Skip   string `yaml:"-"`
	Nested inner  `yaml:"nested"`
}

func TestDecode(t *testing.T) {
	c := conf{LR: 1, Epochs: 3}
	if err := Decode("r.yaml", []byte("lr: 0.5\nplain: x\nnested: {depth: 2}\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.LR != 0.5 || c.Epochs != 3 || c.Plain != "x" || c.Nested.Depth != 2 {
		t.Errorf("decoded %+v", c)
	}
	if err := Decode("empty.yaml", nil, &c); err != nil {
		t.Errorf("an empty file: %v", err)
	}
	for _, tc := range []struct{ src, want string }{
		{"lr: 1\nepoch: 3\n", `r.yaml:2: unknown key "epoch"; did you mean "epochs"?`},
		{"nested:\n  dpth: 1\n", `r.yaml:2: unknown key "dpth"; did you mean "depth"?`},
		{"zzzzzz: 1\n", `r.yaml:1: unknown key "zzzzzz" (keys: lr, epochs, plain, nested)`},
		{"lr: 1\nepochs: many\n", "r.yaml:2: cannot unmarshal !!str `many` into int"},
		{"lr: [1\n", "r.yaml:1: did not find expected ',' or ']'"},
		{"lr: 1\n---\nlr: 2\n", "r.yaml: holds more than one YAML document"},
	} {
		err := Decode("r.yaml", []byte(tc.src), &conf{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
	// Every problem is reported, one per line.
	err := Decode("r.yaml", []byte("lrr: 1\nepochz: 2\n"), &conf{})
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("two unknown keys: %v", err)
	}
}
