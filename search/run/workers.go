package run

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"sync"

	"cellc/search/queue"
)

// workerBoard keeps each worker's latest heartbeat (queue.WorkerStatus)
// and writes them all to workers.json, so that `cellc serve` can show
// the workers' last heartbeats and the jobs they are training, which
// neither results.jsonl nor the queue records.
type workerBoard struct {
	path string
	mu   sync.Mutex
	last map[string]queue.WorkerStatus
}

// WorkersState is workers.json: the latest heartbeat of every worker
// that has reported, by name.
type WorkersState struct {
	Workers []queue.WorkerStatus `json:"workers"`
}

func newWorkerBoard(dir string) *workerBoard {
	return &workerBoard{path: filepath.Join(dir, WorkersFile), last: map[string]queue.WorkerStatus{}}
}

// update records s and rewrites the file (atomically: readers see the
// old file or the new one). A write failure loses one heartbeat's news,
// not the search, so it is ignored.
func (b *workerBoard) update(s queue.WorkerStatus) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.last[s.Worker]; ok && old.Time.After(s.Time) {
		return // an older report arriving late
	}
	b.last[s.Worker] = s
	st := WorkersState{Workers: make([]queue.WorkerStatus, 0, len(b.last))}
	for _, w := range b.last {
		st.Workers = append(st.Workers, w)
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].Worker < st.Workers[j].Worker })
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	_ = writeAtomic(b.path, append(data, '\n'))
}

// ReadWorkers reads a search directory's workers.json.
func ReadWorkers(data []byte) (WorkersState, error) {
	var st WorkersState
	err := json.Unmarshal(data, &st)
	return st, err
}
