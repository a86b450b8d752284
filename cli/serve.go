package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cellc/compiler"
	"cellc/lang"
	"cellc/serve"
)

func newServeCmd() *cobra.Command {
	var listen, token string
	cmd := &cobra.Command{
		Use:   "serve DIR...",
		Short: "Watch searches and training runs live in a web browser",
		Long: `Serve shows search directories (cellc search) and training directories
(cellc train --out) as a web page that updates itself while they run:
a search's progress, the mean reward of its top-k models against models
sampled (the paper's Figure 6, several searches overlaid), its best
architectures with their cells drawn as cellc draw draws them, workers,
failures, the controller and the final retraining; a training run's
curves and configuration. A folder of such directories shows them all.

The page only reads. It listens on loopback by default; on any other
address every request needs the token printed at start, as the query
parameter token or the header "Authorization: Bearer TOKEN". Drawings
need Graphviz's dot on the server.`,
		Example: `  cellc serve runs/ppo runs/random
  cellc serve runs                                      # every search and run in runs/
  cellc serve runs --listen 0.0.0.0:8080                # reachable from elsewhere, with a token
  cellc search runs/ppo --space specs/search/small.yaml --ui 127.0.0.1:8080`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ui, err := startUI(cmd.OutOrStdout(), listen, token, args)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			select {
			case <-ctx.Done():
			case err := <-ui.Done():
				if err != nil {
					return fail(err)
				}
			}
			return closeUI(ui)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "`host:port` to serve on (port 0 = a free one; not loopback = token required)")
	cmd.Flags().StringVar(&token, "token", "", "the token to require (default: a random one when the address is not loopback)")
	return cmd
}

// startUI serves dirs on addr and prints where; cellc serve and the --ui
// flags of search and train share it.
func startUI(w io.Writer, addr, token string, dirs []string) (*serve.Listening, error) {
	ui, err := serve.Start(addr, serve.Options{Dirs: dirs, Token: token, Draw: cellSVG, Log: os.Stderr})
	if err != nil {
		return nil, usagef("%v", err)
	}
	fmt.Fprintf(w, "ui: serving %s at %s\n", joinDirs(dirs), ui.URL)
	if ui.Token != "" && !ui.Loopback {
		fmt.Fprintf(w, "ui: %s is not loopback: requests need the token (in the URL above, or the header \"Authorization: Bearer %s\")\n", addr, ui.Token)
	}
	return ui, nil
}

// closeUI stops the server, giving requests in flight a moment.
func closeUI(ui *serve.Listening) error {
	if ui == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := ui.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fail(err)
	}
	return nil
}

func joinDirs(dirs []string) string {
	if len(dirs) == 1 {
		return dirs[0]
	}
	return fmt.Sprintf("%d directories", len(dirs))
}

// cellSVG draws .cell text as cellc draw does (writeCellsDOT, then
// Graphviz's dot): the web view's drawings are the command's.
func cellSVG(text string) ([]byte, error) {
	f, diags := lang.Parse("cell", []byte(text))
	if err := firstError(diags); err != nil {
		return nil, fmt.Errorf("the cell does not parse: %v", err)
	}
	prog, diags := compiler.CheckFile(f)
	if err := firstError(diags); err != nil {
		return nil, fmt.Errorf("the cell does not check: %v", err)
	}
	var cells []*compiler.Cell
	for _, d := range f.Decls {
		if d, ok := d.(*lang.CellDecl); ok {
			if c := prog.Cells[d.Name.Name]; c != nil {
				cells = append(cells, c)
			}
		}
	}
	if len(cells) == 0 {
		return nil, fmt.Errorf("the text declares no cells")
	}
	var dot bytes.Buffer
	writeCellsDOT(&dot, "cell", cells)
	return renderDOT(dot.Bytes(), "svg")
}

// firstError is the first error among diags, as a one-line error.
func firstError(diags lang.Diagnostics) error {
	for _, d := range diags {
		if d.Severity == lang.Error {
			return fmt.Errorf("%s: %s", d.Subject.Start.Format(d.Subject.File), d.Summary)
		}
	}
	return nil
}
