package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cellc/search/queue"
	searchrun "cellc/search/run"
	"cellc/search/space"
)

// natsFlags reach a NATS server or cluster and say how this process
// trains the children it takes.
type natsFlags struct {
	url, creds     string
	tlsCA, tlsCert string
	tlsKey         string
	childWorkers   int
	dataDir        string
	device         string
}

func addNATSFlags(cmd *cobra.Command, fl *natsFlags, what string) {
	f := cmd.Flags()
	f.StringVar(&fl.url, "nats", "", what)
	f.StringVar(&fl.creds, "creds", "", "NATS credentials `file` (user JWT and nkey seed) for a shared cluster")
	f.StringVar(&fl.tlsCA, "tls-ca", "", "PEM `file` of the roots that sign the server's certificate (turns TLS on)")
	f.StringVar(&fl.tlsCert, "tls-cert", "", "client certificate `file` (PEM; with --tls-key)")
	f.StringVar(&fl.tlsKey, "tls-key", "", "client key `file` (PEM; with --tls-cert)")
	f.IntVar(&fl.childWorkers, "child-workers", 0, "compute workers per child (0 = the recipe's)")
	f.StringVar(&fl.dataDir, "data-dir", "", "where the children's data set lives (replaces the recipe's data_dir)")
	addDeviceFlag(cmd, &fl.device)
}

func (fl *natsFlags) connOptions() queue.ConnOptions {
	o := queue.ConnOptions{CredsFile: fl.creds}
	if fl.tlsCA != "" || fl.tlsCert != "" || fl.tlsKey != "" {
		o.TLS = &queue.TLSOptions{CAFile: fl.tlsCA, CertFile: fl.tlsCert, KeyFile: fl.tlsKey}
	}
	return o
}

func (fl *natsFlags) check() error {
	if (fl.tlsCert == "") != (fl.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if fl.childWorkers < 0 {
		return usagef("--child-workers must not be negative")
	}
	_, err := parseDevice(fl.device)
	return err
}

// trainer opens --device once for the process and returns the trainer
// that runs every child on it; closeDevice releases it when the workers
// are done.
func (fl *natsFlags) trainer() (tr *searchrun.Trainer, closeDevice func() error, err error) {
	backend, closeDevice, err := openDevice(fl.device)
	if err != nil {
		return nil, nil, err
	}
	return &searchrun.Trainer{Backend: backend, Workers: fl.childWorkers, DataDir: fl.dataDir}, closeDevice, nil
}

type searchFlags struct {
	nats          natsFlags
	space         string
	strategy      string
	architectures int
	workers       int
	window        int
	resume        bool
	seed          uint64
	listen        string
	retrain       int
	maxSteps      int
	ackWait       time.Duration
	ui            string
}

func newSearchCmd() *cobra.Command {
	var fl searchFlags
	cmd := &cobra.Command{
		Use:   "search DIR",
		Short: "Search for cells with a controller, a work queue and workers",
		Long: `Search runs an architecture search in DIR: the strategy proposes cells,
each is printed as canonical .cell text and compiled, queued on NATS
JetStream as a job (cell text plus child recipe), trained by a worker, and
its reward (validation accuracy) goes back to the strategy. Results are
appended to DIR/results.jsonl; the controller's state is checkpointed to
DIR/controller.json after every update, so --resume continues after a
crash or Ctrl-C with no result lost or counted twice.

Without --nats, an embedded NATS server keeps its store in DIR/jetstream
and listens on --listen; DIR/nats.url names it for 'cellc worker'. The
search runs --workers local worker slots itself (0 = none); they and the
final retraining train on the backend --device picks (cpu by default;
cuda or cuda:N, an NVIDIA GPU), opened once for all of them. Each
'cellc worker' picks its own with its --device.

After the last architecture the best retrain.top architectures are
trained again with the retrain recipe (DIR/ranking.txt, DIR/best.cell).`,
		Example: `  cellc search runs/tiny --space specs/search/tiny.yaml
  cellc search runs/ppo --space specs/search/small.yaml --architectures 20
  cellc search runs/ppo --resume
  cellc search runs/gpu --space specs/search/small.yaml --device cuda --workers 4
  cellc search runs/rs --space specs/search/small.yaml --strategy random --workers 0 --listen 0.0.0.0:4222
  cellc search status runs/ppo
  cellc search best runs/ppo -o best.cell
  cellc search plot runs/ppo runs/rs -o fig6.png`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSearch(cmd, &fl, args[0]) },
	}
	addNATSFlags(cmd, &fl.nats, "external NATS server or cluster `URL` (default: an embedded server)")
	f := cmd.Flags()
	f.StringVar(&fl.space, "space", "", "search-space YAML `file` (e.g. specs/search/small.yaml; a new search needs one)")
	f.StringVar(&fl.strategy, "strategy", "", "ppo, reinforce, random or evolution (overrides the YAML)")
	f.IntVar(&fl.architectures, "architectures", 0, "architectures to sample (overrides the YAML; on --resume, extends the search)")
	f.IntVar(&fl.workers, "workers", 1, "local worker slots (0 = none; jobs wait for cellc worker)")
	f.IntVar(&fl.window, "window", 0, "most jobs queued or training at once (0 = the strategy's minibatch)")
	f.BoolVar(&fl.resume, "resume", false, "continue the search in DIR")
	f.Uint64Var(&fl.seed, "seed", 0, "the strategy's random seed (overrides the YAML)")
	f.StringVar(&fl.listen, "listen", "127.0.0.1:0", "embedded server's `host:port` (port 0 = a free one)")
	f.IntVar(&fl.retrain, "retrain", -1, "architectures to retrain at the end (-1 = the YAML's retrain.top; 0 = none)")
	f.DurationVar(&fl.ackWait, "ack-wait", 30*time.Second, "how long a job may go without a worker's heartbeat before it is redelivered")
	f.IntVar(&fl.maxSteps, "max-steps", 0, "cap each child's training steps (0 = the recipe's epochs)")
	f.StringVar(&fl.ui, "ui", "", "serve the live web view (cellc serve) on `host:port` while the search runs")
	cmd.AddCommand(newSearchStatusCmd(), newSearchBestCmd(), newSearchPlotCmd())
	return cmd
}

func runSearch(cmd *cobra.Command, fl *searchFlags, dir string) error {
	if err := fl.nats.check(); err != nil {
		return err
	}
	ch := cmd.Flags().Changed
	if fl.ackWait < time.Second {
		return usagef("--ack-wait must be at least 1s")
	}
	if fl.workers < 0 || fl.window < 0 || fl.architectures < 0 || fl.maxSteps < 0 {
		return usagef("--workers, --window, --architectures and --max-steps must not be negative")
	}
	opts := searchrun.Options{
		Dir: dir, Resume: fl.resume, Count: fl.architectures,
		NATS: fl.nats.url, Listen: fl.listen, Conn: fl.nats.connOptions(),
		Queue:   queue.Config{AckWait: fl.ackWait},
		Workers: fl.workers, Window: fl.window, MaxSteps: fl.maxSteps, Retrain: fl.retrain,
		Log: cmd.ErrOrStderr(),
	}
	if fl.resume {
		for _, name := range []string{"space", "strategy", "seed"} {
			if ch(name) {
				return usagef("--%s cannot change a search being resumed (DIR/%s has its space)", name, searchrun.SpaceFile)
			}
		}
	} else {
		if _, err := os.Stat(filepath.Join(dir, searchrun.StateFile)); err == nil {
			return failf("%s already holds a search; continue it with: cellc search %s --resume", dir, dir)
		}
		if fl.space == "" {
			return usagef("a new search needs --space FILE (e.g. specs/search/small.yaml); to continue one, --resume")
		}
		sp, err := space.LoadSpace(fl.space)
		if err != nil {
			return fail(err)
		}
		if ch("strategy") {
			sp.Strategy.Name = fl.strategy
		}
		if ch("seed") {
			sp.Strategy.Seed = fl.seed
		}
		if err := sp.Strategy.Validate(); err != nil {
			return usagef("--strategy: %v", err)
		}
		opts.Space = sp
	}
	tr, closeDevice, err := fl.nats.trainer()
	if err != nil {
		return err
	}
	defer closeDevice()
	opts.Trainer = tr
	if fl.ui != "" {
		ui, err := startUI(cmd.ErrOrStderr(), fl.ui, "", []string{dir})
		if err != nil {
			return err
		}
		defer closeUI(ui)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := searchrun.Search(ctx, opts)
	if errors.Is(err, searchrun.ErrInterrupted) {
		return failf("interrupted; continue with: cellc search %s --resume", dir)
	}
	if err != nil {
		return fail(err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "search %s: %d architectures sampled, %d trained, %d failed in %s\n",
		sum.SearchID, sum.Sampled, sum.Unique, sum.Failed, sum.Duration.Round(1e9))
	if sum.Best != nil {
		fmt.Fprintf(w, "best search reward %.4f (%s)\n", sum.Best.Reward, sum.Best.Hash)
	}
	if len(sum.Ranking) > 0 {
		fmt.Fprintf(w, "retrained:\n%s", searchrun.FormatRanking(sum.Ranking))
	}
	if _, err := os.Stat(filepath.Join(dir, searchrun.BestFile)); err == nil {
		fmt.Fprintf(w, "best cell: %s\n", filepath.Join(dir, searchrun.BestFile))
	}
	return nil
}

func newSearchStatusCmd() *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "Show a search's progress and its top architectures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 1 {
				return usagef("--top must be at least 1")
			}
			return fail(searchrun.Status(cmd.OutOrStdout(), args[0], top))
		},
	}
	cmd.Flags().IntVar(&top, "top", 10, "architectures to list")
	return cmd
}

func newSearchBestCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "best DIR",
		Short: "Write a search's best architecture as a .cell file",
		Long: `Best writes the best architecture of the search in DIR: the best retrained
one (DIR/best.cell) once the search has finished, else the one with the
highest reward so far. Without -o it prints it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := searchrun.BestCell(args[0])
			if err != nil {
				return fail(err)
			}
			if out == "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), text)
				return fail(err)
			}
			return fail(writeFileAtomic(out, []byte(text)))
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "output `file` (default: standard output)")
	return cmd
}

func newSearchPlotCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "plot DIR...",
		Short: "Plot the mean reward of the top-1/5/25 models against models sampled (Figure 6)",
		Long: `Plot draws the paper's Figure 6 for one or more searches: for each, the
mean reward of the top 1, 5 and 25 unique models among the first x models
sampled. Give an RL search and a random one to compare them.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := searchrun.Plot(out, args); err != nil {
				return fail(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "fig6.png", "output PNG `file`")
	return cmd
}
