package queue

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestWorkerStatus: a worker reports the job it is training while it
// trains it, with its attempt, reports it no more once done, and says so
// when it stops.
func TestWorkerStatus(t *testing.T) {
	e := newEnv(t, t.TempDir(), Config{AckWait: 2 * time.Second})
	var mu sync.Mutex
	var seen []WorkerStatus
	stop, err := SubscribeStatus(e.c, "s1", func(s WorkerStatus) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	col := collect(t, e.c, "s1")
	enqueue(t, e.c, "s1", testJob(0))
	release := make(chan struct{})
	stopWorker := startWorker(t, e.c, "s1", "w7", 2, func(ctx context.Context, j Job, p func()) (Result, error) {
		<-release
		return okResult(ctx, j, p)
	})
	find := func(cond func(WorkerStatus) bool) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			if cond(s) {
				return true
			}
		}
		return false
	}
	waitFor(t, 10*time.Second, "a heartbeat with the job in training", func() bool {
		return find(func(s WorkerStatus) bool {
			return s.Worker == "w7" && s.Slots == 2 && len(s.Jobs) == 1 && s.Jobs[0].JobID == "job-0000" && s.Jobs[0].Attempt == 1
		})
	})
	close(release)
	col.wait(t, 1, 10*time.Second)
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	waitFor(t, 10*time.Second, "a heartbeat after the job with no jobs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen[n-1:] {
			if s.Worker == "w7" && len(s.Jobs) == 0 {
				return true
			}
		}
		return false
	})
	stopWorker()
	waitFor(t, 10*time.Second, "the stopped report", func() bool {
		return find(func(s WorkerStatus) bool { return s.Worker == "w7" && s.Stopped })
	})
}

func TestDecodeWorkerStatus(t *testing.T) {
	for _, bad := range []string{``, `{`, `{"time":"2026-01-01T00:00:00Z"}`, `[]`} {
		if _, err := DecodeWorkerStatus([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	s, err := DecodeWorkerStatus([]byte(`{"worker":"w","slots":2,"jobs":[{"job_id":"p1","hash":"h","attempt":2}]}`))
	if err != nil || s.Worker != "w" || len(s.Jobs) != 1 || s.Jobs[0].Attempt != 2 {
		t.Errorf("got %+v, %v", s, err)
	}
}
