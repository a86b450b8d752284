package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
)

// Job is one architecture to train.
type Job struct {
	// ID is unique per evaluation; it is the Nats-Msg-Id of the job and of
	// its result, so a job enqueued twice runs once and its result is
	// recorded once.
	ID string `json:"id"`
	// Hash identifies the architecture (the controller's canonical hash).
	Hash string `json:"hash"`
	// CellText is the .cell source of the architecture.
	CellText string `json:"cell"`
	// Recipe is the training recipe, opaque to the queue (must be JSON).
	Recipe json.RawMessage `json:"recipe,omitempty"`
	// Attempt is the delivery number, 1 for the first; set by the worker
	// from the message metadata, not by the publisher.
	Attempt int `json:"attempt,omitempty"`
	// Enqueued is when the job was enqueued; Enqueue sets it if zero.
	Enqueued time.Time `json:"enqueued"`
}

// Result is the outcome of one job: a trained architecture, or a failure
// after MaxDeliver attempts.
type Result struct {
	JobID        string  `json:"job_id"`
	Hash         string  `json:"hash"`
	CellText     string  `json:"cell"`
	Reward       float64 `json:"reward"`
	Accuracy     float64 `json:"accuracy"`
	TestAccuracy float64 `json:"test_accuracy,omitempty"` // final retraining only
	Params       int64   `json:"params"`
	MultAdds     int64   `json:"mult_adds"`
	TrainSeconds float64 `json:"train_seconds"`
	Worker       string  `json:"worker"`
	Attempts     int     `json:"attempts"`
	Error        string  `json:"error,omitempty"`
	Failed       bool    `json:"failed,omitempty"`
}

// Validate reports the first problem that makes j unfit to enqueue.
func (j Job) Validate() error {
	if err := validID("job ID", j.ID); err != nil {
		return err
	}
	if j.Hash == "" {
		return fmt.Errorf("job %s: missing hash", j.ID)
	}
	if strings.TrimSpace(j.CellText) == "" {
		return fmt.Errorf("job %s: missing cell text", j.ID)
	}
	if len(j.Recipe) > 0 && !json.Valid(j.Recipe) {
		return fmt.Errorf("job %s: recipe is not valid JSON", j.ID)
	}
	return nil
}

// Validate reports the first problem that makes r unfit to record.
func (r Result) Validate() error {
	if err := validID("job_id", r.JobID); err != nil {
		return err
	}
	if r.Hash == "" {
		return fmt.Errorf("result %s: missing hash", r.JobID)
	}
	if strings.TrimSpace(r.CellText) == "" {
		return fmt.Errorf("result %s: missing cell", r.JobID)
	}
	if r.Worker == "" {
		return fmt.Errorf("result %s: missing worker", r.JobID)
	}
	if r.Attempts < 1 {
		return fmt.Errorf("result %s: attempts %d, want at least 1", r.JobID, r.Attempts)
	}
	if r.Failed {
		if r.Error == "" {
			return fmt.Errorf("result %s: failed without an error", r.JobID)
		}
		return nil
	}
	if r.Error != "" {
		return fmt.Errorf("result %s: error %q on a result not marked failed", r.JobID, r.Error)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"reward", r.Reward}, {"accuracy", r.Accuracy}, {"train_seconds", r.TrainSeconds}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("result %s: %s is %v", r.JobID, f.name, f.v)
		}
	}
	if r.Accuracy < 0 || r.Accuracy > 1 {
		return fmt.Errorf("result %s: accuracy %v outside [0, 1]", r.JobID, r.Accuracy)
	}
	if r.Params <= 0 {
		return fmt.Errorf("result %s: params %d, want > 0", r.JobID, r.Params)
	}
	if r.MultAdds < 0 {
		return fmt.Errorf("result %s: mult_adds %d, want >= 0", r.JobID, r.MultAdds)
	}
	if r.TrainSeconds < 0 {
		return fmt.Errorf("result %s: train_seconds %v, want >= 0", r.JobID, r.TrainSeconds)
	}
	return nil
}

// DecodeJob parses and validates a job message.
func DecodeJob(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return Job{}, fmt.Errorf("job is not valid JSON: %w", err)
	}
	return j, j.Validate()
}

// DecodeResult parses and validates a result message.
func DecodeResult(data []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return Result{}, fmt.Errorf("result is not valid JSON: %w", err)
	}
	return r, r.Validate()
}

// validID accepts IDs that are safe as a NATS header value and readable
// in a log: 1 to 256 bytes, no spaces or control characters.
func validID(what, id string) error {
	if id == "" {
		return errors.New("missing " + what)
	}
	if len(id) > 256 {
		return fmt.Errorf("%s %.20q… longer than 256 bytes", what, id)
	}
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%s %q: %q not allowed", what, id, r)
		}
	}
	return nil
}
