package queue

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ResultsOption configures [ConsumeResults].
type ResultsOption func(*resultsOptions)

type resultsOptions struct {
	seen       map[string]bool
	retryDelay time.Duration
}

// Seen seeds the set of job IDs already recorded, typically from
// results.jsonl on resume: results for them are acked and dropped. The map
// is copied.
func Seen(ids map[string]bool) ResultsOption {
	return func(o *resultsOptions) { maps.Copy(o.seen, ids) }
}

// ResultRetryDelay sets how long a result waits before it is offered again
// after the handler returned an error; default 1 s.
func ResultRetryDelay(d time.Duration) ResultsOption {
	return func(o *resultsOptions) { o.retryDelay = d }
}

// ConsumeResults delivers the results of search searchID to handler, one at
// a time, in the order they were published, starting with any published
// while no controller was consuming. A result is acked once handler returns
// nil (so handler should make it durable first, e.g. with [AppendResult]);
// if handler returns an error the result is offered again later. Each job ID
// reaches handler once: repeats are acked and dropped. Messages that are not
// valid results are logged with the reason and terminated.
//
// Consumption stops when ctx is done or stop is called; stop waits until
// no handler call is running, so it must not be called from handler (cancel
// ctx there instead). Results not yet handled are naked, so the next
// consumer gets them at once.
func ConsumeResults(ctx context.Context, c *Conn, searchID string, handler func(Result) error, opts ...ResultsOption) (stop func(), err error) {
	if err := ValidSearchID(searchID); err != nil {
		return nil, err
	}
	o := resultsOptions{seen: map[string]bool{}, retryDelay: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	cons, err := c.js.Consumer(ctx, resultsStream(searchID), resultsConsumer)
	if err != nil {
		return nil, fmt.Errorf("queue: results consumer of search %s (was Setup called?): %w", searchID, err)
	}
	log := c.log.With("search", searchID)
	var mu sync.Mutex // handler calls are serial; mu guards seen and stopped
	stopped := false
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			// Buffered after stop: hand it straight back, so the next
			// consumer gets it now rather than after the ack wait.
			_ = msg.Nak()
			return
		}
		var seq uint64
		if md, err := msg.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		r, err := DecodeResult(msg.Data())
		if err != nil {
			log.Error("rejected malformed result", "seq", seq, "reason", err)
			if err := msg.TermWithReason("malformed result: " + err.Error()); err != nil {
				log.Warn("terminating malformed result", "seq", seq, "err", err)
			}
			return
		}
		if o.seen[r.JobID] {
			log.Debug("dropped repeated result", "job", r.JobID, "seq", seq)
			_ = msg.Ack()
			return
		}
		if err := handler(r); err != nil {
			log.Warn("result handler failed; will retry", "job", r.JobID, "err", err, "retry_in", o.retryDelay)
			_ = msg.NakWithDelay(o.retryDelay)
			return
		}
		o.seen[r.JobID] = true
		if err := msg.Ack(); err != nil {
			log.Warn("ack of result failed; a repeat will be dropped", "job", r.JobID, "err", err)
		}
	}, jetstream.PullMaxMessages(64), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		log.Warn("consuming results", "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("queue: consume results of search %s: %w", searchID, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			mu.Lock() // waits for a running handler call
			stopped = true
			mu.Unlock()
			cc.Drain() // the buffered results reach the callback, which naks them
			<-cc.Closed()
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-cc.Closed():
		}
	}()
	return stop, nil
}
