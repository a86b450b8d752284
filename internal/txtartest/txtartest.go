// Package txtartest is the one golden-file harness of cellc's tests, after
// cue's internal/cuetxtar: each test case is a txtar archive holding its
// inputs (in.cell, a header comment, ...) and its expected outputs, in
// sections named out/NAME (out/errors, out/ir, out/plan, out/cell).
//
// CELLC_UPDATE=1 (exactly "1", an environment variable rather than a flag,
// so that `go test ./...` needs nothing special) rewrites every archive's
// out/ sections from what the code produces now; review the diff before
// committing. Without it, a missing, stale or different section fails.
package txtartest

import (
	"cellc/internal/atomicfile"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// Update reports whether golden files are to be rewritten: CELLC_UPDATE=1.
func Update() bool { return os.Getenv("CELLC_UPDATE") == "1" }

// Prefix begins the name of every output section.
const Prefix = "out/"

// Run runs fn on every archive matching pattern, each as a subtest named
// after its file, and returns how many it found (so a caller can insist on
// a corpus of some size). fn returns the outputs it produced, keyed by
// section name; an empty output is no section. Each is compared with the
// archive's section of that name, and every out/ section of the archive
// must be produced.
func Run(t *testing.T, pattern string, fn func(t *testing.T, a *txtar.Archive) map[string]string) int {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no test cases match %s", pattern)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			a, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := fn(t, a)
			for name := range got {
				if !strings.HasPrefix(name, Prefix) {
					t.Fatalf("output %q is not named %sNAME", name, Prefix)
				}
			}
			if Update() {
				if err := rewrite(path, a, got); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, f := range a.Files {
				if !strings.HasPrefix(f.Name, Prefix) {
					continue
				}
				if out := got[f.Name]; out != string(f.Data) {
					t.Errorf("%s: section %s differs (CELLC_UPDATE=1 rewrites it):\n%s", path, f.Name, FirstDiff(string(f.Data), out))
				}
				delete(got, f.Name)
			}
			for name, out := range got {
				if out != "" {
					t.Errorf("%s: no %s section (CELLC_UPDATE=1 writes it); it would hold:\n%s", path, name, out)
				}
			}
		})
	}
	return len(paths)
}

// rewrite replaces the archive's out/ sections by the outputs, in the
// order the archive had them and then in name order, and writes it back
// only when something changed, atomically, so an interrupted run leaves
// the old file whole.
func rewrite(path string, a *txtar.Archive, got map[string]string) error {
	before := txtar.Format(a)
	var files []txtar.File
	done := map[string]bool{}
	for _, f := range a.Files {
		if !strings.HasPrefix(f.Name, Prefix) {
			files = append(files, f)
			continue
		}
		if out := got[f.Name]; out != "" {
			files = append(files, txtar.File{Name: f.Name, Data: []byte(out)})
		}
		done[f.Name] = true
	}
	var fresh []string
	for name, out := range got {
		if !done[name] && out != "" {
			fresh = append(fresh, name)
		}
	}
	slices.Sort(fresh)
	for _, name := range fresh {
		files = append(files, txtar.File{Name: name, Data: []byte(got[name])})
	}
	a.Files = files
	after := txtar.Format(a)
	if string(after) == string(before) {
		return nil
	}
	return atomicfile.WriteFile(path, after)
}

// Section returns the data of the archive's section name, or nil.
func Section(a *txtar.Archive, name string) []byte {
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// MustSection returns the data of the archive's section name, or fails
// the test.
func MustSection(t *testing.T, a *txtar.Archive, name string) []byte {
	t.Helper()
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("no -- %s -- section", name)
	return nil
}

// FirstDiff shows the first line where want and got differ, so that a
// failure in a long golden file is readable.
func FirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return "(no line differs)"
}
