// Package cli is the cellc command line: a cobra command tree over the
// compiler's phases (lang.Parse, compiler.Build, plan.Lower). It is kept
// apart from cmd/cellc so that testscript can run Main in-process.
//
// Exit codes: 0 success; 1 the input is wrong (diagnostics, unreadable
// files, a failed write); 2 the command line is wrong (unknown flag or
// subcommand, bad flag value).
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Main runs cellc with os.Args and returns the process exit code.
func Main() int {
	return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// run is Main with its inputs and outputs explicit.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var fail *failure
	if errors.As(err, &fail) {
		if fail.msg != "" {
			fmt.Fprintf(stderr, "cellc: %s\n", fail.msg)
		}
		return fail.code
	}
	// Anything cobra reports itself (unknown flag or command, wrong number
	// of arguments) is a usage error.
	fmt.Fprintf(stderr, "cellc: %v\n", err)
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return 2
}

// failure is an error whose message (if any) is printed as "cellc: msg"
// and which exits with code.
type failure struct {
	code int
	msg  string
}

func (f *failure) Error() string { return f.msg }

// failf is a failure of the input: exit 1.
func failf(format string, args ...any) error {
	return &failure{code: 1, msg: fmt.Sprintf(format, args...)}
}

// usagef is a command-line mistake cobra cannot see (a bad flag value):
// exit 2.
func usagef(format string, args ...any) error {
	return &failure{code: 2, msg: fmt.Sprintf(format, args...)}
}

// fail wraps an error from the input side (I/O, config files): exit 1.
func fail(err error) error {
	if err == nil {
		return nil
	}
	var f *failure
	if errors.As(err, &f) {
		return err
	}
	return &failure{code: 1, msg: err.Error()}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "cellc",
		Short: "cellc compiles NASNet-style cells (.cell files) into networks",
		Long: `cellc compiles .cell files: operations written as pipelines of primitives,
normal and reduction cells built from blocks, and networks stacking them
into TF-slim's NASNet skeleton.

  cellc build specs/nasnet_a.cell --n 6 --filters 768   # NASNet-A 6 @ 768 on CIFAR-10
  cellc check my.cell                                   # diagnostics only
  cellc fmt -w my.cell                                  # canonical formatting
  cellc draw specs/nasnet_a.cell -o nasnet_a.svg        # the cells, as in the paper's Figure 4`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return err })
	root.AddCommand(newBuildCmd(), newFmtCmd(), newCheckCmd(), newOpsCmd(), newDrawCmd(), newVersionCmd())
	root.AddCommand(newTrainCmd(), newEvalCmd(), newPredictCmd(), newExportCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newSearchCmd(), newWorkerCmd())
	root.AddCommand(newServeCmd())
	root.AddCommand(newImportCmd(), newExportGenotypeCmd())
	return root
}

// Version is the cellc version; release builds may set it with -ldflags.
var Version = "devel"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the cellc version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "cellc %s\n", Version)
			return nil
		},
	}
}
