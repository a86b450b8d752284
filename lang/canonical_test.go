package lang

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCanonicalFiles checks that the repository's own .cell files are in
// canonical form: Format(Parse(src)) == src. If one is not, run
//
//	go run ./cmd/cellc fmt -w specs/*.cell stdlib/ops.cell
//
// from the repository root.
func TestCanonicalFiles(t *testing.T) {
	paths, err := filepath.Glob("../specs/*.cell")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "../stdlib/ops.cell")
	if len(paths) < 2 {
		t.Fatal("no .cell files found in ../specs")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, diags := Parse(path, src)
			if diags.HasErrors() {
				t.Fatalf("%s does not parse:\n%v", path, diags)
			}
			if out := Format(f); string(out) != string(src) {
				t.Errorf("%s is not in canonical form; run `cellc fmt -w` on it\n--- formatted\n%s", path, out)
			}
		})
	}
}
