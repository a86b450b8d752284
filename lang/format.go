package lang

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format prints f in the one canonical form. There are no options, and
// Format(Parse(Format(f))) == Format(f).
//
// An op is printed on one line; a cell or network header, each block, the
// out or route list and each network field on a line of their own, the
// body indented by two spaces; block fields in the order in, op, combine;
// single spaces between tokens except for the alignment below.
//
// Blank lines follow gofmt. Between two top-level declarations there is
// one blank line if the source had at least one anywhere between them,
// if they are of different kinds (op, cell, network), or if the second
// has comments of its own above it; otherwise (two ops, or two cells, on
// consecutive lines) there is none. Inside a cell or network body, and
// between own-line comments and what follows them, a run of blank lines
// becomes one. No blank line starts the file or a body, or ends either.
//
// Lines are aligned in runs, as gofmt aligns struct fields. A run is a
// sequence of consecutive lines of one kind with no blank line and no
// own-line comment between them: ops, the blocks of a cell (with the out
// or route list after them), the fields of a network. In a run of ops the
// names are padded so that the "=" signs line up. In a run of blocks the
// columns line up: the block names (if any block has one) are padded so
// that the "<" lines up, and after the ";" that ends an in or op list there
// are enough spaces that the next field starts in the same column in
// every block that has it (lists themselves are never padded). Trailing
// comments on consecutive lines of a run start in one column, two spaces
// after the longest of those lines; any other trailing comment follows its
// line after two spaces.
//
// Comments are kept, in order. A comment on a line of its own is printed
// before the node that follows it, at that node's indent; one at the end
// of a line stays at the end of that node's line. A comment inside a
// node Format prints on one line (a block's < >, an op's pipeline, a
// network field) moves to just before that node.
//
// Format prints whatever f holds; it does not check it. Only the output
// for a tree that Parse returned without errors is guaranteed to parse.
func Format(f *File) []byte {
	if f == nil {
		return nil
	}
	p := &printer{cm: attachComments(f)}
	var decls []Decl
	for _, d := range f.Decls {
		if d != nil && !isNilDecl(d) {
			decls = append(decls, d)
		}
	}
	for i := 0; i < len(decls); {
		d := decls[i]
		blank := false
		if i > 0 {
			blank = declKind(decls[i-1]) != declKind(d) || len(p.cm.leading[d]) > 0 || p.cm.gap[d]
		}
		p.leading(d, "", blank)
		switch d := d.(type) {
		case *OpDecl:
			run := []*OpDecl{d}
			for i+len(run) < len(decls) {
				next, ok := decls[i+len(run)].(*OpDecl)
				if !ok || p.breaksRun(next) {
					break
				}
				run = append(run, next)
			}
			p.opRun(run)
			i += len(run)
			continue
		case *CellDecl:
			p.cellDecl(d)
		case *NetworkDecl:
			p.network(d)
		case *SkeletonDecl:
			p.skeleton(d)
		}
		i++
	}
	p.comments(p.cm.end, "", len(decls) > 0)
	return p.buf.Bytes()
}

type printer struct {
	buf bytes.Buffer
	cm  *commentMap
}

// declKind tells the kinds of declaration apart for the blank line rule:
// ops, cells (normal or reduction), networks and skeletons.
func declKind(d Decl) int {
	switch d.(type) {
	case *OpDecl:
		return 0
	case *CellDecl:
		return 1
	case *SkeletonDecl:
		return 3
	}
	return 2
}

// breaksRun reports whether the line of key starts a new run: it has
// own-line comments before it or a blank line in the source.
func (p *printer) breaksRun(key any) bool {
	return len(p.cm.leading[key]) > 0 || p.cm.gap[key]
}

// firstGap reports whether the source had a blank line before the first
// line printed for key: its first own-line comment, or its own line.
func (p *printer) firstGap(key any) bool {
	if cs := p.cm.leading[key]; len(cs) > 0 && !cs[0].inside {
		return cs[0].blankBefore
	}
	return p.cm.gap[key]
}

// leading prints the own-line comments that go before the line of key,
// at indent. blank says whether a blank line comes first; after that a
// blank line is kept where the source had one: between two comments, and
// between the comments that were above the node and the node (comments
// moved out of the node count as part of it).
func (p *printer) leading(key any, indent string, blank bool) {
	cs := p.cm.leading[key]
	if len(cs) == 0 {
		if blank {
			p.buf.WriteByte('\n')
		}
		return
	}
	for i, c := range cs {
		b := c.blankBefore
		switch {
		case i == 0:
			b = blank
		case c.inside:
			b = !cs[i-1].inside && p.cm.gap[key]
		}
		if b {
			p.buf.WriteByte('\n')
		}
		p.buf.WriteString(indent)
		p.buf.WriteString(c.Text)
		p.buf.WriteByte('\n')
	}
	if len(cs) > 0 && !cs[len(cs)-1].inside && p.cm.gap[key] {
		p.buf.WriteByte('\n')
	}
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

// line is one printed line of a run, before its trailing comment.
type line struct {
	key  any // owner of the trailing comment
	code string
}

// lines prints a run at indent, aligning the trailing comments of
// consecutive lines that have one.
func (p *printer) lines(indent string, ls []line) {
	for i := 0; i < len(ls); {
		j, w := i, 0
		for ; j < len(ls); j++ {
			if _, ok := p.cm.trailing[ls[j].key]; !ok {
				break
			}
			w = max(w, width(lastLine(ls[j].code)))
		}
		if j == i {
			j = i + 1
		}
		for _, l := range ls[i:j] {
			p.buf.WriteString(indent)
			p.buf.WriteString(l.code)
			if c, ok := p.cm.trailing[l.key]; ok {
				p.buf.WriteString(strings.Repeat(" ", w-width(lastLine(l.code))+2))
				p.buf.WriteString(c.Text)
			}
			p.buf.WriteByte('\n')
		}
		i = j
	}
}

// lastLine is the last line of s (a broken skeleton pipeline spans
// several), where a trailing comment goes.
func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// width is the number of columns s takes.
func width(s string) int { return utf8.RuneCountInString(s) }

// pad returns s followed by spaces up to w columns.
func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(0, w-width(s)))
}

// opRun prints a run of ops, their "=" signs aligned.
func (p *printer) opRun(run []*OpDecl) {
	w := 0
	for _, d := range run {
		w = max(w, width(d.Name.Name))
	}
	ls := make([]line, len(run))
	for i, d := range run {
		ls[i] = line{key: d, code: "op " + pad(d.Name.Name, w) + " =" + pipeline(d)}
	}
	p.lines("", ls)
}

// pipeline is an op's stages, each after a space.
func pipeline(d *OpDecl) string {
	var b strings.Builder
	n := 0
	for _, s := range d.Stages {
		if s == nil {
			continue
		}
		if n > 0 {
			b.WriteString(" ->")
		}
		n++
		b.WriteString(" " + s.Prim.Name)
		if len(s.Args) > 0 {
			args := make([]string, 0, len(s.Args))
			for _, a := range s.Args {
				if a != nil {
					args = append(args, a.Key.Name+": "+formatValue(a.Value))
				}
			}
			b.WriteString("(" + strings.Join(args, ", ") + ")")
		}
	}
	return b.String()
}

func formatValue(v Value) string {
	switch v.Kind {
	case KernelValue:
		return strconv.Itoa(v.KH) + "x" + strconv.Itoa(v.KW)
	case VarValue:
		s := "$" + v.Var
		if v.Mul != 0 {
			s += " * " + strconv.Itoa(v.Mul)
		}
		if v.Div != 0 {
			s += " / " + strconv.Itoa(v.Div)
		}
		return s
	}
	return strconv.Itoa(v.Int)
}

// header prints the first line of a cell or network, "... {".
func (p *printer) header(key any, text string) {
	p.lines("", []line{{key: key, code: text + " {"}})
}

func (p *printer) cellDecl(d *CellDecl) {
	p.header(d, d.Kind.String()+" cell "+d.Name.Name)
	var items []any
	for _, b := range d.Blocks {
		if b != nil {
			items = append(items, b)
		}
	}
	if d.Out != nil {
		items = append(items, d.Out)
	}
	p.body(items, func(run []any) []line {
		var blocks []*Block
		for _, it := range run {
			if b, ok := it.(*Block); ok {
				blocks = append(blocks, b)
			}
		}
		codes := formatBlocks(blocks)
		ls := make([]line, len(run))
		for i, it := range run {
			if i < len(codes) {
				ls[i] = line{key: it, code: codes[i]}
				continue
			}
			out := it.(*OutList)
			mode := "out"
			if out.Mode == OutRoute {
				mode = "route"
			}
			ls[i] = line{key: out, code: mode + ": " + joinRefs(out.Refs)}
		}
		return ls
	})
	p.closeBrace(d, len(items))
}

// body prints the items of a cell or network and their comments, a run at
// a time; format returns the lines of a run.
func (p *printer) body(items []any, format func(run []any) []line) {
	for i := 0; i < len(items); {
		p.leading(items[i], "  ", i > 0 && p.firstGap(items[i]))
		j := i + 1
		for j < len(items) && !p.breaksRun(items[j]) {
			j++
		}
		p.lines("  ", format(items[i:j]))
		i = j
	}
}

// Block fields, in the order Format prints them.
const (
	fieldIn = iota
	fieldOp
	fieldCombine
	numFields
)

// formatBlocks prints a run of blocks, one string each, with their
// columns aligned: "<", and each field that follows a ";". The columns
// are the fields in, op and combine; a block that lacks one (Parse
// reports that, but Format prints any tree) leaves its column blank.
func formatBlocks(blocks []*Block) []string {
	heads := make([]string, len(blocks))
	fields := make([][numFields]string, len(blocks))
	hw := 0
	for i, b := range blocks {
		heads[i] = "block"
		if b.Name != nil {
			heads[i] += " " + b.Name.Name
		}
		hw = max(hw, width(heads[i]))
		if len(b.Inputs) > 0 {
			fields[i][fieldIn] = "in: " + joinRefs(b.Inputs)
		}
		if len(b.Ops) > 0 {
			ops := make([]string, len(b.Ops))
			for k, op := range b.Ops {
				ops[k] = op.Name
			}
			fields[i][fieldOp] = "op: " + strings.Join(ops, ", ")
		}
		if b.Combine.Name != "" {
			fields[i][fieldCombine] = "combine: " + b.Combine.Name
		}
	}
	lines := make([]string, len(blocks))
	for i := range blocks {
		lines[i] = pad(heads[i], hw) + " <"
	}
	// later reports whether block i has a field after field k.
	later := func(i, k int) bool {
		for k++; k < numFields; k++ {
			if fields[i][k] != "" {
				return true
			}
		}
		return false
	}
	for k := range numFields {
		// Append field k where present, ending it with ";" where another
		// field follows. Then pad every block that has a later field, so
		// that the next column starts in the same place in all of them.
		col := 0
		for i := range blocks {
			if fields[i][k] != "" {
				lines[i] += " " + fields[i][k]
				if later(i, k) {
					lines[i] += ";"
				}
			}
			if later(i, k) {
				col = max(col, width(lines[i]))
			}
		}
		for i := range blocks {
			if later(i, k) {
				lines[i] = pad(lines[i], col)
			}
		}
	}
	for i := range lines {
		lines[i] += " >"
	}
	return lines
}

func joinRefs(refs []Ref) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

func (p *printer) network(d *NetworkDecl) {
	p.header(d, "network "+d.Name.Name)
	var items []any
	for _, fl := range d.Fields {
		if fl != nil {
			items = append(items, fl)
		}
	}
	p.body(items, func(run []any) []line {
		ls := make([]line, len(run))
		for i, it := range run {
			fl := it.(*Field)
			ls[i] = line{key: fl, code: fl.Key.Name + ": " + fl.Value.Name}
		}
		return ls
	})
	p.closeBrace(d, len(items))
}

// closeBrace prints the "}" of d, after the comments that came before it
// inside the body.
func (p *printer) closeBrace(d Decl, items int) {
	key := closeOf{d}
	p.comments(p.cm.leading[key], "  ", items > 0)
	p.lines("", []line{{key: key, code: "}"}})
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
	case *SkeletonDecl:
		return d == nil
	}
	return true
}
