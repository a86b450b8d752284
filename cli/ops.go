package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"cellc/compiler"
	"cellc/lang"
	"cellc/stdlib"
)

func newOpsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ops [FILE]",
		Short: "List the operation library and the primitives",
		Long: `Ops lists every operation of the standard library (and, with FILE, the
file's own) with its pipeline expanded to primitives, and whether it
strides (reads $stride, so it may take a cell input in a reduction cell);
then the compiler's primitives and their arguments.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs := newSources()
			dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
			f := &lang.File{Name: "<none>"}
			if len(args) == 1 {
				var diags lang.Diagnostics
				var err error
				f, diags, err = srcs.load(args[0])
				if err != nil {
					return err
				}
				if dc.report(diags) {
					return dc.err()
				}
			}
			prog, diags := compiler.CheckFile(f)
			if dc.report(diags) {
				return dc.err()
			}
			writeOps(cmd.OutOrStdout(), prog, f.Name, len(args) == 1)
			return nil
		},
	}
}

func writeOps(w io.Writer, prog *compiler.Program, file string, withFile bool) {
	type row struct{ name, strides, pipeline string }
	section := func(title string, lib bool) {
		defer fmt.Fprintln(w)
		var rows []row
		width := len("op")
		for _, name := range prog.OpOrder {
			op := prog.Ops[name]
			if op == nil || op.Library != lib {
				continue
			}
			strides := "-"
			if op.Strides() {
				strides = "strides"
			}
			rows = append(rows, row{name, strides, pipeline(op)})
			width = max(width, len(name))
		}
		if len(rows) == 0 {
			fmt.Fprintf(w, "# ops from %s: none\n", title)
			return
		}
		fmt.Fprintf(w, "# ops from %s\n", title)
		for _, r := range rows {
			fmt.Fprintf(w, "%-*s  %-7s  %s\n", width, r.name, r.strides, r.pipeline)
		}
	}
	section(stdlib.Name, true)
	if withFile {
		section(file, false)
	}
	prims := compiler.Primitives()
	width := 0
	sigs := make([]string, len(prims))
	for i, p := range prims {
		sigs[i] = p.Name
		if len(p.Args) > 0 {
			sigs[i] += "(" + strings.Join(p.Args, ", ") + ")"
		}
		width = max(width, len(sigs[i]))
	}
	fmt.Fprintln(w, "# primitives")
	for i, p := range prims {
		fmt.Fprintf(w, "%-*s  %s\n", width, sigs[i], p.Doc)
	}
}

// pipeline prints an op's expanded primitives in the language's syntax:
// relu -> dw(k: 5, stride: $stride) -> pw -> bn.
func pipeline(op *compiler.Op) string {
	parts := make([]string, len(op.Prims))
	for i, p := range op.Prims {
		var args []string
		if p.KH > 0 {
			if p.KH == p.KW {
				args = append(args, fmt.Sprintf("k: %d", p.KH))
			} else {
				args = append(args, fmt.Sprintf("k: %dx%d", p.KH, p.KW))
			}
		}
		switch {
		case p.StrideVar:
			args = append(args, "stride: $stride")
		case p.Stride > 1:
			args = append(args, fmt.Sprintf("stride: %d", p.Stride))
		}
		if p.Dilation > 1 {
			args = append(args, fmt.Sprintf("dilation: %d", p.Dilation))
		}
		if !p.Width.IsF() {
			args = append(args, "filters: "+p.Width.String())
		}
		parts[i] = p.Name
		if len(args) > 0 {
			parts[i] += "(" + strings.Join(args, ", ") + ")"
		}
	}
	return strings.Join(parts, " -> ")
}
