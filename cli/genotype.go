package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"cellc/compiler"
	"cellc/compiler/darts"
	"cellc/lang"
	"cellc/lang/genotype"
)

// The genotype commands: `cellc import darts` turns a DARTS genotype into
// a .cell file, `cellc export-genotype` a .cell network back into one.

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FORMAT ...",
		Short: "Convert cells published in another format into a .cell file",
		Long: `Import converts cells published in another format into a .cell file.

  cellc import darts GENOTYPE|FILE    DARTS genotypes (DARTS, PC-DARTS, P-DARTS, GDAS, ...)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImportDartsCmd())
	return cmd
}

func newImportDartsCmd() *cobra.Command {
	var name, as, output string
	cmd := &cobra.Command{
		Use:   "darts GENOTYPE|FILE",
		Short: "Print a DARTS genotype as a .cell file",
		Long: `Import darts prints a DARTS genotype as a canonical .cell file: its normal
cell, its reduction cell and a network naming them. The argument is the
genotype itself,

  cellc import darts "Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), reduce=[...], reduce_concat=[2, 3, 4, 5])"

or a Python file holding NAME = Genotype(...) lines, such as a project's
genotypes.py (other statements are skipped; --name picks one genotype when
there are several). AutoDL-Projects' grouped form (GDAS) is read too.

DARTS' semantics (cnn/model.py): node j is block j and reads pairs 2j and
2j+1; input 0 is h_i-1, 1 is h_i, k >= 2 is block b(k-2); nodes add;
*_concat becomes out:. Ops keep their DARTS names (cellc ops lists them).
The network and cells are named after the genotype (DARTS_V2: darts_v2,
darts_v2_normal, darts_v2_reduction) unless --as says otherwise.

A bad genotype is reported like a bad .cell file, positioned in the
argument ("genotype:1:19: ...") or the file, and exits 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImportDarts(cmd, args[0], name, as, output)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the genotype to import from a file that binds several (NAME = Genotype(...))")
	cmd.Flags().StringVar(&as, "as", "", "name of the network; its cells are `NAME`_normal and NAME_reduction (default: the genotype's name, lower-cased)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the .cell file to `FILE` instead of stdout")
	return cmd
}

// genotypeArg is the name diagnostics give a genotype passed as text.
const genotypeArg = "genotype"

func runImportDarts(cmd *cobra.Command, arg, name, as, output string) error {
	srcs := newSources()
	dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
	var (
		g      *genotype.Genotype
		source string
	)
	if isGenotypeText(arg) {
		srcs[genotypeArg] = []byte(arg)
		var diags lang.Diagnostics
		g, diags = genotype.Parse(genotypeArg, []byte(arg))
		if dc.report(diags) {
			return dc.err()
		}
		switch {
		case name != "" && g.Name != "" && name != g.Name:
			return failf("the genotype given is %s, not %s", g.Name, name)
		case name != "":
			g.Name = name
		}
		source = g.Name
	} else {
		data, err := os.ReadFile(arg)
		if err != nil {
			return fail(err)
		}
		srcs[arg] = data
		entries, diags := genotype.ParseFile(arg, data)
		if dc.report(diags) {
			return dc.err()
		}
		e, err := pickGenotype(entries, name, arg)
		if err != nil {
			return err
		}
		if dc.report(e.Diags) {
			return dc.err()
		}
		g = e.Genotype
		label := e.Name
		if e.Alias != "" {
			label = fmt.Sprintf("%s (= %s)", e.Name, e.Alias)
		}
		source = strings.TrimSpace(label + " in " + filepath.Base(arg))
	}

	file := output
	if file == "" || file == "-" {
		file = "<import>"
	}
	text, err := darts.Import(g, darts.Options{Name: as, Source: source, File: file})
	if err != nil {
		return usagef("--as: %v", err)
	}
	// The genotype is valid DARTS; whether its cells compile is the
	// checker's to say (a reduction cell concatenating an input that is
	// not reduced, say).
	srcs[file] = text
	f, diags := lang.Parse(file, text)
	if dc.report(diags) {
		return dc.err()
	}
	if _, diags := compiler.CheckFile(f); dc.report(diags) {
		return dc.err()
	}
	return writeOutput(cmd.OutOrStdout(), output, text)
}

// isGenotypeText tells a genotype given as text from a file name: text is
// what no file is called and what holds a call or an assignment.
func isGenotypeText(arg string) bool {
	if _, err := os.Stat(arg); err == nil {
		return false
	}
	return strings.ContainsAny(arg, "(=") || strings.HasPrefix(strings.TrimSpace(arg), "Genotype")
}

// pickGenotype selects the entry --name names, or the file's only one.
func pickGenotype(entries []*genotype.Entry, name, path string) (*genotype.Entry, error) {
	if name == "" && len(entries) == 1 {
		return entries[0], nil
	}
	var names []string
	for _, e := range entries {
		if name != "" && e.Name == name {
			return e, nil
		}
		if e.Name != "" {
			names = append(names, e.Name)
		}
	}
	switch {
	case len(entries) == 0:
		return nil, failf("%s holds no genotype: no NAME = Genotype(...) line", path)
	case name != "":
		msg := fmt.Sprintf("%s has no genotype %q (it has %s)", path, name, strings.Join(names, ", "))
		if s := lang.Suggest(name, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, failf("%s", msg)
	}
	return nil, failf("%s holds %d genotypes (%s); pick one with --name", path, len(entries), strings.Join(names, ", "))
}

func newExportGenotypeCmd() *cobra.Command {
	var network, name string
	cmd := &cobra.Command{
		Use:   "export-genotype FILE.cell",
		Short: "Print a network's cells as a DARTS genotype",
		Long: `Export-genotype prints the network of a .cell file as a DARTS genotype, in
the text Python prints for DARTS' Genotype namedtuple:

  Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])

Its cells must fit DARTS' space: every block adds two DARTS operations
(none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3,
sep_conv_5x5, dil_conv_3x3, dil_conv_5x5, and sep_conv_7x7 and
conv_7x1_1x7, which DARTS' code also builds) applied to h_i, h_i-1 or
earlier blocks, and the cell concatenates its output. Otherwise each
block that does not fit is reported at its position, and the command
exits 1. It is the inverse of 'cellc import darts'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs := newSources()
			dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
			f, prog, err := srcs.loadChecked(dc, args[0])
			if err != nil {
				return err
			}
			net, diags := compiler.SelectNetwork(prog, f, network)
			if dc.report(diags) {
				return dc.err()
			}
			g, diags := darts.Export(prog, net)
			if dc.report(diags) {
				return dc.err()
			}
			line := g.String()
			if name != "" {
				line = name + " = " + line
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), line)
			return err
		},
	}
	cmd.Flags().StringVar(&network, "network", "", "the network to export, when the file declares several")
	cmd.Flags().StringVar(&name, "name", "", "print `NAME` = Genotype(...), a line for a genotypes.py")
	return cmd
}
