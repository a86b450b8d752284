package asmgen

import (
	"os"
	"path/filepath"
	"testing"

	"cellc/internal/atomicfile"
	"cellc/internal/txtartest"
)

// TestFilesUpToDate checks that package tile's generated assembly is what
// Files writes; with CELLC_UPDATE=1 it rewrites the files instead.
func TestFilesUpToDate(t *testing.T) {
	for name, want := range Files() {
		path := filepath.Join("..", name)
		if txtartest.Update() {
			if err := atomicfile.WriteFile(path, []byte(want)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s differs from what asmgen writes (%s); regenerate with CELLC_UPDATE=1 go test ./runtime/kernels/internal/tile/asmgen", path, txtartest.FirstDiff(want, string(got)))
		}
	}
}
