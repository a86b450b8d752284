package cli

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"cellc/lang"
)

const stdinName = "<stdin>"

func newFmtCmd() *cobra.Command {
	var write, list bool
	cmd := &cobra.Command{
		Use:   "fmt [-w | -l] [FILE|DIR ...]",
		Short: "Print .cell files in canonical form, or rewrite them",
		Long: `Fmt prints each file in the one canonical form (there are no options;
formatting twice changes nothing). With no files it reads stdin. A
directory stands for the .cell files under it.

  -w   rewrite the files in place (atomically, and only those that change)
  -l   list the files whose formatting differs; exit 1 if there are any

A file that does not parse is reported and left untouched.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFmt(cmd, args, write, list)
		},
	}
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite files in place instead of printing them")
	cmd.Flags().BoolVarP(&list, "check", "l", false, "list files that are not formatted (exit 1 if any) instead of printing them")
	return cmd
}

func runFmt(cmd *cobra.Command, args []string, write, list bool) error {
	stdout := cmd.OutOrStdout()
	srcs := newSources()
	dc := &diagCounter{w: cmd.ErrOrStderr(), srcs: srcs}
	if len(args) == 0 {
		if write {
			return usagef("fmt -w needs files to rewrite")
		}
		data, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return fail(err)
		}
		srcs[stdinName] = data
		out, ok := format(dc, stdinName, data)
		if !ok {
			return dc.err()
		}
		if list {
			if !bytes.Equal(out, data) {
				fmt.Fprintln(stdout, stdinName)
				return &failure{code: 1}
			}
			return nil
		}
		_, err = stdout.Write(out)
		return err
	}
	files, err := cellFiles(args)
	if err != nil {
		return err
	}
	unformatted := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return fail(err)
		}
		srcs[path] = data
		out, ok := format(dc, path, data)
		if !ok {
			continue
		}
		changed := !bytes.Equal(out, data)
		if list && changed {
			fmt.Fprintln(stdout, path)
			unformatted++
		}
		switch {
		case write:
			if changed {
				if err := writeFileAtomic(path, out); err != nil {
					return fail(err)
				}
			}
		case !list:
			if _, err := stdout.Write(out); err != nil {
				return err
			}
		}
	}
	if err := dc.err(); err != nil {
		return err
	}
	if list && unformatted > 0 && !write {
		return &failure{code: 1}
	}
	return nil
}

// format parses data and returns its canonical form, or reports the parse
// errors and returns false.
func format(dc *diagCounter, name string, data []byte) ([]byte, bool) {
	f, diags := lang.Parse(name, data)
	if dc.report(diags) {
		return nil, false
	}
	return lang.Format(f), true
}

// cellFiles expands directories into the .cell files under them.
func cellFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fail(err)
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != a && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".cell") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fail(err)
		}
	}
	return files, nil
}
