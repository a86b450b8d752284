package lang

import "slices"

// Equal reports whether a and b hold the same declarations and comments,
// ignoring spans and file names. It is what "Parse(Format(f)) equals f"
// means in the tests and fuzz targets.
func Equal(a, b *File) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Comments) != len(b.Comments) {
		return false
	}
	for i := range a.Comments {
		if a.Comments[i].Text != b.Comments[i].Text {
			return false
		}
	}
	return slices.EqualFunc(a.Decls, b.Decls, equalDecl)
}

func equalDecl(a, b Decl) bool {
	switch a := a.(type) {
	case *OpDecl:
		b, ok := b.(*OpDecl)
		return ok && equalOp(a, b)
	case *CellDecl:
		b, ok := b.(*CellDecl)
		return ok && equalCell(a, b)
	case *NetworkDecl:
		b, ok := b.(*NetworkDecl)
		return ok && equalNetwork(a, b)
	case *SkeletonDecl:
		b, ok := b.(*SkeletonDecl)
		return ok && equalSkeleton(a, b)
	}
	return a == nil && b == nil
}

func equalOp(a, b *OpDecl) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name.Name == b.Name.Name && slices.EqualFunc(a.Stages, b.Stages, func(x, y *Stage) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Prim.Name == y.Prim.Name && slices.EqualFunc(x.Args, y.Args, func(x, y *Arg) bool {
			if x == nil || y == nil {
				return x == y
			}
			return x.Key.Name == y.Key.Name && equalValue(x.Value, y.Value)
		})
	})
}

func equalValue(a, b Value) bool {
	a.Span, b.Span = Span{}, Span{}
	return a == b
}

func equalCell(a, b *CellDecl) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Name.Name != b.Name.Name || !slices.EqualFunc(a.Blocks, b.Blocks, equalBlock) {
		return false
	}
	if a.Out == nil || b.Out == nil {
		return a.Out == nil && b.Out == nil
	}
	return a.Out.Mode == b.Out.Mode && slices.EqualFunc(a.Out.Refs, b.Out.Refs, equalRef)
}

func equalBlock(a, b *Block) bool {
	if a == nil || b == nil {
		return a == b
	}
	if (a.Name == nil) != (b.Name == nil) || a.Name != nil && a.Name.Name != b.Name.Name {
		return false
	}
	return slices.EqualFunc(a.Inputs, b.Inputs, equalRef) &&
		slices.EqualFunc(a.Ops, b.Ops, equalIdent) &&
		a.Combine.Name == b.Combine.Name
}

func equalNetwork(a, b *NetworkDecl) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name.Name == b.Name.Name && slices.EqualFunc(a.Fields, b.Fields, func(x, y *Field) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Key.Name == y.Key.Name && x.Value.Name == y.Value.Name
	})
}

func equalRef(a, b Ref) bool     { return a.Name == b.Name }
func equalIdent(a, b Ident) bool { return a.Name == b.Name }
