package run

import (
	"cellc/internal/atomicfile"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"cellc/search/strategy"
)

// File names inside a search directory.
const (
	SpaceFile      = "space.yaml"
	StateFile      = "controller.json"
	ResultsFile    = "results.jsonl"
	RetrainFile    = "retrain.jsonl"
	RankingFile    = "ranking.txt"
	BestFile       = "best.cell"
	URLFile        = "nats.url"
	WorkersFile    = "workers.json"
	JetStreamDir   = "jetstream"
	checkpointVers = 1
)

// Pending is a proposal the strategy has not yet observed: its job is
// queued or training, or (JobID empty) it repeats an architecture whose
// job is, and waits for that result.
type Pending struct {
	strategy.Proposal
	Hash  string `json:"hash"`
	JobID string `json:"job_id,omitempty"`
}

// Checkpoint is controller.json: everything the controller needs to
// continue, written atomically after every update.
type Checkpoint struct {
	Version  int    `json:"version"`
	SearchID string `json:"search_id"`
	// Count is the number of architectures to sample.
	Count int `json:"count"`
	// Sampled counts proposals made, Observed those the strategy learned
	// from.
	Sampled  int `json:"sampled"`
	Observed int `json:"observed"`
	// Outstanding are the proposals made but not yet observed.
	Outstanding []Pending `json:"outstanding"`
	// Strategy is the strategy's State.
	Strategy json.RawMessage `json:"strategy"`
	// Stats is the strategy's summary at the last update, for status.
	Stats strategy.Stats `json:"stats"`
	// Done is set when every architecture has been observed.
	Done bool `json:"done,omitempty"`
}

// ReadCheckpoint reads dir's controller.json.
func ReadCheckpoint(dir string) (*Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no search (no %s)", dir, StateFile)
	}
	if err != nil {
		return nil, err
	}
	var c Checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, StateFile), err)
	}
	if c.Version != checkpointVers {
		return nil, fmt.Errorf("%s: version %d, want %d", filepath.Join(dir, StateFile), c.Version, checkpointVers)
	}
	return &c, nil
}

// writeAtomic replaces path so a crash never leaves a partial checkpoint.
func writeAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

func (c *Checkpoint) save(dir string) error {
	c.Version = checkpointVers
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, StateFile), append(data, '\n')); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
