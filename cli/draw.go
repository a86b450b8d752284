package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"cellc/compiler"
	"cellc/lang"
)

// Colours of the paper's Figure 4.
const (
	colorInput   = "white"
	colorOp      = `"#fff2a8"` // yellow: an operation
	colorCombine = `"#b7e1a1"` // green: the combiner
	colorOutput  = `"#f6c6d0"` // pink: the output concat
)

func newDrawCmd() *cobra.Command {
	var cellName, out string
	cmd := &cobra.Command{
		Use:   "draw FILE [--cell NAME] [-o OUT.svg|OUT.dot]",
		Short: "Draw cells as in the NASNet paper's Figure 4 (Graphviz)",
		Long: `Draw draws a cell the way the NASNet paper's Figure 4 does: the cell inputs
h_i, h_i-1 (white), each block's two operations (yellow), its combiner
(green) and the output concat (pink). Without --cell it draws every cell
FILE declares, side by side.

The output is Graphviz DOT; written to a .svg, .png or .pdf file it is
rendered with Graphviz's dot, which must then be on PATH.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDraw(cmd, args[0], cellName, out)
		},
	}
	cmd.Flags().StringVar(&cellName, "cell", "", "draw only this cell")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to `file`: .dot/.gv (DOT) or .svg/.png/.pdf (needs Graphviz); default DOT on stdout")
	return cmd
}

func runDraw(cmd *cobra.Command, path, cellName, out string) error {
	format := "dot"
	if out != "" && out != "-" {
		switch ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(out), ".")); ext {
		case "dot", "gv":
		case "svg", "png", "pdf":
			format = ext
		default:
			return usagef("-o %s: want a .dot, .gv, .svg, .png or .pdf file", out)
		}
	}
	srcs := newSources()
	dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
	f, prog, err := srcs.loadChecked(dc, path)
	if err != nil {
		return err
	}
	var cells []*compiler.Cell
	var names []string
	for _, d := range f.Decls {
		if d, ok := d.(*lang.CellDecl); ok {
			names = append(names, d.Name.Name)
			if c := prog.Cells[d.Name.Name]; c != nil && (cellName == "" || cellName == c.Name) {
				cells = append(cells, c)
			}
		}
	}
	if len(cells) == 0 {
		if cellName == "" {
			return failf("%s declares no cells", path)
		}
		msg := fmt.Sprintf("no cell %q in %s", cellName, path)
		if s := lang.DidYouMean(cellName, names); s != "" {
			msg += "; " + s
		}
		return failf("%s", msg)
	}

	var dot bytes.Buffer
	title := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if cellName != "" {
		title = cellName
	}
	writeCellsDOT(&dot, title, cells)
	data := dot.Bytes()
	if format != "dot" {
		if data, err = renderDOT(data, format); err != nil {
			return err
		}
	}
	return writeOutput(cmd.OutOrStdout(), out, data)
}

// renderDOT runs Graphviz's dot to turn DOT text into format.
func renderDOT(src []byte, format string) ([]byte, error) {
	bin, err := exec.LookPath("dot")
	if err != nil {
		return nil, failf("rendering .%s needs Graphviz's dot, which is not on PATH: install Graphviz (apt-get install graphviz, brew install graphviz) or write DOT with -o FILE.dot", format)
	}
	var stdout, stderr bytes.Buffer
	c := exec.Command(bin, "-T"+format)
	c.Stdin = bytes.NewReader(src)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if msg == "" || !errors.As(err, &ee) {
			msg = err.Error()
		}
		return nil, failf("dot -T%s: %s", format, msg)
	}
	return stdout.Bytes(), nil
}

// writeCellsDOT draws cells, one cluster each, side by side. Inputs sit at
// the bottom and the output at the top, as in the paper.
func writeCellsDOT(w io.Writer, title string, cells []*compiler.Cell) {
	fmt.Fprintf(w, "digraph %s {\n", dotQuote(title))
	fmt.Fprintln(w, "  rankdir=BT;")
	fmt.Fprintln(w, "  newrank=true;")
	fmt.Fprintln(w, `  node [fontname="Helvetica", fontsize=12, style=filled, penwidth=1];`)
	fmt.Fprintln(w, `  edge [arrowsize=0.7];`)
	var inputRanks [][]string
	for i, c := range cells {
		inputRanks = append(inputRanks, writeCellCluster(w, i, c))
	}
	// Line the cells' inputs up on one rank so the clusters sit side by side.
	if len(cells) > 1 {
		var all []string
		for _, r := range inputRanks {
			all = append(all, r...)
		}
		fmt.Fprintf(w, "  { rank=same; %s; }\n", strings.Join(all, "; "))
	}
	fmt.Fprintln(w, "}")
}

// writeCellCluster draws one cell and returns the IDs of its input nodes.
func writeCellCluster(w io.Writer, i int, c *compiler.Cell) []string {
	id := func(s string) string { return dotQuote(c.Name + "/" + s) }
	fmt.Fprintf(w, "  subgraph cluster_%d {\n", i)
	fmt.Fprintf(w, "    label=%s;\n", dotQuote(c.Kind.String()+" cell "+c.Name))
	fmt.Fprintln(w, `    labelloc=b; fontname="Helvetica"; style=rounded; color=gray50;`)

	var inputs []string
	for m := 0; m < c.Inputs; m++ {
		name := "h_i"
		if m > 0 {
			name = fmt.Sprintf("h_i-%d", m)
		}
		inputs = append(inputs, id(name))
		fmt.Fprintf(w, "    %s [label=%s, shape=box, fillcolor=%s];\n", id(name), dotQuote(name), colorInput)
	}
	fmt.Fprintf(w, "    { rank=same; %s; }\n", strings.Join(inputs, "; "))

	state := func(r compiler.StateRef) string {
		if r.Block < 0 {
			return inputs[r.Input]
		}
		return id(c.Blocks[r.Block].Name)
	}
	for _, b := range c.Blocks {
		comb := id(b.Name)
		fmt.Fprintf(w, "    %s [label=%s, shape=circle, fillcolor=%s, tooltip=%s];\n", comb, dotQuote(b.Combine), colorCombine, dotQuote("block "+b.Name))
		for side, name := range [2]string{"left", "right"} {
			op := id(b.Name + "/" + name)
			label := "?"
			if b.Ops[side] != nil {
				label = b.Ops[side].Name
			}
			fmt.Fprintf(w, "    %s [label=%s, shape=box, fillcolor=%s];\n", op, dotQuote(label), colorOp)
			fmt.Fprintf(w, "    %s -> %s;\n", state(b.Inputs[side]), op)
			fmt.Fprintf(w, "    %s -> %s;\n", op, comb)
		}
	}
	if c.Route {
		var outs []string
		for k, r := range c.Out {
			out := id(fmt.Sprintf("route_%d", k))
			outs = append(outs, out)
			fmt.Fprintf(w, "    %s [label=%s, shape=box, fillcolor=%s];\n", out, dotQuote(fmt.Sprintf("to layer +%d", k+1)), colorOutput)
			fmt.Fprintf(w, "    %s -> %s;\n", state(r), out)
		}
		fmt.Fprintf(w, "    { rank=same; %s; }\n", strings.Join(outs, "; "))
	} else {
		out := id("concat")
		fmt.Fprintf(w, "    %s [label=\"concat\", shape=box, fillcolor=%s];\n", out, colorOutput)
		for _, r := range c.Out {
			fmt.Fprintf(w, "    %s -> %s;\n", state(r), out)
		}
	}
	fmt.Fprintln(w, "  }")
	return inputs
}
