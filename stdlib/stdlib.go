// Package stdlib is cellc's operation library and network skeletons,
// written in the .cell language itself: ops.cell holds the paper's 13
// operations and the names DARTS, ENAS and AmoebaNet use; skeletons.cell
// the networks cells are stacked into (NASNet's CIFAR and ImageNet
// skeletons). A researcher adds an operation or a skeleton by writing it
// in any .cell file; no Go is needed.
package stdlib

import (
	_ "embed"
	"fmt"
	"sync"

	"cellc/lang"
)

//go:embed ops.cell
var source []byte

//go:embed skeletons.cell
var skeletons []byte

// Name is the file name diagnostics use for the operation library.
const Name = "stdlib/ops.cell"

// SkeletonsName is the file name diagnostics use for the network
// skeletons (NASNet's CIFAR and ImageNet skeletons, in the language).
const SkeletonsName = "stdlib/skeletons.cell"

// Source returns the operation library's text.
func Source() []byte { return append([]byte(nil), source...) }

// Sources returns the text of every library file by the name its spans
// use, for rendering diagnostics.
func Sources() map[string][]byte {
	return map[string][]byte{Name: Source(), SkeletonsName: append([]byte(nil), skeletons...)}
}

// File returns the parsed library. It is embedded and tested, so an error
// here is a build defect, reported rather than panicked. The parse is done
// once and shared: the AST is never modified after parsing (the compiler
// only reads it), so this is a constant computed lazily, not mutable state.
func File() (*lang.File, error) { return parsed() }

// The two files are parsed apart (spans name their own file) and their
// declarations joined into one File.
var parsed = sync.OnceValues(func() (*lang.File, error) {
	f, diags := lang.Parse(Name, source)
	if diags.HasErrors() {
		return nil, fmt.Errorf("standard library: %v", diags)
	}
	sk, diags := lang.Parse(SkeletonsName, skeletons)
	if diags.HasErrors() {
		return nil, fmt.Errorf("standard library: %v", diags)
	}
	f.Decls = append(f.Decls, sk.Decls...)
	f.Comments = append(f.Comments, sk.Comments...)
	return f, nil
})
