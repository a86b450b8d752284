package cli

import (
	"io"
	"os"

	"cellc/compiler"
	"cellc/internal/atomicfile"
	"cellc/lang"
	"cellc/stdlib"
)

// sources holds the text of every file diagnostics may point into, for
// Diagnostics.Render.
type sources map[string][]byte

func newSources() sources {
	return sources(stdlib.Sources())
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

// loadChecked reads, parses and checks one .cell file against the
// standard library, rendering its diagnostics through dc; on an error it
// returns dc's final error.
func (srcs sources) loadChecked(dc *diagCounter, path string) (*lang.File, *compiler.Program, error) {
	f, diags, err := srcs.load(path)
	if err != nil {
		return nil, nil, err
	}
	if dc.report(diags) {
		return nil, nil, dc.err()
	}
	prog, diags := compiler.CheckFile(f)
	if dc.report(diags) {
		return nil, nil, dc.err()
	}
	return f, prog, nil
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

// writeFileAtomic replaces path with data without ever leaving a
// half-written file.
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

// writeOutput writes data to path atomically, or to w when path is "" or "-".
func writeOutput(w io.Writer, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := w.Write(data)
		return err
	}
	return fail(writeFileAtomic(path, data))
}
