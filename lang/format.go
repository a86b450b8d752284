package lang

import (
	"bytes"
	"strconv"
	"strings"
)

// Format prints f in the one canonical form: declarations separated by
// one blank line, an op on one line, each block and the out list of a
// cell on a line of its own indented by two spaces, block fields in the
// order in, op, combine, single spaces throughout. There are no options,
// and Format(Parse(Format(f))) == Format(f).
//
// Comments are kept, in order. A comment on a line of its own is printed
// before the node that follows it, at that node's indent; one at the end
// of a line stays at the end of that node's line. A comment inside a
// node Format prints on one line (a block's < >, an op's pipeline, a
// network field) moves to just before that node. The only whitespace
// carried over from the source is one blank line before a comment that
// had a blank line before it.
//
// Format prints whatever f holds; it does not check it. Only the output
// for a tree that Parse returned without errors is guaranteed to parse.
func Format(f *File) []byte {
	if f == nil {
		return nil
	}
	p := &printer{cm: attachComments(f)}
	n := 0
	for _, d := range f.Decls {
		if d == nil || isNilDecl(d) {
			continue
		}
		if n > 0 {
			p.buf.WriteByte('\n')
		}
		p.comments(p.cm.leading[d], "", false)
		switch d := d.(type) {
		case *OpDecl:
			p.opDecl(d)
		case *CellDecl:
			p.cellDecl(d)
		case *NetworkDecl:
			p.network(d)
		}
		n++
	}
	p.comments(p.cm.end, "", n > 0)
	return p.buf.Bytes()
}

type printer struct {
	buf bytes.Buffer
	cm  *commentMap
}

// comments prints own-line comments at indent. A comment that had a
// blank line before it in the source gets one here too, unless it would
// be the first line of its container (afterItem is false and it is the
// first comment).
func (p *printer) comments(cs []placedComment, indent string, afterItem bool) {
	for i, c := range cs {
		if c.blankBefore && (i > 0 || afterItem) {
			p.buf.WriteByte('\n')
		}
		p.buf.WriteString(indent)
		p.buf.WriteString(c.Text)
		p.buf.WriteByte('\n')
	}
}

// endLine finishes the line of node key, with its trailing comment.
func (p *printer) endLine(key any) {
	if c, ok := p.cm.trailing[key]; ok {
		p.buf.WriteString(" ")
		p.buf.WriteString(c.Text)
	}
	p.buf.WriteByte('\n')
}

func (p *printer) opDecl(d *OpDecl) {
	p.buf.WriteString("op " + d.Name.Name + " =")
	n := 0
	for _, s := range d.Stages {
		if s == nil {
			continue
		}
		if n > 0 {
			p.buf.WriteString(" ->")
		}
		n++
		p.buf.WriteString(" " + s.Prim.Name)
		if len(s.Args) > 0 {
			args := make([]string, 0, len(s.Args))
			for _, a := range s.Args {
				if a != nil {
					args = append(args, a.Key.Name+": "+formatValue(a.Value))
				}
			}
			p.buf.WriteString("(" + strings.Join(args, ", ") + ")")
		}
	}
	p.endLine(d)
}

func formatValue(v Value) string {
	switch v.Kind {
	case KernelValue:
		return strconv.Itoa(v.KH) + "x" + strconv.Itoa(v.KW)
	case VarValue:
		return "$" + v.Var
	}
	return strconv.Itoa(v.Int)
}

func (p *printer) cellDecl(d *CellDecl) {
	p.buf.WriteString(d.Kind.String() + " cell " + d.Name.Name + " {")
	p.endLine(d)
	items := 0
	for _, b := range d.Blocks {
		if b == nil {
			continue
		}
		p.comments(p.cm.leading[b], "  ", items > 0)
		p.buf.WriteString("  " + formatBlock(b))
		p.endLine(b)
		items++
	}
	if d.Out != nil {
		p.comments(p.cm.leading[d.Out], "  ", items > 0)
		mode := "out"
		if d.Out.Mode == OutRoute {
			mode = "route"
		}
		p.buf.WriteString("  " + mode + ": " + joinRefs(d.Out.Refs))
		p.endLine(d.Out)
		items++
	}
	p.closeBrace(d, items)
}

func formatBlock(b *Block) string {
	var fields []string
	if len(b.Inputs) > 0 {
		fields = append(fields, "in: "+joinRefs(b.Inputs))
	}
	if len(b.Ops) > 0 {
		ops := make([]string, len(b.Ops))
		for i, op := range b.Ops {
			ops[i] = op.Name
		}
		fields = append(fields, "op: "+strings.Join(ops, ", "))
	}
	if b.Combine.Name != "" {
		fields = append(fields, "combine: "+b.Combine.Name)
	}
	head := "block "
	if b.Name != nil {
		head += b.Name.Name + " "
	}
	return head + "< " + strings.Join(fields, "; ") + " >"
}

func joinRefs(refs []Ref) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

func (p *printer) network(d *NetworkDecl) {
	p.buf.WriteString("network " + d.Name.Name + " {")
	p.endLine(d)
	items := 0
	for _, fl := range d.Fields {
		if fl == nil {
			continue
		}
		p.comments(p.cm.leading[fl], "  ", items > 0)
		p.buf.WriteString("  " + fl.Key.Name + ": " + fl.Value.Name)
		p.endLine(fl)
		items++
	}
	p.closeBrace(d, items)
}

// closeBrace prints the "}" of d, after the comments that came before it
// inside the body.
func (p *printer) closeBrace(d Decl, items int) {
	key := closeOf{d}
	p.comments(p.cm.leading[key], "  ", items > 0)
	p.buf.WriteString("}")
	p.endLine(key)
}

// isNilDecl reports a typed nil in the Decl interface.
func isNilDecl(d Decl) bool {
	switch d := d.(type) {
	case *OpDecl:
		return d == nil
	case *CellDecl:
		return d == nil
	case *NetworkDecl:
		return d == nil
	}
	return true
}
