package run

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cellc/compiler/plan"
	"cellc/runtime"
	"cellc/search/queue"
	"cellc/search/space"
)

// tinySpace is a space of small children that train in well under a
// second: N = 1, 4 filters, 16x16 synthetic images, 4 steps.
func tinySpace(name string, count int) *space.Space {
	sp := space.DefaultSpace()
	sp.Ops = []string{"identity", "avg3x3", "max3x3", "sep3x3"}
	sp.Blocks = 2
	sp.Child = space.Recipe{Dataset: "synthetic", SyntheticSize: 64, ImageSize: 16, N: 1, BaseFilters: 4,
		DropPathKeepProb: 1, Epochs: 1, Batch: 16, LR: 0.05, Schedule: "cosine", Momentum: 0.9, Seed: 1, Workers: 1}
	sp.Strategy.Name, sp.Strategy.LSTMUnits, sp.Strategy.Minibatch = name, 16, 3
	sp.Architectures = count
	sp.Retrain = space.Retrain{Top: 1, Recipe: sp.Child}
	return sp
}

func opts(dir string, sp *space.Space) Options {
	return Options{Dir: dir, Space: sp, Workers: 1, Retrain: 0, Queue: queue.Config{AckWait: 3 * time.Second}}
}

// checkExactlyOnce asserts that results.jsonl holds every architecture
// once and that the strategy observed count proposals.
func checkExactlyOnce(t *testing.T, dir string, count int) []queue.Result {
	t.Helper()
	results, err := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs, hashes := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		if jobs[r.JobID] || hashes[r.Hash] {
			t.Errorf("result %s (%s) recorded twice", r.JobID, r.Hash)
		}
		jobs[r.JobID], hashes[r.Hash] = true, true
	}
	ck, err := ReadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Proposed, Observed int
	}
	if err := json.Unmarshal(ck.Strategy, &st); err != nil {
		t.Fatal(err)
	}
	if !ck.Done || ck.Sampled != count || ck.Observed != count || st.Proposed != count || st.Observed != count || len(ck.Outstanding) != 0 {
		t.Errorf("checkpoint: done %v, sampled %d, observed %d, strategy %+v, %d outstanding; want %d of each",
			ck.Done, ck.Sampled, ck.Observed, st, len(ck.Outstanding), count)
	}
	return results
}

func TestSearch(t *testing.T) {
	dir := t.TempDir()
	o := opts(dir, tinySpace(space.PPO, 6))
	o.Retrain = -1
	sum, err := Search(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	results := checkExactlyOnce(t, dir, 6)
	if len(results) != sum.Unique || sum.Best == nil || len(sum.Ranking) != 1 {
		t.Errorf("summary %+v with %d results", sum, len(results))
	}
	for _, r := range results {
		if r.Failed || r.Params <= 0 || r.MultAdds <= 0 || r.Accuracy != r.Reward || r.Attempts != 1 {
			t.Errorf("result %+v", r)
		}
	}
	for _, f := range []string{SpaceFile, BestFile, RankingFile, RetrainFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The local worker's heartbeats reached workers.json, with the jobs
	// it was training at some point.
	data, err := os.ReadFile(filepath.Join(dir, WorkersFile))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := ReadWorkers(data)
	if err != nil || len(ws.Workers) != 1 || ws.Workers[0].Worker == "" || ws.Workers[0].Time.IsZero() {
		t.Errorf("workers.json %s (%v): want the local worker's last heartbeat", data, err)
	}
	// The retraining scores the best architecture on the test split too
	// (the synthetic data set draws one with its own seed).
	retrained, err := queue.ReadResults(filepath.Join(dir, RetrainFile), nil)
	if err != nil || len(retrained) != 1 || retrained[0].TestAccuracy <= 0 || sum.Ranking[0].Test != retrained[0].TestAccuracy {
		t.Errorf("retrain.jsonl %+v (%v), ranking %+v: want one result with a test accuracy", retrained, err, sum.Ranking)
	}
	if _, err := Search(context.Background(), opts(dir, tinySpace(space.PPO, 6))); err == nil {
		t.Error("a second search in the same directory started")
	}
	if err := Plot(filepath.Join(dir, "fig6.png"), []string{dir}); err != nil {
		t.Error(err)
	}
}

// TestKillAndResume stops the controller twice, once cleanly (the
// context is cancelled after 2 results) and once as a crash would
// (between recording a result and observing it), and resumes it each
// time.
func TestKillAndResume(t *testing.T) {
	for _, name := range []string{space.PPO, space.Evolution} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			sp := tinySpace(name, 8)
			sp.Strategy.Population, sp.Strategy.Sample = 3, 2
			ctx, cancel := context.WithCancel(context.Background())
			o := opts(dir, sp)
			o.afterAppend = func(n int) error {
				if n == 2 {
					cancel()
				}
				return nil
			}
			if _, err := Search(ctx, o); !errors.Is(err, ErrInterrupted) {
				t.Fatalf("cancelled search: %v", err)
			}
			ck, err := ReadCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Done || ck.Observed < 2 || ck.Observed >= 8 {
				t.Fatalf("after the interrupt: observed %d, done %v", ck.Observed, ck.Done)
			}

			crash := errors.New("crash")
			o = Options{Dir: dir, Resume: true, Workers: 1, Queue: queue.Config{AckWait: 3 * time.Second}, afterAppend: func(n int) error {
				if n == 2 {
					return crash
				}
				return nil
			}}
			if _, err := Search(context.Background(), o); !errors.Is(err, crash) {
				t.Fatalf("crashed search: %v", err)
			}
			results, _ := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
			if ck, _ = ReadCheckpoint(dir); ck.Observed != len(results)-1 {
				t.Fatalf("after the crash: %d results, %d observed; want the last one unobserved", len(results), ck.Observed)
			}

			if _, err := Search(context.Background(), Options{Dir: dir, Resume: true, Workers: 2, Queue: queue.Config{AckWait: 3 * time.Second}}); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, dir, 8)
		})
	}
}

// TestRepeatsAreTrainedOnce samples 10 architectures from a space of 4.
func TestRepeatsAreTrainedOnce(t *testing.T) {
	dir := t.TempDir()
	sp := tinySpace(space.Random, 10)
	sp.Ops, sp.Blocks, sp.Combiners, sp.SeparateReduction = []string{"avg3x3"}, 1, []string{"add"}, false
	if _, err := Search(context.Background(), opts(dir, sp)); err != nil {
		t.Fatal(err)
	}
	results := checkExactlyOnce(t, dir, 10)
	if len(results) > 4 {
		t.Errorf("%d results from a space of 4 architectures", len(results))
	}
	curves, err := Curves(dir, []int{1})
	if err != nil || len(curves[1]) != len(results) {
		t.Errorf("curves %v, %v", curves, err)
	}
}

// TestDivergence: a child whose loss is not finite is a failed result,
// not an error to retry.
func TestDivergence(t *testing.T) {
	sp := tinySpace(space.Random, 1)
	r := sp.Child
	// A rate that overflows the weights to ±Inf in one step: the next
	// loss is NaN whatever the kernels round (LR 100 only made the loss
	// huge, and NaN or not depended on the summation order).
	r.LR, r.ClipNorm, r.Schedule = 1e38, 0, "constant"
	text, err := sp.CellText(make(space.Arch, sp.NumDecisions()), "sampled")
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&Trainer{}).Train(context.Background(), text, r, 0)
	if err != nil || !out.Failed || out.Err == "" {
		t.Errorf("Train = %+v, %v; want a failed outcome", out, err)
	}
	out, err = (&Trainer{}).Train(context.Background(), "network x { normal: nope }", sp.Child, 0)
	if err != nil || !out.Failed {
		t.Errorf("uncompilable: %+v, %v", out, err)
	}
}

// countingBackend is the CPU backend, counting the plans compiled on it.
type countingBackend struct {
	runtime.CPU
	compiled atomic.Int32
}

func (b *countingBackend) Compile(p *plan.Plan, batch int, o runtime.Options) (runtime.Executable, error) {
	b.compiled.Add(1)
	return b.CPU.Compile(p, batch, o)
}

// A Trainer trains every child on its Backend, several at once.
func TestTrainerBackend(t *testing.T) {
	sp := tinySpace(space.Random, 1)
	text, err := sp.CellText(make(space.Arch, sp.NumDecisions()), "sampled")
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{}
	tr := &Trainer{Backend: b}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			out, err := tr.Train(context.Background(), text, sp.Child, 2)
			if err != nil || out.Failed {
				t.Errorf("Train = %+v, %v", out, err)
			}
		})
	}
	wg.Wait()
	if n := b.compiled.Load(); n < 3 {
		t.Errorf("%d plans compiled on the Trainer's backend, want one per child (3)", n)
	}
}

// TestMain lets a test run a search in a subprocess (TestSIGKILL).
func TestMain(m *testing.M) {
	if dir := os.Getenv("CELLC_TEST_SEARCH_DIR"); dir != "" {
		o := opts(dir, tinySpace(space.REINFORCE, 12))
		o.Queue.AckWait = 2 * time.Second
		if _, err := Search(context.Background(), o); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGKILL kills a search process (controller, embedded server and
// worker at once) after 3 results and resumes it.
func TestSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CELLC_TEST_SEARCH_DIR="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; {
		results, _ := queue.ReadResults(filepath.Join(dir, ResultsFile), nil)
		if len(results) >= 3 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the search exited before it was killed (%v):\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no 3 results after a minute")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	ck, err := ReadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Done {
		t.Fatal("the search finished before it was killed")
	}
	if _, err := Search(context.Background(), Options{Dir: dir, Resume: true, Workers: 1, Queue: queue.Config{AckWait: 2 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, dir, 12)
}
