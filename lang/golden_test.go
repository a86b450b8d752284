package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// Golden files regenerate with CELLC_UPDATE=1 (an environment variable,
// not a flag, so that `go test ./...` needs nothing special).
var update = os.Getenv("CELLC_UPDATE") == "1"

// goldenDir is the repository's testdata/lang.
const goldenDir = "../testdata/lang"

// txtarCases runs fn on every txtar file in dir. fn returns the sections
// it produced; they are compared with the file's sections of the same
// names, or written into it under CELLC_UPDATE=1.
func txtarCases(t *testing.T, dir string, fn func(t *testing.T, a *txtar.Archive) map[string]string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no test cases in %s", dir)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := fn(t, a)
			changed := false
			for name, want := range got {
				f := section(a, name)
				if f == nil {
					a.Files = append(a.Files, txtar.File{Name: name})
					f = &a.Files[len(a.Files)-1]
				}
				if string(f.Data) == want {
					continue
				}
				if update {
					f.Data, changed = []byte(want), true
					continue
				}
				t.Errorf("%s: section %q differs\n--- got\n%s--- want\n%s", path, name, want, f.Data)
			}
			if changed {
				if err := os.WriteFile(path, txtar.Format(a), 0o666); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// section returns the file of a named name, or nil.
func section(a *txtar.Archive, name string) *txtar.File {
	for i := range a.Files {
		if a.Files[i].Name == name {
			return &a.Files[i]
		}
	}
	return nil
}

// mustSection returns the data of a's section name or fails the test.
func mustSection(t *testing.T, a *txtar.Archive, name string) []byte {
	t.Helper()
	f := section(a, name)
	if f == nil {
		t.Fatalf("no %q section", name)
	}
	return f.Data
}
