package compiler

import (
	"fmt"

	"cellc/lang"
)

// Program is the checked, resolved form of one or more .cell files: every
// name bound, every op expanded to primitives, every reference an index.
type Program struct {
	Ops      map[string]*Op
	OpOrder  []string
	Cells    map[string]*Cell
	Networks []*Network
	// Skeletons holds every skeleton by name (nil for a broken one).
	Skeletons map[string]*Skeleton
}

// Op is an operation expanded to a flat pipeline of primitives.
type Op struct {
	Name  string
	Prims []Prim
	// Library says the op came from the standard library.
	Library bool
	Decl    *lang.OpDecl
}

// Prim is one primitive application with its arguments resolved.
// Stride is the constant stride, unless StrideVar says it is the op's
// $stride, bound when the op is placed in a cell. Width is the output
// width of conv and pw relative to the cell's F.
type Prim struct {
	Name      string
	KH, KW    int
	Stride    int
	StrideVar bool
	Dilation  int
	Width     Width
	Span      lang.Span
}

// Width is a width relative to the cell's filter count F, "$F * Mul /
// Div", truncated as TF's int() (AmoebaNet's bottleneck is int(F / 4)).
// The zero value is F itself.
type Width struct {
	Mul, Div int
}

// Of is the width at F = f.
func (w Width) Of(f int) int {
	if w.IsF() {
		return f
	}
	return f * w.Mul / w.Div
}

// IsF reports whether the width is F itself.
func (w Width) IsF() bool { return w.Div == 0 || w.Mul == w.Div }

// String is the width as the language writes it: $F, $F / 4, $F * 3 / 8.
func (w Width) String() string {
	if w.IsF() {
		return "$F"
	}
	s := "$F"
	if w.Mul != 1 {
		s += fmt.Sprintf(" * %d", w.Mul)
	}
	if w.Div != 1 {
		s += fmt.Sprintf(" / %d", w.Div)
	}
	return s
}

// Strides reports whether the op applies its $stride somewhere, i.e.
// whether it can read a cell input in a reduction cell.
func (o *Op) Strides() bool {
	for _, p := range o.Prims {
		if p.StrideVar {
			return true
		}
	}
	return false
}

// IsIdentity reports whether the op is a plain skip (identity, project,
// freduce): TF-slim and DARTS apply no drop path to those.
func (o *Op) IsIdentity() bool {
	if len(o.Prims) != 1 {
		return false
	}
	switch o.Prims[0].Name {
	case "id", "project", "freduce":
		return true
	}
	return false
}

// StateRef names a hidden state inside a cell: cell input m (h_i-m) when
// Block < 0, else block Block's output.
type StateRef struct {
	Input int
	Block int
	Span  lang.Span
}

func (r StateRef) isInput() bool { return r.Block < 0 }

// Cell is a checked cell.
type Cell struct {
	Name   string
	Kind   lang.CellKind
	Inputs int // how many cell inputs it reads: 2 (h_i, h_i-1) up to 4
	Blocks []*Block
	Out    []StateRef
	Route  bool // outputs are routed to the next len(Out) layers, not concatenated
	Decl   *lang.CellDecl
}

// Block is a checked block.
type Block struct {
	Name    string // "b0" unless named
	Inputs  [2]StateRef
	Ops     [2]*Op
	OpSpans [2]lang.Span
	Combine string
	Span    lang.Span
}

// Network is a checked network: the cells it stacks and the skeleton it
// stacks them into: Skeleton (skeleton:) for every dataset, else
// DatasetSkeletons (cifar_skeleton:, imagenet_skeleton:) by Config.Dataset,
// else the default for the build's dataset.
type Network struct {
	Name             string
	Normal           *Cell
	Reduction        *Cell
	Skeleton         *Skeleton
	DatasetSkeletons map[string]*Skeleton // by dataset: cifar10, imagenet
	Span             lang.Span
}

// SkeletonFor is the skeleton the network names for a dataset, nil if it
// names none (the build then uses DefaultSkeleton).
func (n *Network) SkeletonFor(dataset string) *Skeleton {
	if n.Skeleton != nil {
		return n.Skeleton
	}
	return n.DatasetSkeletons[dataset]
}
