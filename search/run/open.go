package run

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"cellc/search/queue"
	"cellc/search/space"
	"cellc/search/strategy"
	"cellc/search/trial"
)

// open prepares the directory, the space, the strategy and the state.
func open(opts Options) (*controller, error) {
	dir := opts.Dir
	if dir == "" {
		return nil, errors.New("search: no directory")
	}
	c := &controller{opts: opts, dir: dir, log: opts.Log, workers: map[string]time.Time{}, texts: map[string]string{}}
	if c.log == nil {
		c.log = io.Discard
	}
	statePath := filepath.Join(dir, StateFile)
	_, statErr := os.Stat(statePath)
	exists := statErr == nil
	switch {
	case opts.Resume && !exists:
		return nil, fmt.Errorf("search: %s holds no search to resume (no %s)", dir, StateFile)
	case !opts.Resume && exists:
		return nil, fmt.Errorf("search: %s already holds a search; continue it with --resume", dir)
	}
	if opts.Resume {
		sp, err := space.LoadSpace(filepath.Join(dir, SpaceFile))
		if err != nil {
			return nil, err
		}
		c.sp = sp
		if c.ck, err = ReadCheckpoint(dir); err != nil {
			return nil, err
		}
	} else {
		if opts.Space == nil {
			return nil, errors.New("search: no search space")
		}
		c.sp = opts.Space
		if err := c.sp.Validate(); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		data, err := yaml.Marshal(c.sp)
		if err != nil {
			return nil, err
		}
		head := "# The search space of this search, written by cellc search.\n"
		if err := writeAtomic(filepath.Join(dir, SpaceFile), append([]byte(head), data...)); err != nil {
			return nil, err
		}
		id := make([]byte, 4)
		_, _ = rand.Read(id)
		c.ck = &Checkpoint{SearchID: "s" + hex.EncodeToString(id), Count: c.sp.Architectures}
	}
	if opts.Count > 0 {
		if opts.Count < c.ck.Sampled {
			return nil, fmt.Errorf("search: %d architectures already sampled; the count cannot go down to %d", c.ck.Sampled, opts.Count)
		}
		c.ck.Count = opts.Count
		if c.ck.Done && c.ck.Observed < c.ck.Count {
			c.ck.Done = false
		}
	}
	c.led = newLedger(c.ck)
	strat, err := strategy.New(c.sp, c.sp.Strategy)
	if err != nil {
		return nil, err
	}
	if c.ck.Strategy != nil {
		if err := strat.Restore(c.ck.Strategy); err != nil {
			return nil, fmt.Errorf("search: %s: %v", statePath, err)
		}
	}
	c.strat = strat
	if c.comp, err = trial.NewCompiler(c.sp); err != nil {
		return nil, err
	}
	c.recipe = c.sp.Child
	results, err := queue.ReadResults(filepath.Join(dir, ResultsFile), opts.Logger)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		c.addResult(r)
	}
	if !opts.Resume {
		if err := c.ck.save(dir); err != nil {
			return nil, err
		}
	}
	return c, nil
}
