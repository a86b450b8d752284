package lang

// Comment placement for Format. The AST does not hold comments in its
// nodes; File.Comments lists them with their spans, and the formatter
// attaches each one to a printed line by position. Every comment is
// attached to exactly one place, so none is ever dropped.
//
// The printed lines are "slots": an op declaration, a cell or network
// header ("normal cell x {"), a block, an out list, a network field, and
// the closing "}" of a cell or network. A comment
//   - inside a slot's source range moves to just before that slot;
//   - after a slot's last token on the same line trails that slot;
//   - otherwise goes before the next slot, or to the end of the file.
//
// The map also records the blank lines of the source that Format keeps:
// whether a blank line came before each own-line comment, and before
// each slot (after the comments that precede it).

// commentMap is where each comment goes, keyed by the node that owns the
// printed line: the Decl for an op or a header, *Block, *OutList, *Field,
// or closeOf{decl} for a closing brace.
type commentMap struct {
	leading  map[any][]placedComment
	trailing map[any]Comment
	end      []placedComment
	// gap holds the slots that had a blank line before them in the
	// source: between the slot's first token and the last line before it
	// (the previous slot's, or that of an own-line comment before it).
	gap map[any]bool
}

// placedComment is an own-line comment and whether the source had a blank
// line before it. inside marks a comment that was inside its slot's
// source range (and is printed after the slot's other leading comments,
// just before its line).
type placedComment struct {
	Comment
	blankBefore bool
	inside      bool
}

// closeOf keys the closing brace of a cell or network.
type closeOf struct{ d Decl }

// slot is one printed line and the source range it came from.
type slot struct {
	key                any
	start, end         int // byte offsets: first token, just after the last
	startLine, endLine int
}

func attachComments(f *File) *commentMap {
	cm := &commentMap{leading: map[any][]placedComment{}, trailing: map[any]Comment{}, gap: map[any]bool{}}
	slots := slotsOf(f)
	cm.gaps(slots, f.Comments)
	if len(f.Comments) == 0 {
		return cm
	}
	lastLine := 0 // line of the previous comment
	for _, c := range f.Comments {
		off, line := c.Span.Start.Offset, c.Span.Start.Line
		var inside, prev, next *slot
		for i := range slots {
			s := &slots[i]
			switch {
			case s.start < off && off < s.end:
				inside = s
			case s.end <= off && (prev == nil || s.end >= prev.end):
				prev = s
			case s.start >= off && next == nil:
				next = s
			}
		}
		prevLine := lastLine
		lastLine = line
		if inside != nil {
			cm.leading[inside.key] = append(cm.leading[inside.key], placedComment{Comment: c, inside: true})
			continue
		}
		if prev != nil {
			if _, taken := cm.trailing[prev.key]; !taken && prev.endLine == line {
				cm.trailing[prev.key] = c
				continue
			}
			prevLine = max(prevLine, prev.endLine)
		}
		pc := placedComment{Comment: c, blankBefore: line-prevLine >= 2}
		if next != nil {
			cm.leading[next.key] = append(cm.leading[next.key], pc)
		} else {
			cm.end = append(cm.end, pc)
		}
	}
	return cm
}

// gaps fills cm.gap: a slot has a gap when its first line is at least
// two lines below the last line before it that holds a slot or a
// comment. The first line of the file has nothing before it, so no gap.
func (cm *commentMap) gaps(slots []slot, comments []Comment) {
	ci := 0
	for i, s := range slots {
		prevLine, seen := 0, false
		if i > 0 {
			prevLine, seen = slots[i-1].endLine, true
		}
		for ; ci < len(comments) && comments[ci].Span.Start.Offset < s.start; ci++ {
			prevLine, seen = max(prevLine, comments[ci].Span.Start.Line), true
		}
		if seen && s.startLine-prevLine >= 2 {
			cm.gap[s.key] = true
		}
	}
}

// slotsOf lists the printed lines of f in source order.
func slotsOf(f *File) []slot {
	var slots []slot
	add := func(key any, sp Span) {
		slots = append(slots, slot{key: key, start: sp.Start.Offset, end: sp.End.Offset, startLine: sp.Start.Line, endLine: sp.End.Line})
	}
	// header is a cell or network's first line up to its name; "{" is not
	// in the AST, and a comment after the name on that line trails it.
	header := func(d Decl, name Ident) {
		sp := d.DeclSpan()
		sp.End = name.Span.End
		add(d, sp)
	}
	closing := func(d Decl) {
		sp := d.DeclSpan()
		sp.Start = sp.End
		sp.Start.Offset--
		add(closeOf{d}, sp)
	}
	for _, d := range f.Decls {
		if d == nil || isNilDecl(d) {
			continue
		}
		switch d := d.(type) {
		case *OpDecl:
			add(d, d.Span)
		case *CellDecl:
			header(d, d.Name)
			for _, b := range d.Blocks {
				if b != nil {
					add(b, b.Span)
				}
			}
			if d.Out != nil {
				add(d.Out, d.Out.Span)
			}
			closing(d)
		case *NetworkDecl:
			header(d, d.Name)
			for _, fl := range d.Fields {
				if fl != nil {
					add(fl, fl.Span)
				}
			}
			closing(d)
		case *SkeletonDecl:
			// The header runs to its last token before "{": the name, the
			// last parameter or the base after extends.
			end := d.Name
			if n := len(d.Params); n > 0 && d.Params[n-1] != nil {
				end = Ident{Span: d.Params[n-1].Span}
			}
			if d.Base != nil {
				end = *d.Base
			}
			header(d, end)
			for _, fl := range d.Fields {
				if fl != nil {
					add(fl, fl.Span)
				}
			}
			closing(d)
		}
	}
	return slots
}
