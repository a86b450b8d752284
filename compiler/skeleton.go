package compiler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"cellc/lang"
)

// Skeletons: what a skeleton declaration's fields mean, and the checks
// that need no build. A skeleton is resolved here (its base merged in,
// fields and names checked, its arithmetic tried under its defaults) and
// interpreted by the builder (build.go).

// Skeleton is a checked skeleton with its base merged in: the fields and
// parameter defaults of the skeleton it extends, overridden by its own.
type Skeleton struct {
	Name   string
	Params map[string]*lang.Param
	Fields map[string]*lang.SkelField
	Decl   *lang.SkeletonDecl
}

// skelFields are a skeleton's fields, in the order the docs list them.
var skelFields = []string{"input", "stem", "layers", "reductions", "scaling", "inputs", "aux", "aux_head", "classifier"}

// requiredFields must be set by a skeleton or its base.
var requiredFields = []string{"input", "stem", "layers", "reductions", "scaling", "inputs", "classifier"}

// Stages a pipeline may use, per field. Cells (normal, reduction),
// endpoint and cell_input belong to the stem only.
var (
	headStages = []string{"avgpool", "bn", "conv", "dense", "dropout", "gap", "maxpool", "relu"}
	stemStages = []string{"avgpool", "bn", "cell_input", "conv", "endpoint", "maxpool", "normal", "reduction", "relu"}
)

// stageArgs lists each skeleton stage's arguments.
var stageArgs = map[string][]string{
	"conv": {"k", "stride", "pad", "filters", "dilation"}, "avgpool": {"k", "stride", "pad"}, "maxpool": {"k", "stride", "pad"},
	"bn": nil, "relu": nil, "gap": nil, "dropout": {"keep"}, "dense": {"filters"},
	"endpoint": {"name"}, "normal": {"filters"}, "reduction": {"filters"}, "cell_input": nil,
	"images": {"size", "channels"}, "reduce_prev": {"skip", "hold"}, "preprocess": nil, "calibrate": nil,
}

// inputModes are the ways a skeleton's inputs: field adapts a cell's
// inputs: reduce_prev (TF-slim's _reduce_prev_layer), preprocess
// (DARTS' preprocess0 / preprocess1) and calibrate (ENAS'
// _maybe_calibrate_size and layer_base).
var inputModes = []string{"calibrate", "preprocess", "reduce_prev"}

// configParams are the parameters a build's Config sets, by name.
var configParams = []string{"base_filters", "channels", "classes", "dense_dropout_keep_prob", "image_size", "layers", "n", "skip_reduction_layer_input", "stem_multiplier"}

// skeletons checks every skeleton declaration.
func (c *checker) skeletons() {
	for _, d := range c.skelDecls {
		c.skeleton(d.Name.Name, nil)
	}
}

// skeleton resolves one skeleton by name (nil after reporting), merging
// its base; chain is the skeletons being resolved, to find cycles.
func (c *checker) skeleton(name string, chain []string) *Skeleton {
	if sk, done := c.prog.Skeletons[name]; done {
		return sk
	}
	d := c.skelDecl(name)
	if i := slices.Index(chain, name); i >= 0 {
		cycle := strings.Join(append(slices.Clone(chain[i:]), name), " -> ")
		c.diags.Errorf(d.Name.Span, "skeleton %q extends itself (%s)", name, cycle).Detail = "a skeleton may extend another, but not in a cycle"
		return nil
	}
	sk := &Skeleton{Name: name, Params: map[string]*lang.Param{}, Fields: map[string]*lang.SkelField{}, Decl: d}
	ok := true
	if d.Base != nil {
		base := c.skelDecl(d.Base.Name)
		switch {
		case base == nil:
			e := c.diags.Errorf(d.Base.Span, "unknown skeleton %q", d.Base.Name)
			e.Detail = lang.DidYouMean(d.Base.Name, c.skelNames())
			c.prog.Skeletons[name] = nil
			return nil // its fields would be reported missing
		default:
			b := c.skeleton(d.Base.Name, append(chain, name))
			if b == nil {
				c.prog.Skeletons[name] = nil
				return nil // reported at the base
			}
			for k, v := range b.Params {
				sk.Params[k] = v
			}
			for k, v := range b.Fields {
				sk.Fields[k] = v
			}
		}
	}
	own := map[string]lang.Span{}
	for _, p := range d.Params {
		if prev, dup := own[p.Name.Name]; dup {
			c.diags.Errorf(p.Name.Span, "parameter %q is given twice", p.Name.Name).Detail = fmt.Sprintf("the first is at %s", prev.Start.Format(prev.File))
			ok = false
			continue
		}
		own[p.Name.Name] = p.Name.Span
		sk.Params[p.Name.Name] = p
	}
	ownField := map[string]lang.Span{}
	for _, f := range d.Fields {
		key := f.Key.Name
		if !slices.Contains(skelFields, key) {
			e := c.diags.Errorf(f.Key.Span, "unknown skeleton field %q", key)
			if e.Detail = lang.DidYouMean(key, skelFields); e.Detail == "" {
				e.Detail = "a skeleton's fields are " + andList(skelFields)
			}
			ok = false
			continue
		}
		if prev, dup := ownField[key]; dup {
			c.diags.Errorf(f.Key.Span, "field %q is given twice", key).Detail = fmt.Sprintf("the first is at %s", prev.Start.Format(prev.File))
			ok = false
			continue
		}
		ownField[key] = f.Key.Span
		sk.Fields[key] = f
	}
	for _, key := range requiredFields {
		if sk.Fields[key] == nil {
			c.diags.Errorf(d.Name.Span, "skeleton %q has no %s field", name, key).Detail = fmt.Sprintf("add `%s: ...` or extend a skeleton that has one", key)
			ok = false
		}
	}
	if (sk.Fields["aux"] == nil) != (sk.Fields["aux_head"] == nil) {
		c.diags.Errorf(d.Name.Span, "skeleton %q gives only one of aux and aux_head", name).Detail = "aux says after which layer the aux head goes, aux_head what it is: give both or neither"
		ok = false
	}
	if ok {
		ok = c.checkSkeleton(sk)
	}
	if !ok {
		sk = nil
	}
	c.prog.Skeletons[name] = sk
	return sk
}

func (c *checker) skelDecl(name string) *lang.SkeletonDecl {
	for _, d := range c.skelDecls {
		if d.Name.Name == name {
			return d
		}
	}
	return nil
}

func (c *checker) skelNames() []string {
	var names []string
	for _, d := range c.skelDecls {
		names = append(names, d.Name.Name)
	}
	sort.Strings(names)
	return names
}

// checkSkeleton checks the fields' shapes and names, then evaluates the
// layout and widths under the defaults: a reduction or the aux head past
// the last layer, or a width that is not a whole number, is an error in
// the skeleton itself, whatever the build sets.
func (c *checker) checkSkeleton(sk *Skeleton) bool {
	ok := true
	params := make([]string, 0, len(sk.Params))
	for k := range sk.Params {
		params = append(params, k)
	}
	sort.Strings(params)
	env := map[string]float64{}
	for _, k := range params {
		if !c.paramRefs(sk.Params[k].Default, nil, "a parameter's default") {
			ok = false
			continue
		}
		v, err := evalExpr(sk.Params[k].Default, nil)
		if err != nil {
			c.diags.Errorf(err.at, "%s", err.msg)
			ok = false
			continue
		}
		env[k] = v
	}
	if !ok {
		return false
	}
	for _, key := range skelFields {
		f := sk.Fields[key]
		if f == nil {
			continue
		}
		if !c.skelField(f, params) {
			ok = false
		}
	}
	if !ok {
		return false
	}
	// reduce_prev(hold: H) is about reductions that are layers (pnasnet.py);
	// with reductions inserted before layers it has nothing to hold.
	if in, rf := sk.Fields["inputs"], sk.Fields["reductions"]; rf.Where.Name == "before" {
		if hold := argKey(in.Items[0].Expr.(*lang.Call), "hold"); hold != nil {
			at := hold.Span
			if !slices.Contains(sk.Decl.Fields, in) && slices.Contains(sk.Decl.Fields, rf) {
				at = rf.Where.Span // the inputs field is inherited: point at what this skeleton wrote
			}
			c.diags.Errorf(at, "reduce_prev(hold: ...) needs `reductions: at`, not `reductions: before`").Detail =
				"hold: keeps the h_i-1 of the layer before a reduction that is itself a layer (pnasnet.py); with reduction cells inserted before layers use skip: (nasnet.py's skip_reduction_layer_input)"
			return false
		}
	}
	if !c.stemCellInputs(sk) {
		return false
	}
	// The arithmetic under the defaults.
	if _, err := evalLayout(sk, env); err != nil {
		c.diags.Errorf(err.at, "%s", err.msg).Detail = err.hint
		return false
	}
	for _, key := range []string{"stem", "aux_head", "classifier"} {
		f := sk.Fields[key]
		if f == nil {
			continue
		}
		for _, it := range f.Items {
			call := it.Expr.(*lang.Call)
			for _, a := range call.Args {
				if a.Key.Name != "filters" {
					continue
				}
				v, err := evalExpr(a.Value, env)
				if err != nil {
					c.diags.Errorf(err.at, "%s", err.msg)
					ok = false
					continue
				}
				if v != math.Trunc(v) || v < 1 {
					c.diags.Errorf(a.Value.ExprSpan(), "width %s is %g under the defaults of skeleton %q, not a whole number of filters", lang.FormatExpr(a.Value), v, sk.Name).Detail =
						"widths must divide exactly under the source's own config; TF-slim would truncate this one"
					ok = false
				}
			}
		}
	}
	return ok
}

// stemCellInputs checks where the stem's cell_input stages stand. The
// stem's output is always the first cell's h_i, and a stem cell's output
// is already a cell input, so a cell_input at the end of the stem, right
// after a cell or right after another would add the same tensor twice:
// the skeleton means something else, and saying so beats guessing.
func (c *checker) stemCellInputs(sk *Skeleton) bool {
	ok := true
	items := sk.Fields["stem"].Items
	for i, it := range items {
		call := it.Expr.(*lang.Call)
		if call.Name.Name != "cell_input" {
			continue
		}
		if it.As != nil {
			c.diags.Errorf(it.As.Span, "cell_input takes no scope: it makes no node").Detail = "it marks the stem's tensor at that point as an input of the first cell"
			ok = false
		}
		var prev string
		if i > 0 {
			prev = items[i-1].Expr.(*lang.Call).Name.Name
		}
		switch {
		case i == len(items)-1:
			c.diags.Errorf(call.Span, "cell_input ends the stem: the stem's output is the first cell's h_i already").Detail =
				"put cell_input where the stem has the first cell's h_i-1 (DARTS' ImageNet stem0), with the stages that make h_i after it"
			ok = false
		case i == 0:
			c.diags.Errorf(call.Span, "cell_input starts the stem: the image is not a cell input").Detail = "put it after the stages whose output the first cell reads as h_i-1"
			ok = false
		case prev == "cell_input" || prev == "normal" || prev == "reduction":
			c.diags.Errorf(call.Span, "cell_input right after %s: that tensor is a cell input already", prev).Detail = "a stem cell's output, and a tensor marked once, is one of the first cell's inputs; mark each tensor once"
			ok = false
		}
	}
	return ok
}

// skelField checks one field's form: a position word where the field
// takes one, stages of the right kinds with known arguments, and names
// that are parameters.
func (c *checker) skelField(f *lang.SkelField, params []string) bool {
	key := f.Key.Name
	wantWhere := map[string][]string{"reductions": {"before", "at"}, "aux": {"after"}}[key]
	switch {
	case len(wantWhere) > 0 && f.Where == nil:
		c.diags.Errorf(f.Key.Span, "%s: needs %s", key, orList(wantWhere)).Detail = map[string]string{
			"reductions": "write `reductions: before n, 2 * n` (reduction cells inserted before those layers) or `reductions: at l / 3, 2 * l / 3` (those layers are reductions)",
			"aux":        "write `aux: after 2 * n - 1`",
		}[key]
		return false
	case f.Where != nil && !slices.Contains(wantWhere, f.Where.Name):
		c.diags.Errorf(f.Where.Span, "%s: takes no %q", key, f.Where.Name).Detail = "before and at go with reductions:, after with aux:"
		return false
	}
	pipeline := map[string][]string{"stem": stemStages, "aux_head": headStages, "classifier": headStages}[key]
	single := map[string][]string{"input": {"images"}, "inputs": inputModes}[key]
	ok := true
	for i, it := range f.Items {
		switch {
		case pipeline != nil || single != nil:
			if i > 0 && (single != nil || it.Sep != "->") {
				c.diags.Errorf(it.Span, "%s: takes %s", key, map[bool]string{true: "one stage", false: `stages joined by "->"`}[single != nil])
				ok = false
				continue
			}
			allowed := pipeline
			if single != nil {
				allowed = single
			}
			if !c.skelStage(key, it, allowed, params) {
				ok = false
			}
		default:
			if it.As != nil {
				c.diags.Errorf(it.As.Span, "%s: takes numbers, not a scope", key)
				ok = false
			}
			if i > 0 && (key != "reductions" || it.Sep != ",") {
				c.diags.Errorf(it.Span, "%s: takes one number", key)
				ok = false
				continue
			}
			if !c.paramRefs(it.Expr, params, key) {
				ok = false
			}
		}
	}
	return ok
}

// skelStage checks one stage: its name, its arguments and their names.
func (c *checker) skelStage(field string, it *lang.Item, allowed, params []string) bool {
	call, isCall := it.Expr.(*lang.Call)
	if !isCall {
		c.diags.Errorf(it.Expr.ExprSpan(), "%s: %s is not a stage", field, lang.FormatExpr(it.Expr)).Detail = "a stage is a name with optional arguments: conv(k: 3, filters: 32)"
		return false
	}
	if !slices.Contains(allowed, call.Name.Name) {
		what := map[string]string{"stem": "stem op", "aux_head": "aux head op", "classifier": "classifier op", "input": "input", "inputs": "input adaptation"}[field]
		e := c.diags.Errorf(call.Name.Span, "unknown %s %q", what, call.Name.Name)
		if e.Detail = lang.DidYouMean(call.Name.Name, allowed); e.Detail == "" {
			e.Detail = fmt.Sprintf("%s: takes %s", field, orList(allowed))
		}
		return false
	}
	ok := true
	seen := map[string]bool{}
	for _, a := range call.Args {
		known := stageArgs[call.Name.Name]
		if !slices.Contains(known, a.Key.Name) || seen[a.Key.Name] {
			e := c.diags.Errorf(a.Key.Span, "%s takes no argument %q", call.Name.Name, a.Key.Name)
			if seen[a.Key.Name] {
				e.Summary = fmt.Sprintf("argument %q is given twice", a.Key.Name)
			} else if e.Detail = lang.DidYouMean(a.Key.Name, known); e.Detail == "" && len(known) > 0 {
				e.Detail = fmt.Sprintf("%s takes %s", call.Name.Name, andList(known))
			}
			ok = false
			continue
		}
		seen[a.Key.Name] = true
		var words []string
		switch a.Key.Name {
		case "pad":
			words = []string{"same", "valid"}
		case "k":
			words = []string{"full"}
		case "name":
			if n, bare := a.Value.(*lang.Call); !bare || n.Parens {
				c.diags.Errorf(a.Value.ExprSpan(), "endpoint name must be a name, as in endpoint(name: Conv0)")
				ok = false
			}
			continue
		}
		if !c.paramRefs(a.Value, append(params, words...), call.Name.Name+"'s "+a.Key.Name) {
			ok = false
		}
	}
	if want := map[string]string{"conv": "filters", "dense": "filters", "normal": "filters", "reduction": "filters", "endpoint": "name", "images": "size"}[call.Name.Name]; want != "" && !seen[want] {
		c.diags.Errorf(call.Span, "%s needs %s:", call.Name.Name, want)
		ok = false
	}
	return ok
}

// names_ checks that every name in e is one of names (parameters, or the
// words an argument takes).
func (c *checker) paramRefs(e lang.Expr, names []string, where string) bool {
	ok := true
	var walk func(e lang.Expr)
	walk = func(e lang.Expr) {
		switch e := e.(type) {
		case *lang.Call:
			if e.Parens {
				c.diags.Errorf(e.Span, "%s: %s(...) is a stage, not a number", where, e.Name.Name)
				ok = false
				return
			}
			if !slices.Contains(names, e.Name.Name) {
				d := c.diags.Errorf(e.Name.Span, "unknown parameter %q in %s", e.Name.Name, where)
				if d.Detail = lang.DidYouMean(e.Name.Name, names); d.Detail == "" {
					d.Detail = "declare it in the skeleton's parameters: skeleton NAME(" + e.Name.Name + " = VALUE)"
				}
				ok = false
			}
		case *lang.Binary:
			walk(e.X)
			walk(e.Y)
		case *lang.Paren:
			walk(e.X)
		}
	}
	walk(e)
	return ok
}

func orList(items []string) string {
	s := andList(items)
	if i := strings.LastIndex(s, " and "); i >= 0 {
		s = s[:i] + " or " + s[i+len(" and "):]
	}
	return s
}

// evalError is an arithmetic error at an expression.
type evalError struct {
	at        lang.Span
	msg, hint string
}

// evalExpr evaluates e with the parameters in env. Names not in env
// (words such as valid) are an error here; callers read them apart.
func evalExpr(e lang.Expr, env map[string]float64) (float64, *evalError) {
	switch e := e.(type) {
	case *lang.Number:
		var v float64
		if _, err := fmt.Sscan(e.Text, &v); err != nil {
			return 0, &evalError{at: e.Span, msg: fmt.Sprintf("%s is not a number", e.Text)}
		}
		return v, nil
	case *lang.Call:
		v, ok := env[e.Name.Name]
		if !ok || e.Parens {
			return 0, &evalError{at: e.Span, msg: fmt.Sprintf("%s is not a number here", lang.FormatExpr(e))}
		}
		return v, nil
	case *lang.Paren:
		return evalExpr(e.X, env)
	case *lang.Binary:
		x, err := evalExpr(e.X, env)
		if err != nil {
			return 0, err
		}
		y, err := evalExpr(e.Y, env)
		if err != nil {
			return 0, err
		}
		switch e.Op {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		case "*":
			return x * y, nil
		}
		if y == 0 {
			return 0, &evalError{at: e.Y.ExprSpan(), msg: fmt.Sprintf("%s divides by zero", lang.FormatExpr(e))}
		}
		return x / y, nil
	}
	return 0, &evalError{msg: "internal error: no expression"}
}

// layout is a skeleton's body under one set of parameters.
type layout struct {
	layers     int
	insert     bool // reductions are inserted before layers (NASNet), not in their place
	reductions []int
	scaling    float64
	aux        int // the layer the aux head follows; -1 if none
}

// evalLayout evaluates layers, reductions, scaling and aux, and checks
// the positions: within the layers and increasing.
func evalLayout(sk *Skeleton, env map[string]float64) (*layout, *evalError) {
	num := func(f *lang.SkelField, e lang.Expr) (int, *evalError) {
		v, err := evalExpr(e, env)
		if err != nil {
			return 0, err
		}
		return int(v), nil // TF-slim's int(), Python's // for positives
	}
	lay := &layout{aux: -1}
	lf := sk.Fields["layers"]
	n, err := num(lf, lf.Items[0].Expr)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 1000 {
		return nil, &evalError{at: lf.Items[0].Expr.ExprSpan(), msg: fmt.Sprintf("layers %s is %d; want 1 to 1000", lang.FormatExpr(lf.Items[0].Expr), n)}
	}
	lay.layers = n
	rf := sk.Fields["reductions"]
	lay.insert = rf.Where.Name == "before"
	for _, it := range rf.Items {
		at, err := num(rf, it.Expr)
		if err != nil {
			return nil, err
		}
		if at < 0 || at >= n {
			return nil, &evalError{at: it.Expr.ExprSpan(), msg: fmt.Sprintf("reduction position %s is %d, past the last layer (%d layers: 0 to %d)", lang.FormatExpr(it.Expr), at, n, n-1),
				hint: "positions count layers from 0"}
		}
		if k := len(lay.reductions); k > 0 && at <= lay.reductions[k-1] {
			return nil, &evalError{at: it.Expr.ExprSpan(), msg: fmt.Sprintf("reduction position %s is %d, not after the previous one (%d)", lang.FormatExpr(it.Expr), at, lay.reductions[k-1]),
				hint: "list the positions in increasing order, each once"}
		}
		lay.reductions = append(lay.reductions, at)
	}
	sf := sk.Fields["scaling"]
	s, err := evalExpr(sf.Items[0].Expr, env)
	if err != nil {
		return nil, err
	}
	if s <= 0 {
		return nil, &evalError{at: sf.Items[0].Expr.ExprSpan(), msg: fmt.Sprintf("scaling %g must be positive", s)}
	}
	lay.scaling = s
	if af := sk.Fields["aux"]; af != nil {
		at, err := num(af, af.Items[0].Expr)
		if err != nil {
			return nil, err
		}
		if at < 0 || at >= n {
			return nil, &evalError{at: af.Items[0].Expr.ExprSpan(), msg: fmt.Sprintf("aux head position %s is %d, past the last layer (%d layers: 0 to %d)", lang.FormatExpr(af.Items[0].Expr), at, n, n-1)}
		}
		lay.aux = at
	}
	return lay, nil
}

// argKey returns a call's argument name by key, nil if absent.
func argKey(c *lang.Call, key string) *lang.Ident {
	for _, a := range c.Args {
		if a.Key.Name == key {
			return &a.Key
		}
	}
	return nil
}
