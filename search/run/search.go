package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"cellc/search/queue"
	"cellc/search/space"
	"cellc/search/strategy"
	"cellc/search/trial"
)

// Options configure Search.
type Options struct {
	// Dir is the search directory.
	Dir string
	// Space is the search space of a new search; a resumed one reads
	// Dir/space.yaml and ignores it.
	Space *space.Space
	// Resume continues the search in Dir; without it Dir must not hold
	// one.
	Resume bool
	// Count, when positive, replaces the number of architectures (also on
	// resume, to extend a search).
	Count int
	// NATS is an external server or cluster; "" starts an embedded
	// server with its store in Dir/jetstream, listening on Listen
	// (host:port, default 127.0.0.1 on a free port).
	NATS   string
	Listen string
	Conn   queue.ConnOptions
	Queue  queue.Config
	// Workers is the number of local worker slots (0 = none: jobs wait
	// for `cellc worker`).
	Workers int
	// Trainer trains the local workers' jobs; nil = a default one.
	Trainer *Trainer
	// Window is the most proposals outstanding at once; 0 = the
	// strategy's minibatch, at least Workers.
	Window int
	// MaxSteps, when positive, caps each child's training steps.
	MaxSteps int
	// Retrain, when non-negative, replaces the space's retrain top-k
	// (0 = skip retraining); -1 = the space's.
	Retrain int
	// Log receives progress lines and the queue's log; nil discards
	// them.
	Log io.Writer
	// Logger receives the queue's structured log; nil discards it.
	Logger *slog.Logger

	// afterAppend, in tests, is called after a result is appended and
	// before it is observed; an error stops the controller there, as a
	// crash would.
	afterAppend func(n int) error
}

// Summary is what Search returns.
type Summary struct {
	SearchID string
	Sampled  int
	Observed int
	Unique   int
	Failed   int
	Best     *queue.Result
	Ranking  []Ranked
	Duration time.Duration
}

// ErrInterrupted is returned when the context was cancelled; the state
// is checkpointed and the search continues with Resume.
var ErrInterrupted = errors.New("search interrupted; continue with --resume")

// controller is one running search.
type controller struct {
	opts    Options
	dir     string
	sp      *space.Space
	strat   strategy.Strategy
	comp    *trial.Compiler
	pub     *queue.Publisher
	ck      *Checkpoint
	led     *ledger
	results []queue.Result
	recipe  space.Recipe
	log     io.Writer
	start   time.Time
	startN  int
	workers map[string]time.Time
	// texts holds the cell text of the jobs refill compiled, for enqueue
	// (a resumed search compiles its outstanding jobs again).
	texts   map[string]string
	avg     float64
	haveAvg bool
	done    chan struct{}
	closed  bool
}

// Search runs (or resumes) the search in opts.Dir until every
// architecture has been observed, then retrains the best. It returns
// ErrInterrupted if ctx is cancelled first.
func Search(ctx context.Context, opts Options) (*Summary, error) {
	c, err := open(opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if !c.ck.Done {
		if err := c.search(ctx); err != nil {
			return c.summary(start), err
		}
	}
	ranking, err := Retrain(ctx, c.dir, c.sp, RetrainOptions{Top: opts.Retrain, Trainer: c.trainer(), MaxSteps: opts.MaxSteps, Log: c.log})
	sum := c.summary(start)
	sum.Ranking = ranking
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return sum, ErrInterrupted
	}
	return sum, err
}

func (c *controller) trainer() *Trainer {
	if c.opts.Trainer != nil {
		return c.opts.Trainer
	}
	c.opts.Trainer = &Trainer{}
	return c.opts.Trainer
}

func (c *controller) summary(start time.Time) *Summary {
	s := &Summary{SearchID: c.ck.SearchID, Sampled: c.ck.Sampled, Observed: c.ck.Observed, Duration: time.Since(start)}
	hashes := map[string]bool{}
	for i, r := range c.results {
		hashes[r.Hash] = true
		if r.Failed {
			s.Failed++
		} else if s.Best == nil || r.Reward > s.Best.Reward {
			s.Best = &c.results[i]
		}
	}
	s.Unique = len(hashes)
	return s
}

// addResult records r in the controller's memory (not on disk).
func (c *controller) addResult(r queue.Result) {
	c.led.record(r)
	c.results = append(c.results, r)
}

// search is the controller loop.
func (c *controller) search(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conn, srv, err := c.connect()
	if err != nil {
		return err
	}
	defer func() {
		conn.Close()
		if srv != nil {
			srv.Shutdown()
		}
	}()
	qcfg := c.opts.Queue
	qcfg.SearchID = c.ck.SearchID
	if err := queue.Setup(ctx, conn, qcfg); err != nil {
		return err
	}
	if c.pub, err = queue.NewPublisher(conn, c.ck.SearchID); err != nil {
		return err
	}
	// The workers' heartbeats, for the web view (workers.json).
	board := newWorkerBoard(c.dir)
	stopStatus, err := queue.SubscribeStatus(conn, c.ck.SearchID, board.update)
	if err != nil {
		return err
	}
	defer stopStatus()
	c.start, c.startN = time.Now(), c.ck.Observed
	c.done = make(chan struct{})

	// Recover: observe what was recorded but not observed, then refill
	// and re-enqueue everything outstanding. Nothing is consumed before
	// the checkpoint lists every job that may produce a result.
	var mu sync.Mutex // serialises the controller's state
	mu.Lock()
	err = c.recover(ctx)
	mu.Unlock()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.log, "search %s: %s, %d of %d architectures observed, %d outstanding\n",
		c.ck.SearchID, c.sp.Strategy.Name, c.ck.Observed, c.ck.Count, len(c.ck.Outstanding))

	// Local workers stop when the search is done or cancelled; a
	// cancelled search's jobs go back to the queue.
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(ctx)
	defer func() {
		stopWorkers()
		wg.Wait()
	}()
	go func() {
		select {
		case <-c.done:
			stopWorkers()
		case <-wctx.Done():
		}
	}()
	if c.opts.Workers > 0 {
		tr := c.trainer()
		tr.SharedCores = tr.SharedCores || c.opts.Workers > 1
		host, _ := os.Hostname()
		name := fmt.Sprintf("%s-%d-local", host, os.Getpid())
		wg.Go(func() {
			if err := queue.RunWorker(wctx, conn, c.ck.SearchID, name, c.opts.Workers, tr.JobFunc()); err != nil {
				cancel(err)
			}
		})
	}
	if c.ck.Observed >= c.ck.Count {
		return c.finish()
	}
	handled := 0
	stop, err := queue.ConsumeResults(ctx, conn, c.ck.SearchID, func(r queue.Result) error {
		mu.Lock()
		defer mu.Unlock()
		if c.closed {
			return errors.New("controller stopped")
		}
		err := c.handle(ctx, r, &handled)
		if err != nil && !errors.Is(err, errRetry) {
			c.closed = true
			cancel(err)
			return err
		}
		return err
	}, queue.Seen(c.led.rec))
	if err != nil {
		return err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	stop()
	mu.Lock()
	c.closed = true
	mu.Unlock()
	if c.ck.Observed >= c.ck.Count {
		return c.finish()
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	fmt.Fprintf(c.log, "interrupted: %d of %d architectures observed; state saved in %s\n", c.ck.Observed, c.ck.Count, filepath.Join(c.dir, StateFile))
	return ErrInterrupted
}

var errRetry = errors.New("retry")

func (c *controller) finish() error {
	c.ck.Done = true
	if err := c.ck.save(c.dir); err != nil {
		return err
	}
	s := c.summary(c.start)
	if s.Best != nil {
		fmt.Fprintf(c.log, "search done: %d architectures sampled, %d trained, %d failed; best reward %.4f (%s)\n",
			s.Sampled, s.Unique, s.Failed, s.Best.Reward, s.Best.Hash)
	}
	return nil
}

// connect reaches the queue: the external server, or an embedded one.
func (c *controller) connect() (*queue.Conn, *queue.Server, error) {
	opts := c.opts.Conn
	if opts.Name == "" {
		opts.Name = "cellc search " + c.ck.SearchID
	}
	opts.Logger = c.opts.Logger
	if c.opts.NATS != "" {
		conn, err := queue.Connect(c.opts.NATS, opts)
		return conn, nil, err
	}
	so := queue.ServerOptions{Logger: nil}
	if c.opts.Listen != "" {
		host, port, err := net.SplitHostPort(c.opts.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("search: listen address %q: want host:port", c.opts.Listen)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return nil, nil, fmt.Errorf("search: listen address %q: bad port", c.opts.Listen)
		}
		so.Host, so.Port = host, n
	}
	srv, err := queue.StartEmbedded(filepath.Join(c.dir, JetStreamDir), so)
	if err != nil {
		return nil, nil, err
	}
	if err := writeAtomic(filepath.Join(c.dir, URLFile), []byte(srv.URL()+"\n")); err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	fmt.Fprintf(c.log, "queue: embedded NATS at %s (workers elsewhere: cellc worker --nats %s)\n", srv.URL(), srv.URL())
	conn, err := queue.Connect(srv.URL(), opts)
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	return conn, srv, nil
}

// recover observes outstanding proposals whose results are already
// recorded (the controller died between recording and observing), fills
// the window and (re-)enqueues every outstanding job.
func (c *controller) recover(ctx context.Context) error {
	var obs []strategy.Observation
	for _, p := range c.led.recovered() {
		r, _ := c.led.known(p.Hash)
		obs = append(obs, c.observation(p.Proposal, r))
	}
	if len(obs) > 0 {
		if err := c.observe(obs); err != nil {
			return err
		}
		fmt.Fprintf(c.log, "recovered %d results recorded before the controller stopped\n", len(obs))
	}
	if _, err := c.refill(); err != nil {
		return err
	}
	if err := c.checkpoint(); err != nil {
		return err
	}
	return c.enqueue(ctx, c.led.jobs())
}

func jobID(p strategy.Proposal, hash string) string { return fmt.Sprintf("p%06d-%s", p.Seq, hash) }

func (c *controller) observation(p strategy.Proposal, r trial.Result) strategy.Observation {
	return strategy.Observation{Proposal: p, Reward: r.Reward, Err: r.Err}
}

// observe feeds observations to the strategy and updates the counters.
func (c *controller) observe(obs []strategy.Observation) error {
	if err := c.strat.Observe(obs); err != nil {
		return err
	}
	c.ck.Observed += len(obs)
	for _, o := range obs {
		if !c.haveAvg {
			c.avg, c.haveAvg = o.Reward, true
		} else {
			c.avg = 0.9*c.avg + 0.1*o.Reward
		}
	}
	return nil
}

// checkpoint saves the strategy and the counters.
func (c *controller) checkpoint() error {
	st, err := c.strat.State()
	if err != nil {
		return err
	}
	c.ck.Strategy, c.ck.Stats = st, c.strat.Stats()
	return c.ck.save(c.dir)
}

// window is the most proposals with a job in flight.
func (c *controller) window() int {
	if c.opts.Window > 0 {
		return c.opts.Window
	}
	return max(c.sp.Strategy.Minibatch, c.opts.Workers, 1)
}

// refill proposes architectures until the window is full or all are
// sampled. Repeats of recorded architectures and architectures that do
// not compile are observed at once; a repeat of one in flight waits for
// it. It returns the proposals to enqueue once the checkpoint lists them.
func (c *controller) refill() ([]Pending, error) {
	_, jobs := c.led.inFlight()
	var enq []Pending
	for jobs < c.window() && c.ck.Sampled < c.ck.Count {
		props, err := c.strat.Propose(1)
		if err != nil {
			return nil, err
		}
		p := props[0]
		c.ck.Sampled++
		text, hash, cerr := c.comp.Compile(p.Arch)
		if hash == "" {
			return nil, fmt.Errorf("search: proposal %d: %v", p.Seq, cerr)
		}
		id := jobID(p, hash)
		if r, ok := c.led.known(hash); ok {
			if err := c.observe([]strategy.Observation{c.observation(p, r)}); err != nil {
				return nil, err
			}
			continue
		}
		if cerr != nil {
			r := queue.Result{JobID: id, Hash: hash, CellText: text, Reward: c.sp.InvalidReward,
				Worker: "controller", Attempts: 1, Failed: true, Error: "does not compile: " + cerr.Error()}
			if !c.led.rec[id] {
				if err := queue.AppendResult(filepath.Join(c.dir, ResultsFile), r); err != nil {
					return nil, err
				}
				c.addResult(r)
			}
			if err := c.observe([]strategy.Observation{c.observation(p, trial.Result{Reward: r.Reward, Err: r.Error})}); err != nil {
				return nil, err
			}
			c.progress(r, 0)
			continue
		}
		if pend, job := c.led.add(Pending{Proposal: p, Hash: hash}, id); job {
			c.texts[id] = text
			jobs++
			enq = append(enq, pend)
		}
	}
	return enq, nil
}

// enqueue publishes the jobs of pending proposals.
func (c *controller) enqueue(ctx context.Context, ps []Pending) error {
	for _, p := range ps {
		text, ok := c.texts[p.JobID]
		if !ok { // outstanding when the controller started
			text, _, _ = c.comp.Compile(p.Arch)
		}
		recipe, err := json.Marshal(JobRecipe{Recipe: c.recipe, Proposal: p.Proposal, MaxSteps: c.opts.MaxSteps})
		if err != nil {
			return err
		}
		if err := c.pub.Enqueue(ctx, queue.Job{ID: p.JobID, Hash: p.Hash, CellText: text, Recipe: recipe}); err != nil {
			return err
		}
		delete(c.texts, p.JobID)
	}
	return nil
}

// handle records one result, observes every proposal waiting for it,
// refills the window and checkpoints.
func (c *controller) handle(ctx context.Context, r queue.Result, handled *int) error {
	if !c.led.wanted(r.JobID) {
		// Not one of ours (a job of an abandoned proposal): drop it.
		fmt.Fprintf(c.log, "dropping result %s: no outstanding proposal has that job\n", r.JobID)
		return nil
	}
	if r.Failed {
		r.Reward = c.sp.InvalidReward
	}
	if err := queue.AppendResult(filepath.Join(c.dir, ResultsFile), r); err != nil {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	c.addResult(r)
	*handled++
	if c.opts.afterAppend != nil {
		if err := c.opts.afterAppend(*handled); err != nil {
			return err
		}
	}
	c.workers[r.Worker] = time.Now()
	res := trial.Result{Reward: r.Reward, Err: r.Error}
	var obs []strategy.Observation
	for _, p := range c.led.settle(r.Hash) {
		obs = append(obs, c.observation(p.Proposal, res))
	}
	if err := c.observe(obs); err != nil {
		return err
	}
	enq, err := c.refill()
	if err != nil {
		return err
	}
	if err := c.checkpoint(); err != nil {
		return err
	}
	c.progress(r, len(obs)-1)
	if err := c.enqueue(ctx, enq); err != nil && ctx.Err() == nil {
		// The checkpoint lists them: resume enqueues them again.
		return err
	}
	if c.ck.Observed >= c.ck.Count {
		close(c.done)
		c.closed = true
	}
	return nil
}

// sortResults orders results best first (failures last), ties by job ID.
func sortResults(rs []queue.Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Failed != rs[j].Failed {
			return !rs[i].Failed
		}
		if rs[i].Reward != rs[j].Reward {
			return rs[i].Reward > rs[j].Reward
		}
		return rs[i].JobID < rs[j].JobID
	})
}
