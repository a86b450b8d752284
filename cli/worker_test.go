package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const tinySearchYAML = `ops: [identity, avg3x3, max3x3, sep3x3]
blocks: 2
child: {dataset: synthetic, synthetic_size: 64, image_size: 16, n: 1, base_filters: 4, epochs: 1, batch: 16, workers: 1}
strategy: {name: random, minibatch: 3}
architectures: 5
retrain: {top: 0}
`

// TestWorkerJoinsSearch starts a search without local workers and a
// `cellc worker` on its embedded server's URL, which trains every job.
func TestWorkerJoinsSearch(t *testing.T) {
	dir := t.TempDir()
	spacePath := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(spacePath, []byte(tinySearchYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	searchDir := filepath.Join(dir, "run")
	type outcome struct {
		code           int
		stdout, stderr string
	}
	searchDone := make(chan outcome, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run([]string{"search", searchDir, "--space", spacePath, "--workers", "0", "--ack-wait", "3s"}, nil, &out, &errb)
		searchDone <- outcome{code, out.String(), errb.String()}
	}()
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == ""; {
		if data, err := os.ReadFile(filepath.Join(searchDir, "nats.url")); err == nil {
			url = strings.TrimSpace(string(data))
			break
		}
		select {
		case o := <-searchDone:
			t.Fatalf("search exited with %d before starting its server:\n%s", o.code, o.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no nats.url after 20s")
		}
	}
	workerDone := make(chan outcome, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run([]string{"worker", "--nats", url, "--concurrency", "2", "--name", "remote", "--idle-exit", "2s"}, nil, &out, &errb)
		workerDone <- outcome{code, out.String(), errb.String()}
	}()
	var s outcome
	select {
	case s = <-searchDone:
	case <-time.After(2 * time.Minute):
		t.Fatal("search did not finish in 2 minutes")
	}
	if s.code != 0 || !strings.Contains(s.stdout, ": 5 architectures sampled") {
		t.Fatalf("search exited with %d:\n%s\n%s", s.code, s.stdout, s.stderr)
	}
	w := <-workerDone
	if w.code != 0 || !strings.Contains(w.stderr, "worker: search s") {
		t.Fatalf("worker exited with %d:\n%s\n%s", w.code, w.stdout, w.stderr)
	}
	results, err := os.ReadFile(filepath.Join(searchDir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(results)), "\n")
	for _, l := range lines {
		if !strings.Contains(l, `"worker":"remote"`) && !strings.Contains(l, `"worker":"controller"`) {
			t.Errorf("a result not from the remote worker: %s", l)
		}
	}
	if len(lines) < 1 || len(lines) > 5 {
		t.Errorf("%d results for 5 architectures", len(lines))
	}
}
