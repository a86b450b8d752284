package queue

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// overhead enqueues n jobs on a fresh search and drains them with a no-op
// job function on one worker with k slots, consuming the results as the
// controller does (appending each to results.jsonl when file is set). It
// returns the time to enqueue and the time to drain.
func overhead(tb testing.TB, e *env, search string, n, k int, file string) (enq, drain time.Duration) {
	tb.Helper()
	ctx := context.Background()
	if err := Setup(ctx, e.c, Config{SearchID: search, AckWait: 30 * time.Second}); err != nil {
		tb.Fatal(err)
	}
	p, err := NewPublisher(e.c, search)
	if err != nil {
		tb.Fatal(err)
	}
	var got atomic.Int32
	done := make(chan struct{})
	stopResults, err := ConsumeResults(ctx, e.c, search, func(r Result) error {
		if file != "" {
			if err := AppendResult(file, r); err != nil {
				return err
			}
		}
		if got.Add(1) == int32(n) {
			close(done)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer stopResults()

	start := time.Now()
	for i := range n {
		j := testJob(i)
		if err := p.Enqueue(ctx, j); err != nil {
			tb.Fatal(err)
		}
	}
	enq = time.Since(start)

	start = time.Now()
	wctx, cancel := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() { werr <- RunWorker(wctx, e.c, search, "bench", k, okResult) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		tb.Fatalf("drained %d of %d jobs in 60 s", got.Load(), n)
	}
	drain = time.Since(start)
	cancel()
	if err := <-werr; err != nil {
		tb.Fatal(err)
	}
	return enq, drain
}

func msPerJob(d time.Duration, n int) float64 {
	return float64(d) / float64(time.Millisecond) / float64(n)
}

// TestQueueOverhead checks the throughput goal: under 5 ms of queue
// overhead per job with 1,000 jobs queued. The job function does nothing,
// so all of the time is the queue's: enqueue, pull, heartbeat machinery,
// result publish, ack and the controller's consumption.
func TestQueueOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput measurement")
	}
	const n = 1000
	e := newEnv(t, t.TempDir(), Config{})
	for _, c := range []struct {
		k    int
		file bool
	}{{1, false}, {8, false}, {1, true}} {
		file := ""
		if c.file {
			file = filepath.Join(t.TempDir(), "results.jsonl")
		}
		enq, drain := overhead(t, e, fmt.Sprintf("k%d-%v", c.k, c.file), n, c.k, file)
		total := msPerJob(enq+drain, n)
		t.Logf("%d jobs, %d slot(s), results.jsonl %v: enqueue %.3f ms/job, drain %.3f ms/job, total %.3f ms/job",
			n, c.k, c.file, msPerJob(enq, n), msPerJob(drain, n), total)
		if c.k == 1 && !c.file && total >= 5 {
			t.Errorf("queue overhead %.3f ms/job with one slot, goal < 5", total)
		}
		if file != "" {
			rs, err := ReadResults(file, nil)
			if err != nil || len(rs) != n {
				t.Errorf("results.jsonl: %d results, err %v; want %d", len(rs), err, n)
			}
		}
	}
}

// BenchmarkQueueOverhead reports the queue's overhead per job (ms/job) for
// 1,000 queued jobs drained by one worker with one slot.
func BenchmarkQueueOverhead(b *testing.B) {
	const n = 1000
	e := newEnv(b, b.TempDir(), Config{})
	var total time.Duration
	i := 0
	for b.Loop() {
		enq, drain := overhead(b, e, fmt.Sprintf("b%d", i), n, 1, "")
		total += enq + drain
		i++
	}
	per := msPerJob(total/time.Duration(i), n)
	b.ReportMetric(per, "ms/job")
	b.Logf("queue overhead %.3f ms/job (%d jobs, %d round(s))", per, n, i)
}
