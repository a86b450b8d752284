package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Publisher enqueues the jobs of one search.
type Publisher struct {
	c  *Conn
	id string
}

// NewPublisher returns a publisher for search id, which [Setup] must have
// created.
func NewPublisher(c *Conn, id string) (*Publisher, error) {
	if err := ValidSearchID(id); err != nil {
		return nil, err
	}
	return &Publisher{c: c, id: id}, nil
}

// Enqueue stores j on the jobs stream and returns once the server has
// persisted it. A job ID enqueued again within the duplicate window is
// stored once; Enqueue reports no error for the repeat.
func (p *Publisher) Enqueue(ctx context.Context, j Job) error {
	if err := j.Validate(); err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	if j.Enqueued.IsZero() {
		j.Enqueued = time.Now().UTC()
	}
	j.Attempt = 0
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("queue: enqueue job %s: %w", j.ID, err)
	}
	if _, err := p.c.js.Publish(ctx, JobsSubject(p.id), data,
		jetstream.WithMsgID(j.ID), jetstream.WithExpectStream(jobsStream(p.id))); err != nil {
		return fmt.Errorf("queue: enqueue job %s: %w", j.ID, err)
	}
	return nil
}

// Pending is the number of jobs not yet finished: queued or in progress.
func (p *Publisher) Pending(ctx context.Context) (int, error) {
	s, err := p.c.js.Stream(ctx, jobsStream(p.id))
	if err != nil {
		return 0, fmt.Errorf("queue: pending jobs of search %s: %w", p.id, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue: pending jobs of search %s: %w", p.id, err)
	}
	return int(info.State.Msgs), nil
}
