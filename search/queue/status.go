package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Worker heartbeats. A worker says on core NATS (not a stream: a missed
// heartbeat is simply superseded by the next) which jobs it is training,
// when it starts or ends one and every statusEvery in between; the
// controller keeps the latest of each worker (search/run's workers.json),
// which is what the web view shows as the workers' last heartbeat and
// current jobs. JetStream itself does not say which client holds a job.

// StatusSubject is the subject the workers of search id report on.
func StatusSubject(id string) string { return "cellc." + id + ".status" }

// statusEvery is how often an idle or busy worker reports.
const statusEvery = 5 * time.Second

// WorkerStatus is one worker's heartbeat.
type WorkerStatus struct {
	Worker string       `json:"worker"`
	Time   time.Time    `json:"time"`
	Slots  int          `json:"slots"` // jobs it trains at once
	Jobs   []RunningJob `json:"jobs"`  // in progress, oldest first
	// Stopped is set on a worker's last report.
	Stopped bool `json:"stopped,omitempty"`
}

// RunningJob is a job a worker is training.
type RunningJob struct {
	JobID   string    `json:"job_id"`
	Hash    string    `json:"hash"`
	Attempt int       `json:"attempt"`
	Started time.Time `json:"started"`
}

// DecodeWorkerStatus parses a heartbeat.
func DecodeWorkerStatus(data []byte) (WorkerStatus, error) {
	var s WorkerStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("worker status: %v", err)
	}
	if s.Worker == "" {
		return s, fmt.Errorf("worker status: no worker name")
	}
	return s, nil
}

// statusBoard is a worker's jobs in progress, reported on change and
// periodically.
type statusBoard struct {
	c     *Conn
	subj  string
	name  string
	slots int

	mu   sync.Mutex
	jobs map[string]RunningJob
}

func newStatusBoard(c *Conn, id, name string, slots int) *statusBoard {
	return &statusBoard{c: c, subj: StatusSubject(id), name: name, slots: slots, jobs: map[string]RunningJob{}}
}

func (b *statusBoard) start(j Job) {
	b.mu.Lock()
	b.jobs[j.ID] = RunningJob{JobID: j.ID, Hash: j.Hash, Attempt: j.Attempt, Started: time.Now().UTC()}
	b.mu.Unlock()
	b.report(false)
}

func (b *statusBoard) end(id string) {
	b.mu.Lock()
	delete(b.jobs, id)
	b.mu.Unlock()
	b.report(false)
}

// report publishes the board. A failed publish only delays the view: it
// is logged, never fatal.
func (b *statusBoard) report(stopped bool) {
	b.mu.Lock()
	s := WorkerStatus{Worker: b.name, Time: time.Now().UTC(), Slots: b.slots, Stopped: stopped, Jobs: []RunningJob{}}
	for _, j := range b.jobs {
		s.Jobs = append(s.Jobs, j)
	}
	b.mu.Unlock()
	sort.Slice(s.Jobs, func(i, k int) bool { return s.Jobs[i].Started.Before(s.Jobs[k].Started) })
	data, err := json.Marshal(s)
	if err == nil {
		err = b.c.nc.Publish(b.subj, data)
	}
	if err != nil {
		b.c.log.Debug("worker status not sent", "err", err)
	}
}

// run reports every statusEvery until ctx is done, then once more as
// stopped.
func (b *statusBoard) run(ctx context.Context) {
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	b.report(false)
	for {
		select {
		case <-t.C:
			b.report(false)
		case <-ctx.Done():
			b.report(true)
			_ = b.c.nc.Flush()
			return
		}
	}
}

// SubscribeStatus calls fn with every heartbeat of search id's workers
// until stop is called; malformed messages are logged and dropped.
func SubscribeStatus(c *Conn, id string, fn func(WorkerStatus)) (stop func(), err error) {
	if err := ValidSearchID(id); err != nil {
		return nil, err
	}
	sub, err := c.nc.Subscribe(StatusSubject(id), func(m *nats.Msg) {
		s, err := DecodeWorkerStatus(m.Data)
		if err != nil {
			c.log.Warn("dropped worker status", "err", err)
			return
		}
		fn(s)
	})
	if err != nil {
		return nil, fmt.Errorf("queue: worker status of search %s: %w", id, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
