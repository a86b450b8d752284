package compiler

// Networks. A network names its normal and reduction cells (each must be
// a cell of that kind) and the skeleton it is built into, for every
// dataset or one per dataset; unknown fields, cells and skeletons get
// did-you-mean suggestions.

import (
	"fmt"
	"slices"
	"sort"

	"cellc/lang"
)

// networkFields are a network's fields: its two cells, and the skeleton
// it is built into, for every dataset or for one.
var networkFields = []string{"normal", "reduction", "skeleton", "cifar_skeleton", "imagenet_skeleton"}

// skeletonDataset is the dataset a network's skeleton field is for ("" for
// skeleton:, every dataset).
var skeletonDataset = map[string]string{"skeleton": "", "cifar_skeleton": "cifar10", "imagenet_skeleton": "imagenet"}

func (c *checker) network(d *lang.NetworkDecl) {
	n := &Network{Name: d.Name.Name, Span: d.Name.Span}
	ok := true
	seen := map[string]lang.Span{}
	for _, f := range d.Fields {
		key := f.Key.Name
		if !slices.Contains(networkFields, key) {
			e := c.diags.Errorf(f.Key.Span, "unknown network field %q", key)
			e.Detail = lang.DidYouMean(key, networkFields)
			if e.Detail == "" {
				e.Detail = "a network has normal:, reduction: and optionally skeleton:"
			}
			ok = false
			continue
		}
		if prev, dup := seen[key]; dup {
			what := "a network has one " + key + " cell"
			if _, sk := skeletonDataset[key]; sk {
				what = "a network has one " + key
			}
			c.diags.Errorf(f.Key.Span, "field %q is given twice", key).Detail = fmt.Sprintf("the first is at %s; %s", prev.Start.Format(prev.File), what)
			ok = false
			continue
		}
		seen[key] = f.Key.Span
		if dataset, sk := skeletonDataset[key]; sk {
			var other lang.Span
			clash := false
			if key != "skeleton" {
				other, clash = seen["skeleton"]
			} else {
				for _, k := range []string{"cifar_skeleton", "imagenet_skeleton"} {
					if sp, given := seen[k]; given {
						other, clash = sp, true
					}
				}
			}
			if clash {
				c.diags.Errorf(f.Key.Span, "%s: and %s are both given", key, map[bool]string{true: "a dataset's skeleton", false: "skeleton:"}[key == "skeleton"]).Detail =
					fmt.Sprintf("the other is at %s; skeleton: is for every dataset, cifar_skeleton: and imagenet_skeleton: for one each: give one or the other", other.Start.Format(other.File))
				ok = false
				continue
			}
			if !c.networkSkeleton(n, dataset, f.Value) {
				ok = false
			}
			continue
		}
		want := lang.Normal
		if key == "reduction" {
			want = lang.Reduction
		}
		cd := c.findCellDecl(f.Value.Name)
		if cd == nil {
			c.unknownCell(f.Value, want)
			ok = false
			continue
		}
		if cd.Kind != want {
			c.diags.Errorf(f.Value.Span, "%s: names %s cell %q", key, cd.Kind, f.Value.Name).Detail = fmt.Sprintf("the %s slot takes a %s cell: name one, or declare %s as `%s cell %s`", key, want, f.Value.Name, want, f.Value.Name)
			ok = false
			continue
		}
		cell := c.prog.Cells[f.Value.Name]
		if cell == nil {
			ok = false // reported at the cell
			continue
		}
		if key == "normal" {
			n.Normal = cell
		} else {
			n.Reduction = cell
		}
	}
	for _, key := range []string{"normal", "reduction"} {
		if _, given := seen[key]; !given {
			c.diags.Errorf(d.Name.Span, "network %q has no %s cell", n.Name, key).Detail = fmt.Sprintf("add `%s: CELL`", key)
			ok = false
		}
	}
	if ok {
		c.prog.Networks = append(c.prog.Networks, n)
	}
}

// networkSkeleton binds "skeleton: NAME" (dataset "") or a dataset's
// skeleton.
func (c *checker) networkSkeleton(n *Network, dataset string, name lang.Ident) bool {
	if c.skelDecl(name.Name) == nil {
		e := c.diags.Errorf(name.Span, "unknown skeleton %q", name.Name)
		if info, ok := c.names[name.Name]; ok {
			e.Summary = fmt.Sprintf("%q is %s %s, not a skeleton", name.Name, article(info.kind), info.kind)
		}
		if e.Detail = lang.DidYouMean(name.Name, c.skelNames()); e.Detail == "" {
			e.Detail = "the skeletons are " + andList(c.skelNames())
		}
		return false
	}
	sk := c.prog.Skeletons[name.Name]
	if dataset == "" {
		n.Skeleton = sk
	} else {
		if n.DatasetSkeletons == nil {
			n.DatasetSkeletons = map[string]*Skeleton{}
		}
		n.DatasetSkeletons[dataset] = sk
	}
	return sk != nil // a broken skeleton is reported where it is declared
}

// unknownCell reports a network field naming no cell.
func (c *checker) unknownCell(name lang.Ident, want lang.CellKind) {
	e := c.diags.Errorf(name.Span, "unknown cell %q", name.Name)
	if info, ok := c.names[name.Name]; ok {
		e.Summary = fmt.Sprintf("%q is %s %s, not a cell", name.Name, article(info.kind), info.kind)
	}
	var all, kind []string
	for _, x := range c.cellDecls {
		all = append(all, x.Name.Name)
		if x.Kind == want {
			kind = append(kind, x.Name.Name)
		}
	}
	sort.Strings(all)
	sort.Strings(kind)
	e.Detail = lang.DidYouMean(name.Name, all)
	switch {
	case e.Detail != "":
	case len(kind) == 1:
		e.Detail = fmt.Sprintf("the only %s cell is %s", want, kind[0])
	case len(kind) > 1:
		e.Detail = fmt.Sprintf("the %s cells are %s", want, andList(kind))
	default:
		e.Detail = fmt.Sprintf("declare one: %s cell %s { block < in: h_i, h_i-1; op: sep3x3, identity; combine: add > }", want, name.Name)
	}
}

func (c *checker) findCellDecl(name string) *lang.CellDecl {
	for _, d := range c.cellDecls {
		if d.Name.Name == name {
			return d
		}
	}
	return nil
}
