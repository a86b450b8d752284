package genotype

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cellc/lang"
)

// Parse reads one genotype expression, optionally bound to a name:
// "Genotype(normal=[...], ...)" or "DARTS_V2 = Genotype(...)". name is
// the file name diagnostics use. It returns nil and the diagnostics when
// there is any error.
func Parse(name string, src []byte) (*Genotype, lang.Diagnostics) {
	s := newSource(name, src)
	toks, diags := scan(s)
	if diags.HasErrors() {
		return nil, diags
	}
	if d := checkBrackets(s, toks); d.HasErrors() {
		return nil, d
	}
	p := &parser{src: s, toks: toks, end: "the end of the input"}
	if toks[0].kind == tEOF {
		p.diags.Errorf(s.span(0, 0), "no genotype: the input is empty").Detail = "give Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])"
		return nil, p.diags
	}
	gname := ""
	if toks[0].kind == tIdent && p.isPunct(toks[1], "=") {
		gname, p.i = toks[0].text, 2
	}
	g := p.statement(gname)
	p.diags.Sort()
	if p.diags.HasErrors() {
		return nil, p.diags
	}
	return g, p.diags
}

// Entry is one genotype a Python file binds to a name.
type Entry struct {
	// Name is the name bound, or "" for a bare Genotype(...) statement.
	Name string
	// Span is the name, or the expression when there is no name.
	Span lang.Span
	// Alias is OTHER for a statement NAME = OTHER that names a genotype
	// bound before it (DARTS = DARTS_V2); Genotype is then OTHER's.
	Alias string
	// Genotype is nil when Diags has errors.
	Genotype *Genotype
	// Diags are the problems of this genotype's expression.
	Diags lang.Diagnostics
}

// ParseFile reads the genotypes of a Python file such as a project's
// genotypes.py: every statement NAME = Genotype(...), bare Genotype(...)
// and NAME = OTHER naming one of those, in order; a name bound twice keeps
// its last value, as in Python. Every other statement (imports, the
// namedtuple, PRIMITIVES, functions) is skipped. The diagnostics returned
// beside the entries are the file's own (an unterminated string,
// unbalanced brackets), which leave no entries; each entry carries those
// of its expression, so that one broken genotype does not hide the
// others.
func ParseFile(name string, src []byte) ([]*Entry, lang.Diagnostics) {
	s := newSource(name, src)
	toks, diags := scan(s)
	if diags.HasErrors() {
		return nil, diags
	}
	if d := checkBrackets(s, toks); d.HasErrors() {
		return nil, d
	}
	var entries []*Entry
	add := func(e *Entry) {
		for i, old := range entries {
			if old.Name != "" && old.Name == e.Name {
				entries[i] = e
				return
			}
		}
		entries = append(entries, e)
	}
	for _, st := range statements(toks) {
		isGenotype := func(i int) bool {
			return len(st) > i+1 && st[i].kind == tIdent && st[i].text == "Genotype" && st[i+1].kind == tPunct && st[i+1].text == "("
		}
		named := len(st) >= 3 && st[0].kind == tIdent && st[1].kind == tPunct && st[1].text == "="
		switch {
		case named && isGenotype(2):
			e := parseEntry(s, st, 2, st[0].text)
			e.Span = s.tokSpan(st[0])
			add(e)
		case isGenotype(0):
			e := parseEntry(s, st, 0, "")
			add(e)
		case named && len(st) == 3 && st[2].kind == tIdent:
			for _, target := range entries {
				if target.Name == st[2].text {
					add(&Entry{Name: st[0].text, Span: s.tokSpan(st[0]), Alias: target.Name, Genotype: target.Genotype, Diags: target.Diags})
					break
				}
			}
		}
	}
	return entries, nil
}

// parseEntry parses the statement st, whose Genotype(...) starts at
// st[at].
func parseEntry(s *source, st []token, at int, name string) *Entry {
	end := st[len(st)-1].end
	toks := append(slices.Clip(st[at:]), token{kind: tEOF, start: end, end: end})
	p := &parser{src: s, toks: toks, end: "the end of the statement"}
	g := p.statement(name)
	p.diags.Sort()
	e := &Entry{Name: name, Span: s.span(st[at].start, end), Diags: p.diags}
	if !p.diags.HasErrors() {
		e.Genotype = g
	}
	return e
}

// statements splits a token stream (ending in tEOF) into Python
// statements: a statement starts with a token at column 1 at bracket
// depth 0. The tEOF is in none of them.
func statements(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		if i > start && t.bol && depth == 0 {
			out = append(out, toks[start:i])
			start = i
		}
		if t.kind == tEOF {
			break
		}
		if t.kind == tPunct {
			switch {
			case closer(t.text) != "":
				depth++
			case isCloser(t.text):
				depth--
			}
		}
	}
	return out
}

// parser reads values from toks, which end with a tEOF token.
type parser struct {
	src   *source
	toks  []token
	i     int
	end   string // how the tEOF token is described
	diags lang.Diagnostics
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peek2() token { return p.toks[min(p.i+1, len(p.toks)-1)] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isPunct(t token, s string) bool { return t.kind == tPunct && t.text == s }

func (p *parser) describe(t token) string {
	switch t.kind {
	case tEOF:
		return p.end
	case tString:
		return "string " + t.text
	case tInt:
		return "number " + t.text
	}
	return strconv.Quote(t.text)
}

func (p *parser) fail(t token, format string, args ...any) *lang.Diagnostic {
	return p.diags.Errorf(p.src.tokSpan(t), format, args...)
}

// statement parses "Genotype(...)" up to the end of the tokens.
func (p *parser) statement(name string) *Genotype {
	v := p.value()
	if v == nil {
		return nil
	}
	if t := p.peek(); t.kind != tEOF {
		p.fail(t, "unexpected %s after the genotype", p.describe(t)).Detail = "a genotype is one Genotype(...) expression"
		return nil
	}
	return p.genotype(v, name)
}

// valueKind says what a value is.
type valueKind uint8

const (
	vInt valueKind = iota
	vString
	vName
	vTuple
	vList
	vCall
)

// value is a Python literal, or a name or call (None, range(2, 6)).
type value struct {
	kind  valueKind
	n     int      // vInt
	s     string   // vString: the text; vName, vCall: the name
	items []*value // vTuple, vList: the elements; vCall: the arguments
	keys  []token  // vCall: each argument's keyword, tEOF when positional
	span  lang.Span
	head  lang.Span // vCall: the name called
}

func (v *value) describe() string {
	switch v.kind {
	case vInt:
		return fmt.Sprintf("the number %d", v.n)
	case vString:
		return "the string " + pyRepr(v.s)
	case vName:
		return v.s
	case vTuple:
		return fmt.Sprintf("a tuple of %d", len(v.items))
	case vList:
		return fmt.Sprintf("a list of %d", len(v.items))
	}
	return v.s + "(...)"
}

// maxInt bounds integer literals: indices that large are wrong anyway.
const maxInt = 1 << 30

// value parses one value, or reports the first syntax error and returns
// nil. Brackets are known to balance.
func (p *parser) value() *value {
	t := p.next()
	switch t.kind {
	case tInt:
		n, err := strconv.Atoi(t.text)
		if err != nil || n > maxInt {
			p.fail(t, "number %s is too large", t.text)
			return nil
		}
		return &value{kind: vInt, n: n, span: p.src.tokSpan(t)}
	case tString:
		return &value{kind: vString, s: t.str, span: p.src.tokSpan(t)}
	case tIdent:
		if !p.isPunct(p.peek(), "(") {
			return &value{kind: vName, s: t.text, span: p.src.tokSpan(t)}
		}
		p.next()
		v := &value{kind: vCall, s: t.text, head: p.src.tokSpan(t)}
		if _, ok := p.elements(v, ")", true); !ok {
			return nil
		}
		v.span = p.src.span(t.start, p.toks[p.i-1].end)
		return v
	case tPunct:
		switch t.text {
		case "(", "[":
			v := &value{kind: vTuple}
			if t.text == "[" {
				v.kind = vList
			}
			comma, ok := p.elements(v, closer(t.text), false)
			if !ok {
				return nil
			}
			if v.kind == vTuple && len(v.items) == 1 && !comma {
				return v.items[0] // (x) is x
			}
			v.span = p.src.span(t.start, p.toks[p.i-1].end)
			return v
		case "-":
			if n := p.peek(); n.kind == tInt {
				x := p.value()
				if x == nil {
					return nil
				}
				return &value{kind: vInt, n: -x.n, span: p.src.span(t.start, n.end)}
			}
		}
	}
	p.fail(t, "expected a value, found %s", p.describe(t))
	return nil
}

// elements parses the comma-separated elements of a tuple, list or call
// into v.items, through the closing bracket. keywords allows "name=value"
// elements (a call's arguments). comma reports a trailing comma.
func (p *parser) elements(v *value, close string, keywords bool) (comma, ok bool) {
	for {
		t := p.peek()
		if p.isPunct(t, close) {
			p.next()
			return comma, true
		}
		if len(v.items) > 0 && !comma {
			p.fail(t, "expected \",\" or %q, found %s", close, p.describe(t))
			return false, false
		}
		var key token
		if keywords && t.kind == tIdent && p.isPunct(p.peek2(), "=") {
			key = p.next()
			p.next()
		}
		x := p.value()
		if x == nil {
			return false, false
		}
		v.items = append(v.items, x)
		v.keys = append(v.keys, key)
		comma = false
		if p.isPunct(p.peek(), ",") {
			p.next()
			comma = true
		}
	}
}

// fieldNames are Genotype's fields in the namedtuple's order. DARTS has
// the first four; AutoDL-Projects adds connectN and connects.
func fieldNames() []string {
	return []string{"normal", "normal_concat", "reduce", "reduce_concat", "connectN", "connects"}
}

// genotype interprets a parsed value as a Genotype, reporting every
// problem it finds. It returns nil if there was any.
func (p *parser) genotype(v *value, name string) *Genotype {
	if v.kind != vCall || v.s != "Genotype" {
		at := v.span
		if v.kind == vCall {
			at = v.head
		}
		d := p.diags.Errorf(at, "expected Genotype(...), found %s", v.describe())
		if v.kind == vCall || v.kind == vName {
			d.Detail = lang.DidYouMean(v.s, []string{"Genotype"})
		}
		if d.Detail == "" {
			d.Detail = "a genotype is Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])"
		}
		return nil
	}
	before := len(p.diags)
	fields := fieldNames()
	args := map[string]*value{}
	given := map[string]lang.Span{}
	keyword := false
	for i, a := range v.items {
		var field string
		at := a.span
		if k := v.keys[i]; k.kind == tIdent {
			keyword = true
			field, at = k.text, p.src.tokSpan(k)
			if !slices.Contains(fields, field) {
				d := p.diags.Errorf(at, "unknown field %q", field)
				d.Detail = lang.DidYouMean(field, fields[:4])
				if d.Detail == "" {
					d.Detail = "a Genotype has the fields normal, normal_concat, reduce and reduce_concat"
				}
				continue
			}
		} else {
			if keyword {
				p.diags.Errorf(at, "positional field after a keyword field").Detail = "Python wants keyword arguments last: write normal=..., normal_concat=..."
				continue
			}
			if i >= len(fields) {
				p.diags.Errorf(at, "Genotype has %d fields, got %d", len(fields), len(v.items)).Detail = "remove the extra values"
				continue
			}
			field = fields[i]
		}
		if prev, dup := given[field]; dup {
			p.diags.Errorf(at, "field %s is given twice", field).Detail = fmt.Sprintf("the first is at %d:%d", prev.Start.Line, prev.Start.Col)
			continue
		}
		given[field] = at
		args[field] = a
	}
	for _, f := range fields[4:] {
		if a := args[f]; a != nil && (a.kind != vName || a.s != "None") {
			p.diags.Errorf(a.span, "%s must be None", f).Detail = "AutoDL-Projects' connectN and connects are read only when None, i.e. for cells wired as DARTS wires them"
		}
	}
	var missing []string
	for _, f := range fields[:4] {
		if _, ok := given[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		s := ""
		if len(missing) > 1 {
			s = "s"
		}
		p.diags.Errorf(v.head, "missing field%s %s", s, strings.Join(missing, ", ")).Detail =
			"a genotype gives normal, normal_concat, reduce and reduce_concat, e.g. Genotype(normal=[...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])"
	}
	g := &Genotype{Name: name, Span: v.span}
	g.Normal = p.cell("normal", args["normal"], args["normal_concat"])
	g.Reduce = p.cell("reduce", args["reduce"], args["reduce_concat"])
	if len(p.diags) > before {
		return nil
	}
	return g
}

// cell interprets the nodes and concat fields of one cell; either may be
// nil (missing, already reported).
func (p *parser) cell(field string, nodes, concat *value) Cell {
	var c Cell
	states := -1 // unknown
	if nodes != nil {
		c.Span = nodes.span
		var ok bool
		c.Nodes, ok = p.nodes(field, nodes)
		if ok {
			states = len(c.Nodes) + 2
		}
	}
	if concat != nil {
		c.ConcatSpan = concat.span
		c.Concat = p.concat(field+"_concat", concat, states)
	}
	return c
}

// nodes reads a cell's (op, input) pairs: DARTS' flat list, two pairs a
// node, or AutoDL's list of nodes, each a tuple of its pairs.
func (p *parser) nodes(field string, v *value) ([]Node, bool) {
	if v.kind != vList && v.kind != vTuple {
		p.diags.Errorf(v.span, "%s must be a list of (op, input) pairs, found %s", field, v.describe()).Detail = "write [('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], two pairs for each node"
		return nil, false
	}
	if len(v.items) == 0 {
		p.diags.Errorf(v.span, "%s has no nodes", field).Detail = "a cell needs at least one node: two (op, input) pairs"
		return nil, false
	}
	ok := true
	grouped := isGroup(v.items[0])
	var nodes []Node
	var edges []Edge
	var valid []bool // per edge: its index is a number to range-check
	for _, it := range v.items {
		// A broken item still takes its place (one pair, or a group's
		// two), so that later nodes keep their numbers.
		placeholder := func() {
			edges, valid = append(edges, Edge{Span: it.span}), append(valid, false)
			if grouped {
				edges, valid = append(edges, Edge{Span: it.span}), append(valid, false)
			}
		}
		if isGroup(it) != grouped {
			p.diags.Errorf(it.span, "%s mixes (op, input) pairs with groups of pairs", field).Detail =
				"write DARTS' flat list [('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...] or AutoDL's [(('sep_conv_3x3', 0), ('sep_conv_3x3', 1)), ...], not both"
			ok = false
			placeholder()
			continue
		}
		if !grouped {
			e, good, idx := p.pair(it)
			ok = ok && good
			edges, valid = append(edges, e), append(valid, idx)
			continue
		}
		if len(it.items) != 2 {
			p.diags.Errorf(it.span, "node %d of %s has %d (op, input) pairs; a node takes two", len(edges)/2, field, len(it.items)).Detail = "cellc's blocks, like DARTS' nodes, add exactly two edges"
			ok = false
			placeholder()
			continue
		}
		for _, x := range it.items {
			e, good, idx := p.pair(x)
			ok = ok && good
			edges, valid = append(edges, e), append(valid, idx)
		}
	}
	if !grouped && len(edges)%2 == 1 {
		p.diags.Errorf(v.items[len(v.items)-1].span, "%s has %d (op, input) pairs, an odd number", field, len(edges)).Detail =
			"node j adds pairs 2j and 2j+1, so every node takes two: add this one's partner or remove it"
		ok = false
	}
	for j := 0; j+1 < len(edges); j += 2 {
		nodes = append(nodes, Node{edges[j], edges[j+1]})
		for k := j; k < j+2; k++ {
			e, node := edges[k], j/2
			if !valid[k] || e.Input < node+2 {
				continue
			}
			var d *lang.Diagnostic
			if e.Input == node+2 {
				d = p.diags.Errorf(e.InputSpan, "index %d in %s node %d refers to the node itself", e.Input, field, node)
			} else {
				d = p.diags.Errorf(e.InputSpan, "index %d in %s node %d refers to a later node", e.Input, field, node)
			}
			d.Detail = readable(node)
			ok = false
		}
	}
	return nodes, ok
}

// readable says which indices node j may read.
func readable(j int) string {
	switch j {
	case 0:
		return "node 0 reads 0 (c_{k-2}) or 1 (c_{k-1})"
	case 1:
		return "node 1 reads 0 (c_{k-2}), 1 (c_{k-1}) or 2 (node 0)"
	}
	return fmt.Sprintf("node %d reads 0 (c_{k-2}), 1 (c_{k-1}) or an earlier node, 2 to %d", j, j+1)
}

// isGroup reports whether v is AutoDL's group of pairs, a tuple or list
// of tuples or lists, rather than a pair.
func isGroup(v *value) bool {
	if v.kind != vTuple && v.kind != vList || len(v.items) == 0 {
		return false
	}
	for _, x := range v.items {
		if x.kind != vTuple && x.kind != vList {
			return false
		}
	}
	return true
}

// pair reads one (op, input) pair. ok is false if anything is wrong;
// index is true when the input is a non-negative number (so that it can
// still be checked against the node).
func (p *parser) pair(v *value) (e Edge, ok, index bool) {
	e.Span = v.span
	if v.kind != vTuple && v.kind != vList || len(v.items) != 2 {
		p.diags.Errorf(v.span, "expected an (op, input) pair, found %s", v.describe()).Detail = "write each edge as ('sep_conv_3x3', 0): an operation and the index of the state it reads"
		return e, false, false
	}
	op, in := v.items[0], v.items[1]
	e.OpSpan, e.InputSpan = op.span, in.span
	ok = true
	switch {
	case op.kind != vString:
		p.diags.Errorf(op.span, "expected an operation name in quotes, found %s", op.describe()).Detail = "write each edge as ('sep_conv_3x3', 0)"
		ok = false
	case !IsOp(op.s):
		d := p.diags.Errorf(op.span, "unknown operation %q", op.s)
		d.Detail = lang.DidYouMean(op.s, Ops())
		if d.Detail == "" {
			d.Detail = "DARTS' operations are " + strings.Join(Ops(), ", ")
		}
		ok = false
	default:
		e.Op = op.s
	}
	switch {
	case in.kind != vInt:
		p.diags.Errorf(in.span, "expected an input index, found %s", in.describe()).Detail = "0 is c_{k-2}, 1 is c_{k-1}, i >= 2 is node i-2"
		return e, false, false
	case in.n < 0:
		p.diags.Errorf(in.span, "index %d is negative", in.n).Detail = "0 is c_{k-2}, 1 is c_{k-1}, i >= 2 is node i-2"
		return e, false, false
	}
	e.Input = in.n
	return e, ok, true
}

// maxRange bounds the length of a range(...) concat: far more states
// than any cell has.
const maxRange = 1 << 12

// concat reads a concat field: a list or tuple of state indices, or
// range(a, b) (also range(b), range(a, b, step), list(range(...))).
// states is the cell's number of states, or -1 if unknown.
func (p *parser) concat(field string, v *value, states int) []int {
	var (
		xs    []int
		spans []lang.Span
	)
	switch {
	case v.kind == vList || v.kind == vTuple:
		bad := false
		for _, x := range v.items {
			if x.kind != vInt {
				p.diags.Errorf(x.span, "expected a state index, found %s", x.describe()).Detail = "0 is c_{k-2}, 1 is c_{k-1}, i >= 2 is node i-2"
				bad = true
				continue
			}
			xs, spans = append(xs, x.n), append(spans, x.span)
		}
		if bad {
			return nil
		}
	case v.kind == vCall && v.s == "list" && len(v.items) == 1 && v.keys[0].kind != tIdent && v.items[0].kind == vCall && v.items[0].s == "range":
		return p.concat(field, v.items[0], states)
	case v.kind == vCall && v.s == "range":
		var ok bool
		if xs, ok = p.rangeCall(v); !ok {
			return nil
		}
	default:
		p.diags.Errorf(v.span, "%s must be a list of state indices or range(a, b), found %s", field, v.describe()).Detail = "e.g. [2, 3, 4, 5] or range(2, 6): the states the cell's output concatenates"
		return nil
	}
	if len(xs) == 0 {
		p.diags.Errorf(v.span, "%s is empty", field).Detail = "the cell's output concatenates at least one state"
		return nil
	}
	have := "0 is c_{k-2}, 1 is c_{k-1}, i >= 2 is node i-2"
	switch {
	case states == 3:
		have = "the cell's states are 0 (c_{k-2}), 1 (c_{k-1}) and 2, its one node"
	case states > 3:
		have = fmt.Sprintf("the cell's states are 0 (c_{k-2}), 1 (c_{k-1}) and its %d nodes, 2 to %d", states-2, states-1)
	}
	if v.kind == vCall {
		// A range is reported once, by its first or last state.
		if xs[0] < 0 {
			p.diags.Errorf(v.span, "%s starts at state %d, which the cell does not have", field, xs[0]).Detail = have
			return nil
		}
		if last := xs[len(xs)-1]; states >= 0 && last >= states {
			p.diags.Errorf(v.span, "%s runs to state %d, which the cell does not have", field, last).Detail = have
			return nil
		}
		return xs
	}
	ok := true
	seen := map[int]bool{}
	for i, x := range xs {
		switch {
		case x < 0 || states >= 0 && x >= states:
			p.diags.Errorf(spans[i], "%s lists state %d, which the cell does not have", field, x).Detail = have
			ok = false
		case seen[x]:
			p.diags.Errorf(spans[i], "%s lists state %d twice", field, x).Detail = "each state is concatenated once"
			ok = false
		}
		seen[x] = true
	}
	if !ok {
		return nil
	}
	return xs
}

// rangeCall evaluates range(stop), range(start, stop) or range(start,
// stop, step) with a positive step.
func (p *parser) rangeCall(v *value) ([]int, bool) {
	if len(v.items) < 1 || len(v.items) > 3 {
		p.diags.Errorf(v.span, "range takes 1 to 3 numbers, got %d", len(v.items)).Detail = "write range(2, 6) for [2, 3, 4, 5]"
		return nil, false
	}
	var args []int
	for i, a := range v.items {
		if v.keys[i].kind == tIdent || a.kind != vInt {
			p.diags.Errorf(a.span, "range takes numbers, found %s", a.describe()).Detail = "write range(2, 6) for [2, 3, 4, 5]"
			return nil, false
		}
		args = append(args, a.n)
	}
	start, stop, step := 0, args[0], 1
	if len(args) > 1 {
		start, stop = args[0], args[1]
	}
	if len(args) > 2 {
		step = args[2]
	}
	if step <= 0 {
		p.diags.Errorf(v.items[2].span, "range step %d is not positive", step).Detail = "concat indices count up: write range(2, 6)"
		return nil, false
	}
	var xs []int
	for x := start; x < stop; x += step {
		if len(xs) == maxRange {
			p.diags.Errorf(v.span, "range(...) is too long: more than %d states", maxRange)
			return nil, false
		}
		xs = append(xs, x)
	}
	return xs, true
}
