// Package compiler turns parsed .cell files into networks: Check resolves
// and checks the language (skeleton.go the skeleton declarations),
// BuildGraph interprets the network's skeleton (stdlib/skeletons.cell:
// TF-slim's NASNet CIFAR and ImageNet and PNASNet skeletons) to stack its cells into
// an IR graph, and the pass table (passes.go) rewrites that graph for the
// plan.
package compiler

import (
	"fmt"
	"strings"

	"cellc/compiler/ir"
	"cellc/lang"
	"cellc/stdlib"
)

// Result is a compiled network.
type Result struct {
	Program *Program
	Network *Network
	Config  Config
	// Built is the graph as built, before any pass: what the counts
	// describe.
	Built *ir.Graph
	// Graph is the graph after the pass pipeline.
	Graph *ir.Graph
	// Timings lists each pass and its wall time.
	Timings []PassTiming
	// Dumps holds the graph text after each pass named in Options.DumpAfter.
	Dumps map[string]string
	// BaseFilters is TF-slim's num_conv_filters for this build.
	BaseFilters int
	// Filters is the penultimate width, the F of the paper's "N @ F".
	Filters int
}

// Options controls the pass pipeline.
type Options struct {
	DumpAfter []string // pass names whose output to keep as text
	NoVerify  bool     // skip the IR verifier between passes
}

// CheckFile parses nothing: it checks an already parsed file together with
// the standard library.
func CheckFile(f *lang.File) (*Program, lang.Diagnostics) {
	lib, err := stdlib.File()
	if err != nil {
		var d lang.Diagnostics
		d.Errorf(lang.Span{File: stdlib.Name}, "%v", err)
		return nil, d
	}
	return Check(lib, f)
}

// SelectNetwork picks the network cfg names, or the file's only one.
func SelectNetwork(prog *Program, f *lang.File, name string) (*Network, lang.Diagnostics) {
	var diags lang.Diagnostics
	at := lang.Span{File: f.Name, Start: lang.Pos{Line: 1, Col: 1}, End: lang.Pos{Line: 1, Col: 1}}
	if name != "" {
		var names []string
		for _, n := range prog.Networks {
			if n.Name == name {
				return n, nil
			}
			names = append(names, n.Name)
		}
		diags.Errorf(at, "no network %q in %s", name, f.Name).Detail = lang.DidYouMean(name, names)
		return nil, diags
	}
	var mine []*Network
	for _, n := range prog.Networks {
		if n.Span.File == f.Name {
			mine = append(mine, n)
		}
	}
	switch len(mine) {
	case 1:
		return mine[0], nil
	case 0:
		diags.Errorf(at, "%s declares no network", f.Name).Detail = "add `network NAME { normal: CELL  reduction: CELL }`"
	default:
		names := make([]string, len(mine))
		for i, n := range mine {
			names[i] = n.Name
		}
		diags.Errorf(mine[1].Span, "%s declares %d networks (%s)", f.Name, len(mine), strings.Join(names, ", ")).Detail = "pick one with --network"
	}
	return nil, diags
}

// Build checks f, builds its network under cfg and runs the passes.
func Build(f *lang.File, cfg Config, opts Options) (*Result, lang.Diagnostics) {
	prog, diags := CheckFile(f)
	if diags.HasErrors() {
		return nil, diags
	}
	net, d := SelectNetwork(prog, f, cfg.Network)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	b, d := build(prog, net, cfg)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	// Counts describe what is computed: states routed past the last cell
	// (NASNet-B) are built but read by nothing, so they are dropped first.
	g := eliminateDead(b.g)
	res := &Result{Program: prog, Network: net, Config: b.resolved(), Built: g, BaseFilters: b.base, Dumps: map[string]string{}}
	res.Filters = b.g.Nodes[b.last].Shape.C
	out, err := RunPasses(g, cfg, opts, res)
	if err != nil {
		diags.Errorf(net.Span, "%v", err)
		return nil, diags
	}
	res.Graph = out
	return res, diags
}

// Passes lists the pipeline's pass names in order.
func Passes() []string {
	names := make([]string, len(passes))
	for i, p := range passes {
		names[i] = p.name
	}
	return names
}

// PassNames lists the pipeline's passes, for --dump-after's help.
func PassNames() string { return strings.Join(Passes(), ", ") }

func checkDumpNames(names []string) error {
	for _, n := range names {
		found := false
		for _, p := range passes {
			found = found || p.name == n
		}
		if !found {
			var all []string
			for _, p := range passes {
				all = append(all, p.name)
			}
			msg := fmt.Sprintf("unknown pass %q (passes: %s)", n, PassNames())
			if s := lang.Suggest(n, all); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return fmt.Errorf("%s", msg)
		}
	}
	return nil
}
