package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestHappyPath(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AckWait: 2 * time.Second})
	col := collect(t, e.c, "s1")
	var jobs []Job
	for i := range 20 {
		jobs = append(jobs, testJob(i))
	}
	enqueue(t, e.c, "s1", jobs...)
	var runs atomic.Int32
	fn := func(ctx context.Context, j Job, p func()) (Result, error) {
		runs.Add(1)
		time.Sleep(5 * time.Millisecond)
		return okResult(ctx, j, p)
	}
	startWorker(t, e.c, "s1", "w1", 2, fn)
	startWorker(t, e.c, "s1", "w2", 2, fn)
	col.wait(t, 20, 10*time.Second)
	time.Sleep(100 * time.Millisecond) // room for a stray repeat
	if got := col.count(); got != 20 {
		t.Fatalf("handler saw %d results, want 20", got)
	}
	workers := map[string]int{}
	for _, j := range jobs {
		rs := col.get(j.ID)
		if len(rs) != 1 {
			t.Fatalf("job %s: %d results, want 1", j.ID, len(rs))
		}
		r := rs[0]
		if r.Hash != j.Hash || r.CellText != j.CellText || r.Attempts != 1 || r.Failed {
			t.Errorf("job %s: result %+v", j.ID, r)
		}
		workers[r.Worker]++
	}
	if runs.Load() != 20 {
		t.Errorf("job function ran %d times, want 20", runs.Load())
	}
	if len(workers) != 2 {
		t.Errorf("results by worker %v, want both workers used", workers)
	}
	if n := pending(t, e.c, "s1"); n != 0 {
		t.Errorf("pending %d after all results, want 0", n)
	}
	if n := resultsStored(t, e.c, "s1"); n != 20 {
		t.Errorf("results stream holds %d, want 20", n)
	}
}

const (
	helperURL    = "CELLC_QUEUE_HELPER_URL"
	helperSearch = "CELLC_QUEUE_HELPER_SEARCH"
)

// TestHelperWorker is not a test: TestWorkerKilled runs the test binary
// again with the helper variables set, and this becomes a worker process
// that announces each job on stdout and then hangs.
func TestHelperWorker(t *testing.T) {
	url := os.Getenv(helperURL)
	if url == "" {
		t.Skip("helper process for TestWorkerKilled")
	}
	c, err := Connect(url, ConnOptions{Name: "helper"})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	_ = RunWorker(context.Background(), c, os.Getenv(helperSearch), "doomed", 1,
		func(ctx context.Context, j Job, _ func()) (Result, error) {
			fmt.Printf("STARTED %s %d\n", j.ID, j.Attempt)
			<-ctx.Done()
			return Result{}, ctx.Err()
		})
	os.Exit(3)
}

func TestWorkerKilled(t *testing.T) {
	const ackWait = time.Second
	e := newEnv(t, t.TempDir(), Config{AckWait: ackWait, MaxDeliver: 3})
	col := collect(t, e.c, "s1")
	jobs := []Job{testJob(0), testJob(1), testJob(2)}
	enqueue(t, e.c, "s1", jobs...)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorker$")
	cmd.Env = append(os.Environ(), helperURL+"="+e.srv.URL(), helperSearch+"=s1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "STARTED" {
				started <- f[1]
				return
			}
		}
		close(started)
	}()
	var victim string
	select {
	case victim = <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("helper worker took no job")
	}
	if victim == "" {
		t.Fatal("helper worker exited without taking a job")
	}
	// Let it heartbeat past one AckWait, so only its death can free the job.
	time.Sleep(ackWait + ackWait/2)
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()

	var runs atomic.Int32
	startWorker(t, e.c, "s1", "survivor", 2, func(ctx context.Context, j Job, p func()) (Result, error) {
		runs.Add(1)
		return okResult(ctx, j, p)
	})
	col.wait(t, 3, 10*time.Second)
	t.Logf("victim %s recorded %v after the kill", victim, time.Since(killed).Round(time.Millisecond))
	time.Sleep(ackWait + 200*time.Millisecond) // a second delivery would show up by now
	if got := col.count(); got != 3 {
		t.Fatalf("handler saw %d results, want 3", got)
	}
	if runs.Load() != 3 {
		t.Errorf("survivor ran %d jobs, want 3", runs.Load())
	}
	rs := col.get(victim)
	if len(rs) != 1 {
		t.Fatalf("victim %s: %d results, want 1", victim, len(rs))
	}
	if r := rs[0]; r.Worker != "survivor" || r.Attempts != 2 || r.Failed {
		t.Errorf("victim result %+v, want worker survivor, attempts 2, not failed", r)
	}
	if n := resultsStored(t, e.c, "s1"); n != 3 {
		t.Errorf("results stream holds %d, want 3", n)
	}
	if n := pending(t, e.c, "s1"); n != 0 {
		t.Errorf("pending %d, want 0", n)
	}
}

func TestHeartbeatsPreventRedelivery(t *testing.T) {
	const ackWait = time.Second
	e := newEnv(t, t.TempDir(), Config{AckWait: ackWait})
	col := collect(t, e.c, "s1")
	enqueue(t, e.c, "s1", testJob(0))
	var runs atomic.Int32
	startWorker(t, e.c, "s1", "w", 2, func(ctx context.Context, j Job, p func()) (Result, error) {
		runs.Add(1)
		select {
		case <-time.After(3 * ackWait):
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
		return okResult(ctx, j, p)
	})
	col.wait(t, 1, 10*time.Second)
	if runs.Load() != 1 {
		t.Errorf("job ran %d times, want 1 (redelivered despite heartbeats)", runs.Load())
	}
	if r := col.get("job-0000"); len(r) != 1 || r[0].Attempts != 1 {
		t.Errorf("results %+v, want one with attempts 1", r)
	}
	cons, err := e.c.js.Consumer(context.Background(), jobsStream("s1"), workerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 {
		t.Errorf("consumer redelivered %d messages, want 0", info.NumRedelivered)
	}
}

func TestMaxDeliver(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AckWait: 2 * time.Second, MaxDeliver: 3, RetryDelay: 50 * time.Millisecond})
	col := collect(t, e.c, "s1")
	enqueue(t, e.c, "s1", testJob(0))
	var runs atomic.Int32
	startWorker(t, e.c, "s1", "w", 1, func(_ context.Context, j Job, _ func()) (Result, error) {
		runs.Add(1)
		return Result{}, fmt.Errorf("boom on attempt %d", j.Attempt)
	})
	col.wait(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	rs := col.get("job-0000")
	if len(rs) != 1 || col.count() != 1 {
		t.Fatalf("results %+v, want exactly one", rs)
	}
	r := rs[0]
	if !r.Failed || r.Attempts != 3 || r.Error != "boom on attempt 3" || r.Hash != "h0000" {
		t.Errorf("result %+v, want failed after 3 attempts with the last error", r)
	}
	if runs.Load() != 3 {
		t.Errorf("job ran %d times, want 3", runs.Load())
	}
	waitFor(t, 2*time.Second, "failed job to leave the queue", func() bool { return pending(t, e.c, "s1") == 0 })
}

// A permanent failure (Result.Failed from the job function) is recorded at
// once, without retries.
func TestPermanentFailure(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AckWait: 2 * time.Second, MaxDeliver: 3, RetryDelay: 50 * time.Millisecond})
	col := collect(t, e.c, "s1")
	enqueue(t, e.c, "s1", testJob(0))
	var runs atomic.Int32
	startWorker(t, e.c, "s1", "w", 1, func(context.Context, Job, func()) (Result, error) {
		runs.Add(1)
		return Result{Failed: true, Error: "cell does not compile"}, nil
	})
	col.wait(t, 1, 10*time.Second)
	if r := col.get("job-0000"); len(r) != 1 || !r[0].Failed || r[0].Attempts != 1 || r[0].Error != "cell does not compile" {
		t.Errorf("results %+v, want one failed on attempt 1", r)
	}
	if runs.Load() != 1 {
		t.Errorf("job ran %d times, want 1", runs.Load())
	}
}

// When the worker of the last attempt dies, the next delivery records the
// failure without running the job again.
func TestMaxDeliverWorkerLost(t *testing.T) {
	const ackWait = time.Second
	e := newEnv(t, t.TempDir(), Config{AckWait: ackWait, MaxDeliver: 2})
	col := collect(t, e.c, "s1")
	enqueue(t, e.c, "s1", testJob(0))
	cons, err := e.c.js.Consumer(context.Background(), jobsStream("s1"), workerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // two deliveries that are never acked: two dead workers
		ctx, cancel := context.WithTimeout(context.Background(), 3*ackWait)
		m, err := cons.Next(jetstream.FetchContext(ctx))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_ = m
	}
	startWorker(t, e.c, "s1", "w", 1, func(context.Context, Job, func()) (Result, error) {
		t.Error("job ran after MaxDeliver attempts")
		return Result{}, errors.New("should not run")
	})
	col.wait(t, 1, 5*time.Second)
	r := col.get("job-0000")
	if len(r) != 1 || !r[0].Failed || r[0].Attempts != 2 || !strings.Contains(r[0].Error, "no result after 2 attempts") {
		t.Errorf("results %+v, want one failed after 2 attempts, worker lost", r)
	}
	waitFor(t, 2*time.Second, "failed job to leave the queue", func() bool { return pending(t, e.c, "s1") == 0 })
}

// A worker shutting down hands its jobs back without using up an attempt.
func TestShutdownHandsBack(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AckWait: 30 * time.Second, MaxDeliver: 1})
	col := collect(t, e.c, "s1")
	enqueue(t, e.c, "s1", testJob(0))
	running := make(chan struct{})
	stop := startWorker(t, e.c, "s1", "leaver", 1, func(ctx context.Context, _ Job, _ func()) (Result, error) {
		close(running)
		<-ctx.Done()
		return Result{}, ctx.Err()
	})
	<-running
	stop()
	startWorker(t, e.c, "s1", "stayer", 1, okResult)
	col.wait(t, 1, 5*time.Second) // well within AckWait: handed back, not timed out
	if r := col.get("job-0000"); len(r) != 1 || r[0].Failed || r[0].Attempts != 1 || r[0].Worker != "stayer" {
		t.Errorf("results %+v, want one success by stayer on attempt 1", r)
	}
}

func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SearchID: "restart", AckWait: 2 * time.Second}
	var jobs []Job
	for i := range 10 {
		jobs = append(jobs, testJob(i))
	}
	{
		srv, err := StartEmbedded(dir, ServerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Connect(srv.URL(), ConnOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := Setup(context.Background(), c, cfg); err != nil {
			t.Fatal(err)
		}
		enqueue(t, c, "restart", jobs...)
		if n := pending(t, c, "restart"); n != 10 {
			t.Fatalf("pending %d before restart, want 10", n)
		}
		c.Close()
		srv.Shutdown()
	}
	e := newEnv(t, dir, cfg) // same store; Setup again is a no-op
	if n := pending(t, e.c, "restart"); n != 10 {
		t.Fatalf("pending %d after restart, want 10", n)
	}
	// Results published while no controller consumes are kept for it.
	stop := startWorker(t, e.c, "restart", "w", 4, okResult)
	waitFor(t, 10*time.Second, "queue to drain", func() bool { return pending(t, e.c, "restart") == 0 })
	stop()
	col := collect(t, e.c, "restart")
	col.wait(t, 10, 5*time.Second)
	for _, j := range jobs {
		if r := col.get(j.ID); len(r) != 1 {
			t.Errorf("job %s: %d results, want 1", j.ID, len(r))
		}
	}
}

func TestMalformedResults(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	col := collect(t, e.c, "s1")
	ctx := context.Background()
	bad := []string{
		`this is not json`,
		`{"job_id":"job-x","worker":"w","attempts":1}`,
		`{"job_id":"job-y","hash":"h","cell":"c","worker":"w","attempts":1,"accuracy":7,"params":1}`,
	}
	for _, b := range bad {
		if _, err := e.c.js.Publish(ctx, ResultsSubject("s1"), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	good := Result{JobID: "job-ok", Hash: "h", CellText: "c", Accuracy: 0.5, Params: 10, Worker: "w", Attempts: 1}
	publishResult(t, e.c, good, "m1")
	col.wait(t, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if col.count() != 1 || len(col.get("job-ok")) != 1 {
		t.Fatalf("handler saw %d results, want only job-ok", col.count())
	}
	log := e.lb.String()
	for _, want := range []string{"result is not valid JSON", "result job-x: missing hash", "result job-y: accuracy 7 outside [0, 1]"} {
		if !strings.Contains(log, "rejected malformed result") || !strings.Contains(log, want) {
			t.Errorf("log lacks a rejection with reason %q", want)
		}
	}
	cons, err := e.c.js.Consumer(ctx, resultsStream("s1"), resultsConsumer)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "all results acked or terminated", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestMalformedJob(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	if _, err := e.c.js.Publish(context.Background(), JobsSubject("s1"), []byte(`{"id":"j1"}`)); err != nil {
		t.Fatal(err)
	}
	startWorker(t, e.c, "s1", "w", 1, func(context.Context, Job, func()) (Result, error) {
		t.Error("malformed job reached the job function")
		return Result{}, nil
	})
	waitFor(t, 5*time.Second, "malformed job to leave the queue", func() bool { return pending(t, e.c, "s1") == 0 })
	if log := e.lb.String(); !strings.Contains(log, "rejected malformed job") || !strings.Contains(log, "job j1: missing hash") {
		t.Errorf("log lacks the rejection:\n%s", log)
	}
}

func TestDuplicates(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	enqueue(t, e.c, "s1", testJob(0), testJob(0), testJob(1))
	if n := pending(t, e.c, "s1"); n != 2 {
		t.Errorf("pending %d after enqueueing a job twice, want 2", n)
	}
	r := Result{JobID: "job-a", Hash: "h", CellText: "c", Accuracy: 0.5, Params: 10, Worker: "w", Attempts: 1}
	publishResult(t, e.c, r, "job-a")
	publishResult(t, e.c, r, "job-a") // dropped by the stream
	publishResult(t, e.c, r, "other") // past the stream's window: dropped by the consumer
	r.JobID = "job-b"
	publishResult(t, e.c, r, "job-b") // seeded as seen
	r.JobID = "job-c"
	publishResult(t, e.c, r, "job-c")
	col := collect(t, e.c, "s1", Seen(map[string]bool{"job-b": true}))
	col.wait(t, 2, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if col.count() != 2 || len(col.get("job-a")) != 1 || len(col.get("job-c")) != 1 {
		t.Errorf("handler saw %d results (job-a %d, job-b %d, job-c %d), want job-a and job-c once",
			col.count(), len(col.get("job-a")), len(col.get("job-b")), len(col.get("job-c")))
	}
}

func TestHandlerErrorRetried(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	r := Result{JobID: "job-a", Hash: "h", CellText: "c", Accuracy: 0.5, Params: 10, Worker: "w", Attempts: 1}
	publishResult(t, e.c, r, "job-a")
	var calls atomic.Int32
	got := make(chan struct{})
	stop, err := ConsumeResults(context.Background(), e.c, "s1", func(Result) error {
		if calls.Add(1) == 1 {
			return errors.New("disk full")
		}
		close(got)
		return nil
	}, ResultRetryDelay(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("result not offered again after a handler error")
	}
}

func TestSearches(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{SearchID: "alpha"})
	if err := Setup(context.Background(), e.c, Config{SearchID: "beta-2"}); err != nil {
		t.Fatal(err)
	}
	ids, err := Searches(context.Background(), e.c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "alpha,beta-2" && strings.Join(ids, ",") != "beta-2,alpha" {
		t.Errorf("Searches = %v, want alpha and beta-2", ids)
	}
	for _, bad := range []string{"", "a.b", "a b", "a*", strings.Repeat("x", 65)} {
		if err := Setup(context.Background(), e.c, Config{SearchID: bad}); err == nil {
			t.Errorf("Setup accepted search ID %q", bad)
		}
	}
}

// A worker started before the search is set up waits for it.
func TestWorkerWaitsForSetup(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{})
	startWorker(t, e.c, "later", "w", 1, okResult)
	time.Sleep(100 * time.Millisecond)
	if err := Setup(context.Background(), e.c, Config{SearchID: "later"}); err != nil {
		t.Fatal(err)
	}
	col := collect(t, e.c, "later")
	enqueue(t, e.c, "later", testJob(0))
	col.wait(t, 1, 5*time.Second)
}
