package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// logBuf is a goroutine-safe log sink, printed if the test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog(t testing.TB) (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", lb)
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// env is one embedded server, a connection and a set-up search.
type env struct {
	srv *Server
	c   *Conn
	cfg Config
	log *slog.Logger
	lb  *logBuf
}

func newEnv(t testing.TB, dir string, cfg Config) *env {
	t.Helper()
	log, lb := newLog(t)
	srv, err := StartEmbedded(dir, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := Connect(srv.URL(), ConnOptions{Name: t.Name(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if cfg.SearchID == "" {
		cfg.SearchID = "s1"
	}
	if err := Setup(context.Background(), c, cfg); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, c: c, cfg: cfg, log: log, lb: lb}
}

func testJob(i int) Job {
	return Job{
		ID:       fmt.Sprintf("job-%04d", i),
		Hash:     fmt.Sprintf("h%04d", i),
		CellText: fmt.Sprintf("cell c%d { x = conv3x3(in) }", i),
		Recipe:   []byte(`{"epochs":1}`),
	}
}

func enqueue(t testing.TB, c *Conn, id string, jobs ...Job) {
	t.Helper()
	p, err := NewPublisher(c, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := p.Enqueue(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
}

func okResult(_ context.Context, j Job, _ func()) (Result, error) {
	return Result{Reward: 0.5, Accuracy: 0.9, Params: 1000, MultAdds: 5000, TrainSeconds: 0.01}, nil
}

// startWorker runs RunWorker in the background until the test ends or the
// returned stop is called; stop waits for RunWorker to return.
func startWorker(t testing.TB, c *Conn, id, name string, k int, fn JobFunc) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunWorker(ctx, c, id, name, k, fn) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunWorker %s: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// collector records every result ConsumeResults hands over.
type collector struct {
	mu     sync.Mutex
	byJob  map[string][]Result
	n      int
	notify chan struct{}
}

func collect(t testing.TB, c *Conn, id string, opts ...ResultsOption) *collector {
	t.Helper()
	col := &collector{byJob: map[string][]Result{}, notify: make(chan struct{}, 1)}
	stop, err := ConsumeResults(context.Background(), c, id, func(r Result) error {
		col.mu.Lock()
		col.byJob[r.JobID] = append(col.byJob[r.JobID], r)
		col.n++
		col.mu.Unlock()
		select {
		case col.notify <- struct{}{}:
		default:
		}
		return nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return col
}

func (col *collector) count() int {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.n
}

func (col *collector) get(job string) []Result {
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]Result(nil), col.byJob[job]...)
}

// wait blocks until n results have arrived, failing the test after d.
func (col *collector) wait(t testing.TB, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for col.count() < n {
		select {
		case <-col.notify:
		case <-deadline:
			t.Fatalf("got %d results after %v, want %d", col.count(), d, n)
		}
	}
}

// waitFor polls cond every 20 ms until it holds, failing after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pending(t testing.TB, c *Conn, id string) int {
	t.Helper()
	p, err := NewPublisher(c, id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// publishResult publishes r as a worker would, with the given message ID.
func publishResult(t testing.TB, c *Conn, r Result, msgID string) {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.js.Publish(context.Background(), ResultsSubject("s1"), data, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

func resultsStored(t testing.TB, c *Conn, id string) uint64 {
	t.Helper()
	s, err := c.js.Stream(context.Background(), resultsStream(id))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
