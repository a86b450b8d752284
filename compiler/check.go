package compiler

// Checking, the compiler's first phase: Check turns parsed files into a
// Program of expanded ops, checked cells, skeletons and networks, or a list
// of diagnostics. Each job has its own file, and each file opens with what
// it checks:
//
//	check.go           top-level names: duplicates, redeclared primitives
//	check_ops.go       op expansion and primitive arguments
//	check_cells.go     cells: blocks, state references, outputs
//	check_widths.go    the widths of branches and combines
//	check_liveness.go  the output rule and blocks that reach no output
//	check_networks.go  networks: their cells and skeletons
//	skeleton.go        skeleton declarations
//
// Every job reports all the problems it finds and goes on, so one run
// lists every mistake in a file.

import (
	"fmt"
	"strings"

	"cellc/lang"
)

// Check resolves and checks parsed files (the standard library first, then
// the user's) into a Program. It collects every problem it can find
// rather than stopping at the first.
func Check(files ...*lang.File) (*Program, lang.Diagnostics) {
	c := &checker{prog: &Program{Ops: map[string]*Op{}, Cells: map[string]*Cell{}, Skeletons: map[string]*Skeleton{}}}
	c.collect(files)
	for _, name := range c.prog.OpOrder {
		c.expand(name)
	}
	for _, d := range c.cellDecls {
		c.cell(d)
	}
	c.skeletons()
	for _, d := range c.netDecls {
		c.network(d)
	}
	c.diags.Sort()
	return c.prog, c.diags
}

type checker struct {
	prog      *Program
	diags     lang.Diagnostics
	opDecls   map[string]*lang.OpDecl
	library   map[string]bool
	cellDecls []*lang.CellDecl
	netDecls  []*lang.NetworkDecl
	skelDecls []*lang.SkeletonDecl
	expanding []string            // ops being expanded, outermost first
	names     map[string]declInfo // every top-level name, for duplicates
}

// declInfo is what the checker remembers about a top-level name.
type declInfo struct {
	span    lang.Span
	kind    string // "op", "cell" or "network"
	library bool   // declared by the standard library
}

func declKind(d lang.Decl) string {
	switch d.(type) {
	case *lang.OpDecl:
		return "op"
	case *lang.CellDecl:
		return "cell"
	case *lang.SkeletonDecl:
		return "skeleton"
	}
	return "network"
}

func (c *checker) collect(files []*lang.File) {
	c.opDecls = map[string]*lang.OpDecl{}
	c.library = map[string]bool{}
	c.names = map[string]declInfo{}
	for i, f := range files {
		library := i == 0 && len(files) > 1
		for _, d := range f.Decls {
			name := d.DeclName()
			if prev, ok := c.names[name.Name]; ok {
				e := c.diags.Errorf(name.Span, "%q is already declared at %s", name.Name, prev.span.Start.Format(prev.span.File))
				switch {
				case prev.library:
					e.Detail = fmt.Sprintf("the standard library defines %s %s; choose another name", prev.kind, name.Name)
				case prev.kind != declKind(d):
					e.Detail = fmt.Sprintf("there it names %s %s; ops, cells, networks and skeletons share one namespace, so rename one of them", article(prev.kind), prev.kind)
				default:
					e.Detail = "rename one of them"
				}
				continue
			}
			if _, ok := primitives[name.Name]; ok {
				c.diags.Errorf(name.Span, "%q is a primitive and cannot be redeclared", name.Name).Detail = "primitives and operations share one namespace; choose another name (`cellc ops` lists the primitives)"
				continue
			}
			c.names[name.Name] = declInfo{span: name.Span, kind: declKind(d), library: library}
			switch d := d.(type) {
			case *lang.OpDecl:
				c.opDecls[name.Name] = d
				c.library[name.Name] = library
				c.prog.OpOrder = append(c.prog.OpOrder, name.Name)
			case *lang.CellDecl:
				c.cellDecls = append(c.cellDecls, d)
			case *lang.NetworkDecl:
				c.netDecls = append(c.netDecls, d)
			case *lang.SkeletonDecl:
				c.skelDecls = append(c.skelDecls, d)
			}
		}
	}
}

func article(kind string) string {
	if kind == "op" {
		return "an"
	}
	return "a"
}

// andList is "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
