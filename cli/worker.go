package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cellc/search/queue"
)

type workerFlags struct {
	nats        natsFlags
	search      string
	concurrency int
	name        string
	idle        time.Duration
}

func newWorkerCmd() *cobra.Command {
	var fl workerFlags
	cmd := &cobra.Command{
		Use:   "worker --nats URL",
		Short: "Train a search's children, taking jobs from its NATS queue",
		Long: `Worker connects to the NATS server of a search (the URL 'cellc search'
prints and writes to DIR/nats.url, or a shared cluster) and trains the
jobs it queues, --concurrency at a time, until interrupted; a job it holds
then goes back to the queue. With one search on the server --search is
not needed. --device picks the backend the children train on (cpu by
default; cuda or cuda:N, an NVIDIA GPU): it is opened once, and the
--concurrency children share it.`,
		Example: `  cellc worker --nats nats://10.0.0.5:4222 --concurrency 2
  cellc worker --nats nats://10.0.0.5:4222 --device cuda:1 --concurrency 4
  cellc worker --nats tls://nats.example.org --creds me.creds --tls-ca ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runWorker(cmd, &fl) },
	}
	addNATSFlags(cmd, &fl.nats, "NATS server or cluster `URL` (required)")
	f := cmd.Flags()
	f.StringVar(&fl.search, "search", "", "search `ID` (default: the only search on the server)")
	f.IntVar(&fl.concurrency, "concurrency", 1, "jobs trained at once")
	f.StringVar(&fl.name, "name", "", "worker name in results (default host-pid)")
	f.DurationVar(&fl.idle, "idle-exit", 0, "exit after this long without a job (0 = never)")
	return cmd
}

func runWorker(cmd *cobra.Command, fl *workerFlags) error {
	if fl.nats.url == "" {
		return usagef("worker needs --nats URL")
	}
	if err := fl.nats.check(); err != nil {
		return err
	}
	if fl.concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	// The device opens once, before the queue is reached, and closes
	// after the last child is done.
	tr, closeDevice, err := fl.nats.trainer()
	if err != nil {
		return err
	}
	tr.SharedCores = fl.concurrency > 1
	defer closeDevice()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := fl.nats.connOptions()
	opts.Name = "cellc worker"
	conn, err := queue.Connect(fl.nats.url, opts)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	stderr := cmd.ErrOrStderr()
	id := fl.search
	if id == "" {
		if id, err = findSearch(ctx, conn, fl.idle); err != nil {
			return err
		}
	}
	job := tr.JobFunc()
	var mu sync.Mutex
	last, busy, done := time.Now(), 0, 0
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fn := func(ctx context.Context, j queue.Job, progress func()) (queue.Result, error) {
		mu.Lock()
		busy++
		mu.Unlock()
		fmt.Fprintf(stderr, "job %s (attempt %d)\n", j.ID, j.Attempt)
		r, err := job(ctx, j, progress)
		mu.Lock()
		busy--
		done++
		last = time.Now()
		mu.Unlock()
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "job %s: %v\n", j.ID, err)
		case r.Failed:
			fmt.Fprintf(stderr, "job %s failed: %s\n", j.ID, r.Error)
		default:
			fmt.Fprintf(stderr, "job %s: reward %.4f in %.1fs\n", j.ID, r.Reward, r.TrainSeconds)
		}
		return r, err
	}
	if fl.idle > 0 {
		go func() {
			t := time.NewTicker(min(fl.idle/4, time.Second))
			defer t.Stop()
			for {
				select {
				case <-wctx.Done():
					return
				case <-t.C:
					mu.Lock()
					idle := busy == 0 && time.Since(last) > fl.idle
					mu.Unlock()
					if idle {
						cancel()
						return
					}
				}
			}
		}()
	}
	fmt.Fprintf(stderr, "worker: search %s on %s, %d at a time\n", id, conn.URL(), fl.concurrency)
	if err := queue.RunWorker(wctx, conn, id, fl.name, fl.concurrency, fn); err != nil {
		return fail(err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "worker: %d jobs done\n", done)
	return nil
}

// findSearch waits for exactly one search on the server.
func findSearch(ctx context.Context, conn *queue.Conn, idle time.Duration) (string, error) {
	start := time.Now()
	for {
		ids, err := queue.Searches(ctx, conn)
		if err != nil {
			return "", fail(err)
		}
		switch len(ids) {
		case 1:
			return ids[0], nil
		case 0:
		default:
			return "", usagef("the server has %d searches (%s); choose one with --search", len(ids), strings.Join(ids, ", "))
		}
		if idle > 0 && time.Since(start) > idle {
			return "", failf("no search on the server after %s", idle)
		}
		select {
		case <-ctx.Done():
			return "", failf("interrupted")
		case <-time.After(time.Second):
		}
	}
}
