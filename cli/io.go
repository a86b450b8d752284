package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"cellc/lang"
	"cellc/stdlib"
)

// sources holds the text of every file diagnostics may point into, for
// Diagnostics.Render.
type sources map[string][]byte

func newSources() sources {
	return sources{stdlib.Name: stdlib.Source()}
}

// load reads and parses one .cell file, recording its text in srcs.
func (srcs sources) load(path string) (*lang.File, lang.Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fail(err)
	}
	srcs[path] = data
	f, diags := lang.Parse(path, data)
	return f, diags, nil
}

// diagCounter renders diagnostics as they come and counts the errors, so
// a command can finish with "cellc: 3 errors".
type diagCounter struct {
	w      io.Writer
	srcs   sources
	errors int
}

// report renders diags and reports whether any is an error.
func (c *diagCounter) report(diags lang.Diagnostics) bool {
	diags.Render(c.w, c.srcs)
	n := 0
	for _, d := range diags {
		if d.Severity == lang.Error {
			n++
		}
	}
	c.errors += n
	return n > 0
}

// err is the command's final error: nil, or "N errors" (exit 1).
func (c *diagCounter) err() error {
	switch c.errors {
	case 0:
		return nil
	case 1:
		return failf("1 error")
	}
	return failf("%d errors", c.errors)
}

// writeFileAtomic replaces path with data: it writes a temporary file in
// the same directory and renames it over path, so a reader (or a failed
// run) never sees a half-written file. An existing file keeps its mode.
func writeFileAtomic(path string, data []byte) (err error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("write %s: not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temp file's name means nothing to the user
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeOutput writes data to path atomically, or to w when path is "" or "-".
func writeOutput(w io.Writer, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := w.Write(data)
		return err
	}
	return fail(writeFileAtomic(path, data))
}
