// Package darts converts between DARTS genotypes (package lang/genotype)
// and .cell files: Import writes a genotype's two cells and a network
// naming them, Export reads a checked network back into a genotype when
// its cells fit DARTS' space, and says which block does not otherwise.
//
// The mapping is DARTS' own (quark0/darts cnn/model.py, Cell._compile and
// forward; see specs/darts_v2.cell, which writes DARTS_V2 by hand):
//
//	node j                 block j: in: state(2j), state(2j+1); op: op(2j), op(2j+1); combine: add
//	input 0 (c_{k-2})      h_i-1
//	input 1 (c_{k-1})      h_i
//	input i >= 2           block b(i-2)
//	*_concat               out: the listed states, in order
//	stride 2 in reduction  $stride: 2 for an op reading a cell input in a reduction cell
//
// Ops keep their DARTS names, which the standard library defines
// (stdlib/ops.cell). Export takes only those names: a cell that applies
// sep3x3 is told that sep_conv_3x3 computes the same.
package darts

import (
	"fmt"
	"strings"

	"cellc/compiler"
	"cellc/lang"
	"cellc/lang/genotype"
)

// Options say how Import names what it writes.
type Options struct {
	// Name is the network's name; the cells are Name_normal and
	// Name_reduction. "" takes the genotype's own name, lower-cased
	// (DARTS_V2: darts_v2), or "genotype".
	Name string
	// Source says where the genotype came from, for the comment at the
	// top of the file ("DARTS_V2 in genotypes.py"); "" leaves it out.
	Source string
	// File is the name the generated text is parsed under; "" is
	// "imported.cell".
	File string
}

// Import writes g as a canonical .cell file (lang.Format's form): a
// normal cell, a reduction cell and a network naming them and DARTS'
// skeletons (darts_cifar, darts_imagenet). The file
// opens with a comment naming the genotype and giving it in full.
// It fails only when g is nil or the name does not make a valid .cell
// identifier.
func Import(g *genotype.Genotype, opts Options) ([]byte, error) {
	if g == nil {
		return nil, fmt.Errorf("no genotype to import")
	}
	name := opts.Name
	if name == "" {
		name = ident(g.Name)
	}
	file := opts.File
	if file == "" {
		file = "imported.cell"
	}
	var b strings.Builder
	source := "a DARTS genotype"
	if opts.Source != "" {
		source = "the DARTS genotype " + opts.Source
	}
	fmt.Fprintf(&b, "# Imported from %s by `cellc import darts`:\n", source)
	fmt.Fprintf(&b, "# %s\n", g)
	b.WriteString("#\n")
	b.WriteString("# DARTS node j is block j, reading pairs 2j and 2j+1; DARTS input 0 is h_i-1,\n")
	b.WriteString("# 1 is h_i, k >= 2 is block b(k-2); nodes add; *_concat is out:.\n\n")
	writeCell(&b, "normal", name+"_normal", g.Normal)
	b.WriteString("\n")
	writeCell(&b, "reduction", name+"_reduction", g.Reduce)
	// The network is DARTS' own (cnn/model.py NetworkCIFAR and
	// NetworkImageNet), the stdlib's skeletons, not NASNet's.
	b.WriteString("\n# Built as DARTS builds it: cnn/model.py NetworkCIFAR and NetworkImageNet.\n")
	fmt.Fprintf(&b, "network %s {\n  normal: %s_normal\n  reduction: %s_reduction\n  cifar_skeleton: darts_cifar\n  imagenet_skeleton: darts_imagenet\n}\n", name, name, name)

	f, diags := lang.Parse(file, []byte(b.String()))
	if diags.HasErrors() {
		return nil, fmt.Errorf("cannot name a network %q: %v", name, diags)
	}
	return lang.Format(f), nil
}

func writeCell(b *strings.Builder, kind, name string, c genotype.Cell) {
	fmt.Fprintf(b, "%s cell %s {\n", kind, name)
	for _, n := range c.Nodes {
		fmt.Fprintf(b, "  block < in: %s, %s; op: %s, %s; combine: add >\n",
			stateName(n[0].Input), stateName(n[1].Input), n[0].Op, n[1].Op)
	}
	out := make([]string, len(c.Concat))
	for i, s := range c.Concat {
		out[i] = stateName(s)
	}
	fmt.Fprintf(b, "  out: %s\n}\n", strings.Join(out, ", "))
}

// stateName is DARTS state index i as a .cell reference.
func stateName(i int) string {
	switch i {
	case 0:
		return "h_i-1"
	case 1:
		return "h_i"
	}
	return fmt.Sprintf("b%d", i-2)
}

// ident makes a genotype's name a .cell identifier: lower case, letters,
// digits and '_', starting with a letter.
func ident(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_")
	switch {
	case s == "":
		return "genotype"
	case s[0] >= '0' && s[0] <= '9', s == "h_i" || strings.HasPrefix(s, "h_i_"):
		return "g_" + s
	}
	return s
}

// Export reads net's cells as a DARTS genotype. Every block must add two
// of DARTS' operations (genotype.Ops), by their DARTS names, applied to
// h_i, h_i-1 or earlier blocks, and each cell must concatenate its
// output (out:, or the default rule), not route it. Otherwise the
// diagnostics say, at the offending block's token, what does not fit; the
// genotype is then nil. prog is the program net was checked in, for the
// hint that names a DARTS op computing the same as a non-DARTS one.
func Export(prog *compiler.Program, net *compiler.Network) (*genotype.Genotype, lang.Diagnostics) {
	var diags lang.Diagnostics
	if prog == nil || net == nil || net.Normal == nil || net.Reduction == nil {
		diags.Errorf(lang.Span{}, "no checked network to export")
		return nil, diags
	}
	g := &genotype.Genotype{Name: net.Name}
	g.Normal = exportCell(prog, net.Normal, &diags)
	g.Reduce = exportCell(prog, net.Reduction, &diags)
	diags.Sort()
	if diags.HasErrors() {
		return nil, diags
	}
	return g, diags
}

func exportCell(prog *compiler.Program, c *compiler.Cell, diags *lang.Diagnostics) genotype.Cell {
	var gc genotype.Cell
	for bi, b := range c.Blocks {
		label := fmt.Sprintf("block %d", bi)
		if b.Name != fmt.Sprintf("b%d", bi) {
			label = "block " + b.Name
		}
		var node genotype.Node
		for i := range 2 {
			in, ok := stateIndex(b.Inputs[i])
			if !ok {
				diags.Errorf(b.Inputs[i].Span, "%s of cell %q reads h_i-%d; DARTS cells read only h_i and h_i-1", label, c.Name, b.Inputs[i].Input).Detail =
					"a DARTS node reads the two cells before it (inputs 0 and 1) and earlier nodes"
			}
			op := ""
			if b.Ops[i] != nil {
				op = b.Ops[i].Name
			}
			if !genotype.IsOp(op) {
				d := diags.Errorf(b.OpSpans[i], "%s of cell %q applies %s, which is not a DARTS operation", label, c.Name, op)
				d.Detail = "DARTS' operations are " + strings.Join(genotype.Ops(), ", ")
				if same := equivalent(prog, b.Ops[i]); same != "" {
					d.Detail = fmt.Sprintf("%s computes the same: write %s", same, same)
				}
			}
			node[i] = genotype.Edge{Op: op, Input: in}
		}
		if b.Combine != "add" {
			at := b.Span
			if bd := blockDecl(c, bi); bd != nil && bd.Combine.Name != "" {
				at = bd.Combine.Span
			}
			diags.Errorf(at, "%s of cell %q combines with %s; DARTS genotypes combine with add", label, c.Name, b.Combine).Detail =
				"a DARTS node is the sum of its two edges: write combine: add"
		}
		gc.Nodes = append(gc.Nodes, node)
	}
	if c.Route {
		var at lang.Span
		switch {
		case c.Decl != nil && c.Decl.Out != nil:
			at = c.Decl.Out.Span
		case c.Decl != nil:
			at = c.Decl.Name.Span
		}
		diags.Errorf(at, "cell %q routes its states; DARTS genotypes concatenate them", c.Name).Detail = "write out: with the states to concatenate (DARTS' *_concat)"
		return gc
	}
	for _, r := range c.Out {
		s, ok := stateIndex(r)
		if !ok {
			diags.Errorf(r.Span, "cell %q outputs h_i-%d; DARTS cells read only h_i and h_i-1", c.Name, r.Input).Detail = "DARTS' *_concat lists 0 (h_i-1), 1 (h_i) and nodes"
		}
		gc.Concat = append(gc.Concat, s)
	}
	return gc
}

// stateIndex is a state reference as a DARTS state index.
func stateIndex(r compiler.StateRef) (int, bool) {
	switch {
	case r.Block >= 0:
		return r.Block + 2, true
	case r.Input == 0:
		return 1, true
	case r.Input == 1:
		return 0, true
	}
	return 0, false
}

func blockDecl(c *compiler.Cell, i int) *lang.Block {
	if c.Decl == nil || i >= len(c.Decl.Blocks) {
		return nil
	}
	return c.Decl.Blocks[i]
}

// equivalent names the DARTS operation whose pipeline is op's, or "".
func equivalent(prog *compiler.Program, op *compiler.Op) string {
	if op == nil {
		return ""
	}
	for _, name := range genotype.Ops() {
		if d := prog.Ops[name]; d != nil && samePrims(d.Prims, op.Prims) {
			return name
		}
	}
	return ""
}

func samePrims(a, b []compiler.Prim) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Span, y.Span = lang.Span{}, lang.Span{}
		if x != y {
			return false
		}
	}
	return true
}
