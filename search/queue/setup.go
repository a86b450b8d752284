package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config is the queue of one search, fixed by the controller in [Setup].
// Workers read it back from the server.
type Config struct {
	// SearchID names the search's subjects and streams: letters, digits,
	// '-' and '_', at most 64 bytes.
	SearchID string
	// AckWait is how long a job may go without an ack or heartbeat before
	// it is redelivered; default 30 s. Workers heartbeat every AckWait/3.
	AckWait time.Duration
	// MaxDeliver is the number of attempts a job gets before it is recorded
	// as failed; default 3.
	MaxDeliver int
	// RetryDelay is how long a job that failed with an error waits before
	// its next attempt; default 5 s.
	RetryDelay time.Duration
	// Replicas is the stream replication factor on a cluster; default 1.
	Replicas int
	// DuplicateWindow is how long the streams remember message IDs to drop
	// a repeated enqueue or result; default 10 min. Results are also
	// deduplicated by job ID in [ConsumeResults], without a time limit.
	DuplicateWindow time.Duration
}

const (
	workerConsumer  = "workers"
	resultsConsumer = "controller"
	metaMaxDeliver  = "cellc.max_deliver"
	metaRetryDelay  = "cellc.retry_delay"
	streamPrefix    = "CELLC_"
	jobsSuffix      = "_JOBS"
	resultsSuffix   = "_RESULTS"
)

func (c Config) withDefaults() Config {
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 5 * time.Second
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 10 * time.Minute
	}
	return c
}

// ValidSearchID reports whether id can name a search.
func ValidSearchID(id string) error {
	if id == "" {
		return errors.New("queue: empty search ID")
	}
	if len(id) > 64 {
		return fmt.Errorf("queue: search ID %q longer than 64 bytes", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("queue: search ID %q: %q not allowed (letters, digits, '-', '_')", id, r)
		}
	}
	return nil
}

// JobsSubject is the subject jobs of search id are published on.
func JobsSubject(id string) string { return "cellc." + id + ".jobs" }

// ResultsSubject is the subject results of search id are published on.
func ResultsSubject(id string) string { return "cellc." + id + ".results" }

func jobsStream(id string) string    { return streamPrefix + id + jobsSuffix }
func resultsStream(id string) string { return streamPrefix + id + resultsSuffix }

// Setup creates or updates the streams and consumers of search cfg.SearchID.
// It is idempotent: a resumed search calls it again with the same Config
// (or a changed AckWait, MaxDeliver or RetryDelay, which take effect for
// new deliveries).
func Setup(ctx context.Context, c *Conn, cfg Config) error {
	if err := ValidSearchID(cfg.SearchID); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	id := cfg.SearchID
	_, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        jobsStream(id),
		Description: "cellc search " + id + ": queued jobs",
		Subjects:    []string{JobsSubject(id)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("queue: jobs stream for search %s: %w", id, err)
	}
	_, err = c.js.CreateOrUpdateConsumer(ctx, jobsStream(id), jetstream.ConsumerConfig{
		Durable:     workerConsumer,
		Description: "cellc workers",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     cfg.AckWait,
		// Unlimited on the server; workers enforce cfg.MaxDeliver (see the
		// package comment).
		MaxDeliver: -1,
		Metadata: map[string]string{
			metaMaxDeliver: strconv.Itoa(cfg.MaxDeliver),
			metaRetryDelay: cfg.RetryDelay.String(),
		},
	})
	if err != nil {
		return fmt.Errorf("queue: worker consumer for search %s: %w", id, err)
	}
	_, err = c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        resultsStream(id),
		Description: "cellc search " + id + ": results",
		Subjects:    []string{ResultsSubject(id)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("queue: results stream for search %s: %w", id, err)
	}
	_, err = c.js.CreateOrUpdateConsumer(ctx, resultsStream(id), jetstream.ConsumerConfig{
		Durable:       resultsConsumer,
		Description:   "cellc controller",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// The same ack wait as jobs: a result a stopped controller had
		// fetched but not acknowledged comes back after it, and the
		// seen-set drops any second copy.
		AckWait:    cfg.AckWait,
		MaxDeliver: -1,
	})
	if err != nil {
		return fmt.Errorf("queue: results consumer for search %s: %w", id, err)
	}
	return nil
}

// Searches lists the IDs of the searches set up on the server, for a worker
// started without one.
func Searches(ctx context.Context, c *Conn) ([]string, error) {
	var ids []string
	names := c.js.StreamNames(ctx, jetstream.WithStreamListSubject("cellc.*.jobs"))
	for name := range names.Name() {
		if id, ok := strings.CutPrefix(name, streamPrefix); ok {
			if id, ok := strings.CutSuffix(id, jobsSuffix); ok && ValidSearchID(id) == nil {
				ids = append(ids, id)
			}
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("queue: list searches: %w", err)
	}
	return ids, nil
}

// workerSettings is what a worker reads back from the consumer.
type workerSettings struct {
	ackWait    time.Duration
	maxDeliver int
	retryDelay time.Duration
}

func readWorkerSettings(info *jetstream.ConsumerInfo) (workerSettings, error) {
	s := workerSettings{ackWait: info.Config.AckWait}
	if s.ackWait <= 0 {
		s.ackWait = 30 * time.Second
	}
	n, err := strconv.Atoi(info.Config.Metadata[metaMaxDeliver])
	if err != nil || n <= 0 {
		return s, fmt.Errorf("queue: consumer %s/%s has no valid %s metadata; was it made by queue.Setup?", info.Stream, info.Name, metaMaxDeliver)
	}
	s.maxDeliver = n
	d, err := time.ParseDuration(info.Config.Metadata[metaRetryDelay])
	if err != nil || d < 0 {
		return s, fmt.Errorf("queue: consumer %s/%s has no valid %s metadata; was it made by queue.Setup?", info.Stream, info.Name, metaRetryDelay)
	}
	s.retryDelay = d
	return s, nil
}
