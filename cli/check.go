package cli

import (
	"github.com/spf13/cobra"

	"cellc/compiler"
)

func newCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE|DIR ...",
		Short: "Parse and check .cell files; print diagnostics only",
		Long: `Check parses and checks each file against the standard library: names,
op pipelines and their arguments, cell wiring, networks. It prints the
diagnostics (warnings too) and nothing else; it exits 1 if any is an
error. A directory stands for the .cell files under it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := cellFiles(args)
			if err != nil {
				return err
			}
			srcs := newSources()
			dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
			for _, path := range files {
				f, diags, err := srcs.load(path)
				if err != nil {
					return err
				}
				if dc.report(diags) {
					continue
				}
				_, diags = compiler.CheckFile(f)
				dc.report(diags)
			}
			return dc.err()
		},
	}
}
