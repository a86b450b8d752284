package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JobFunc trains one job and returns its metrics. It should return soon
// after ctx is done (the worker is shutting down; the job goes back to the
// queue without using up an attempt). progress reports liveness at once;
// calling it is optional, as the worker heartbeats by itself every
// AckWait/3 for as long as JobFunc runs.
//
// An error means the attempt failed: the job is retried after the search's
// RetryDelay, or recorded as failed with the error after MaxDeliver
// attempts. A returned Result with Failed set (and Error saying why) is a
// permanent failure, recorded at once without retries: use it for an
// architecture that cannot train at all. The worker fills in JobID, Hash,
// CellText, Worker and Attempts.
type JobFunc func(ctx context.Context, j Job, progress func()) (Result, error)

// hdrAttemptsUsed carries, on a job handed back at shutdown, the attempts
// it had used before.
const hdrAttemptsUsed = "Cellc-Attempts-Used"

// pullWait is how long one pull request waits on an empty queue. A
// worker that stops leaves its open pull requests on the server until
// they expire, and the server may hand them a job in that time; so a
// stopping worker hands its jobs back only once pullWait has passed
// since it stopped pulling (handBackAfter).
const pullWait = 2 * time.Second

// RunWorker pulls jobs of search searchID and runs fn on them, at most
// concurrency at a time, until ctx is done; then it hands back the jobs it
// holds and returns nil once they have been handed back. name identifies
// the worker in results (default host-pid). If the search is not set up
// yet, RunWorker waits for it. It returns an error only if it cannot start.
func RunWorker(ctx context.Context, c *Conn, searchID, name string, concurrency int, fn JobFunc) error {
	if err := ValidSearchID(searchID); err != nil {
		return err
	}
	if fn == nil {
		return errors.New("queue: RunWorker needs a job function")
	}
	if concurrency < 1 {
		concurrency = 1
	}
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	cons, err := waitConsumer(ctx, c, searchID)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	set, err := readWorkerSettings(cons.CachedInfo())
	if err != nil {
		return err
	}
	w := &worker{
		c: c, id: searchID, name: name, fn: fn, cons: cons, set: set,
		log:    c.log.With("search", searchID, "worker", name),
		status: newStatusBoard(c, searchID, name, concurrency),
	}
	w.log.Info("worker started", "concurrency", concurrency, "ack_wait", set.ackWait, "max_deliver", set.maxDeliver)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() { w.loop(ctx) })
	}
	sctx, stopStatus := context.WithCancel(context.Background())
	var sw sync.WaitGroup
	sw.Go(func() { w.status.run(sctx) })
	wg.Wait()
	stopStatus()
	sw.Wait()
	w.log.Info("worker stopped")
	return nil
}

// waitConsumer returns the worker consumer of search id, waiting for Setup
// if it has not run yet.
func waitConsumer(ctx context.Context, c *Conn, id string) (jetstream.Consumer, error) {
	logged := false
	for {
		cons, err := c.js.Consumer(ctx, jobsStream(id), workerConsumer)
		if err == nil {
			return cons, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("queue: worker consumer of search %s: %w", id, err)
		}
		if !logged {
			c.log.Info("waiting for search to be set up", "search", id)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

type worker struct {
	c    *Conn
	id   string
	name string
	fn   JobFunc
	cons jetstream.Consumer
	set  workerSettings
	log  *slog.Logger
	// status reports the jobs in progress (heartbeats for the web view).
	status *statusBoard
}

// loop is one slot: it pulls a single job only when it is free to run it,
// so no job waits in a client buffer while its ack timer runs.
func (w *worker) loop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, pullWait)
		msg, err := w.cons.Next(jetstream.FetchContext(pctx))
		cancel()
		switch {
		case err == nil:
			failures = 0
			w.handle(ctx, msg)
		case ctx.Err() != nil:
			return
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			failures = 0
		default:
			failures++
			wait := min(time.Duration(failures)*250*time.Millisecond, 5*time.Second)
			w.log.Warn("pull failed", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}

func (w *worker) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		w.log.Error("rejected job message without metadata", "reason", err)
		_ = msg.Term()
		return
	}
	job, err := DecodeJob(msg.Data())
	if err != nil {
		w.log.Error("rejected malformed job", "seq", md.Sequence.Stream, "reason", err)
		_ = msg.TermWithReason("malformed job: " + err.Error())
		return
	}
	used, _ := strconv.Atoi(msg.Headers().Get(hdrAttemptsUsed))
	attempt := max(used, 0) + int(md.NumDelivered)
	job.Attempt = attempt
	log := w.log.With("job", job.ID, "attempt", attempt)

	if attempt > w.set.maxDeliver {
		// The previous attempt neither acked nor naked: its worker died or
		// lost the server. Record the failure without running the job.
		reason := fmt.Sprintf("no result after %d attempts: worker lost or ack timeout", w.set.maxDeliver)
		w.finish(ctx, msg, failure(job, w.name, w.set.maxDeliver, reason), log)
		return
	}

	w.status.start(job)
	res, err := w.run(ctx, msg, job, log)
	w.status.end(job.ID)
	if err == nil {
		res.JobID, res.Hash, res.CellText = job.ID, job.Hash, job.CellText
		res.Worker, res.Attempts = w.name, attempt
		if err = res.Validate(); err != nil {
			err = fmt.Errorf("invalid result: %w", err)
		}
	}
	switch {
	case err == nil:
		w.finish(ctx, msg, res, log)
	case ctx.Err() != nil:
		w.handBack(msg, job, attempt-1, log)
	case attempt >= w.set.maxDeliver:
		w.finish(ctx, msg, failure(job, w.name, attempt, err.Error()), log)
	default:
		log.Warn("job failed; will retry", "err", err, "retry_in", w.set.retryDelay)
		if err := msg.NakWithDelay(w.set.retryDelay); err != nil {
			log.Warn("nak failed; job will be redelivered after the ack timeout", "err", err)
		}
	}
}

// run calls fn with heartbeats every AckWait/3 and turns a panic into an
// error.
func (w *worker) run(ctx context.Context, msg jetstream.Msg, job Job, log *slog.Logger) (res Result, err error) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	last := time.Now()
	beat := func(force bool) {
		mu.Lock()
		defer mu.Unlock()
		if !force && time.Since(last) < w.set.ackWait/10 {
			return
		}
		last = time.Now()
		if err := msg.InProgress(); err != nil {
			log.Warn("heartbeat failed", "err", err)
		}
	}
	done := make(chan struct{})
	var hb sync.WaitGroup
	hb.Go(func() {
		t := time.NewTicker(w.set.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				beat(true)
			case <-done:
				return
			}
		}
	})
	defer func() {
		close(done)
		hb.Wait()
	}()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job function panicked: %v", p)
		}
	}()
	return w.fn(jctx, job, func() { beat(false) })
}

// finish publishes res and then acks (or, for a failure, terminates) the
// job. If the publish fails the job is naked, to be tried again.
func (w *worker) finish(ctx context.Context, msg jetstream.Msg, res Result, log *slog.Logger) {
	// Record a result even when the worker is shutting down.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.c.timeout)
	defer cancel()
	data, err := json.Marshal(res)
	if err == nil {
		_, err = w.c.js.Publish(pctx, ResultsSubject(w.id), data,
			jetstream.WithMsgID(res.JobID), jetstream.WithExpectStream(resultsStream(w.id)))
	}
	if err != nil {
		log.Error("publishing result failed; job goes back to the queue", "err", err)
		if err := msg.Nak(); err != nil {
			log.Warn("nak failed; job will be redelivered after the ack timeout", "err", err)
		}
		return
	}
	if res.Failed {
		log.Warn("job failed", "attempts", res.Attempts, "err", res.Error)
		if err := msg.TermWithReason("failed: " + res.Error); err != nil {
			log.Warn("terminating failed job", "err", err)
		}
		return
	}
	log.Debug("job done", "reward", res.Reward, "train_seconds", res.TrainSeconds)
	if err := msg.DoubleAck(pctx); err != nil {
		log.Warn("ack failed; the job may run again, its result is recorded once", "err", err)
	}
}

// handBack returns a job interrupted by shutdown to the queue without
// using up the interrupted attempt: it republishes the job carrying the
// attempts used so far and terminates the delivered copy. If the server
// cannot take it, the job is naked instead (costing the attempt).
//
// It first waits until the pull requests this process had open when it
// stopped have expired on the server (pullWait after shutdown began), so
// the job cannot be delivered to one of them and sit out the ack wait.
func (w *worker) handBack(msg jetstream.Msg, job Job, used int, log *slog.Logger) {
	_ = msg.InProgress() // the wait below must not run into the ack wait
	time.Sleep(pullWait + 250*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), w.c.timeout)
	defer cancel()
	md, _ := msg.Metadata()
	m := nats.NewMsg(JobsSubject(w.id))
	m.Data = msg.Data()
	m.Header.Set(hdrAttemptsUsed, strconv.Itoa(used))
	// A message ID of its own: the job ID is in the duplicate window.
	_, err := w.c.js.PublishMsg(ctx, m,
		jetstream.WithMsgID(fmt.Sprintf("%s/handback/%d", job.ID, md.Sequence.Stream)),
		jetstream.WithExpectStream(jobsStream(w.id)))
	if err != nil {
		log.Warn("handing back job failed; naking it", "err", err)
		_ = msg.Nak()
		return
	}
	if err := msg.Term(); err != nil {
		log.Warn("terminating handed-back job", "err", err)
	}
	log.Info("job handed back on shutdown")
}

func failure(job Job, worker string, attempts int, reason string) Result {
	return Result{
		JobID: job.ID, Hash: job.Hash, CellText: job.CellText,
		Worker: worker, Attempts: attempts, Error: reason, Failed: true,
	}
}
