// Package stdlib is cellc's operation library, written in the .cell
// language itself (ops.cell): the paper's 13 operations and the names
// DARTS, ENAS and AmoebaNet use. A researcher adds an operation by writing
// an `op` line in any .cell file; no Go is needed.
package stdlib

import (
	_ "embed"
	"fmt"
	"sync"

	"cellc/lang"
)

//go:embed ops.cell
var source []byte

// Name is the file name diagnostics use for the library.
const Name = "stdlib/ops.cell"

// Source returns the library's text.
func Source() []byte { return append([]byte(nil), source...) }

// File returns the parsed library. It is embedded and tested, so an error
// here is a build defect, reported rather than panicked. The parse is done
// once and shared: the AST is never modified after parsing (the compiler
// only reads it), so this is a constant computed lazily, not mutable state.
func File() (*lang.File, error) { return parsed() }

var parsed = sync.OnceValues(func() (*lang.File, error) {
	f, diags := lang.Parse(Name, source)
	if diags.HasErrors() {
		return nil, fmt.Errorf("standard library: %v", diags)
	}
	return f, nil
})
