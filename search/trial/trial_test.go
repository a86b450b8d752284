package trial

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"cellc/search/space"
	"cellc/search/strategy"
)

func smallSpace() *space.Space {
	sp := space.DefaultSpace()
	sp.Ops = []string{"identity", "sep3x3", "max3x3"}
	sp.Blocks = 2
	sp.Child.N, sp.Child.BaseFilters = 1, 4
	return sp
}

func newStrategy(t *testing.T, sp *space.Space, name string) strategy.Strategy {
	t.Helper()
	cfg := sp.Strategy
	cfg.Name, cfg.Minibatch, cfg.LSTMUnits = name, 5, 8
	s, err := strategy.New(sp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// opReward counts sep3x3 ops.
func opReward(calls *int) Evaluator {
	return func(_ context.Context, t Trial) (float64, error) {
		*calls++
		return float64(strings.Count(t.Text, "sep3x3")), nil
	}
}

func TestRun(t *testing.T) {
	sp := smallSpace()
	for _, name := range []string{space.Random, space.PPO} {
		s := newStrategy(t, sp, name)
		calls, seen := 0, 0
		trials, err := Run(context.Background(), sp, s, opReward(&calls), Options{Count: 23, Batch: 7, OnTrial: func(Trial) { seen++ }})
		if err != nil {
			t.Fatal(err)
		}
		if len(trials) != 23 || seen != 23 || s.Stats().Observed != 23 {
			t.Fatalf("%s: %d trials, %d reported, %d observed", name, len(trials), seen, s.Stats().Observed)
		}
		comp, err := NewCompiler(sp)
		if err != nil {
			t.Fatal(err)
		}
		for i, tr := range trials {
			if tr.Seq != i || tr.Err != "" {
				t.Errorf("trial %d: seq %d, error %q", i, tr.Seq, tr.Err)
			}
			text, hash, err := comp.Compile(tr.Arch)
			if err != nil || text != tr.Text || hash != tr.Hash || hash != space.Hash(text) {
				t.Errorf("trial %d: text/hash differ from a fresh compile (%v)", i, err)
			}
			if want := float64(strings.Count(tr.Text, "sep3x3")); tr.Reward != want {
				t.Errorf("trial %d: reward %g, want %g", i, tr.Reward, want)
			}
		}
	}
}

// TestCacheEvaluatesEachArchitectureOnce runs a space of 16
// architectures for 60 samples.
func TestCacheEvaluatesEachArchitectureOnce(t *testing.T) {
	sp := space.DefaultSpace()
	sp.Ops, sp.Blocks, sp.Combiners = []string{"sep3x3"}, 1, []string{"add"}
	sp.Child.N, sp.Child.BaseFilters = 1, 4
	s := newStrategy(t, sp, space.Random)
	calls := 0
	cache := NewCache()
	trials, err := Run(context.Background(), sp, s, opReward(&calls), Options{Count: 60, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]bool{}
	cached := 0
	for _, tr := range trials {
		hashes[tr.Hash] = true
		if tr.Cached {
			cached++
		}
	}
	if calls != len(hashes) || cache.Len() != len(hashes) || cached != 60-len(hashes) || len(hashes) > 16 {
		t.Errorf("%d evaluations, %d distinct architectures, %d cached trials, cache of %d", calls, len(hashes), cached, cache.Len())
	}
	// A resumed search reuses the cache.
	data, err := json.Marshal(cache)
	if err != nil {
		t.Fatal(err)
	}
	var back Cache
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	calls = 0
	if _, err := Run(context.Background(), sp, s, opReward(&calls), Options{Count: 20, Cache: &back}); err != nil {
		t.Fatal(err)
	}
	if calls > 16-len(hashes) {
		t.Errorf("the restored cache was not used: %d evaluations", calls)
	}
}

// TestInvalidArchitecturesAreRecorded fails the compile of some
// architectures and the training of others: both get the invalid reward
// and their error, and the strategy observes every one.
func TestInvalidArchitecturesAreRecorded(t *testing.T) {
	sp := smallSpace()
	sp.InvalidReward = -0.5
	comp, err := NewCompiler(sp)
	if err != nil {
		t.Fatal(err)
	}
	compile := func(a space.Arch) (string, string, error) {
		text, hash, err := comp.Compile(a)
		if a[2] == 0 { // op A of the first block is identity
			err = errors.New("sampled.cell:2:3: does not compile")
		}
		return text, hash, err
	}
	calls := 0
	eval := func(ctx context.Context, t Trial) (float64, error) {
		calls++
		switch t.Arch[3] {
		case 0:
			return 0, errors.New("loss is NaN")
		case 1:
			return math.NaN(), nil
		}
		return 1, nil
	}
	s := newStrategy(t, sp, space.PPO)
	trials, err := Run(context.Background(), sp, s, eval, Options{Count: 40, Compile: compile})
	if err != nil {
		t.Fatal(err)
	}
	var bad, failed, good int
	for _, tr := range trials {
		switch {
		case tr.Arch[2] == 0:
			bad++
			if tr.Reward != -0.5 || !strings.Contains(tr.Err, "does not compile") {
				t.Errorf("uncompilable trial: reward %g, error %q", tr.Reward, tr.Err)
			}
		case tr.Arch[3] != 2:
			failed++
			if tr.Reward != -0.5 || tr.Err == "" {
				t.Errorf("failed trial: reward %g, error %q", tr.Reward, tr.Err)
			}
		default:
			good++
			if tr.Reward != 1 || tr.Err != "" {
				t.Errorf("good trial: reward %g, error %q", tr.Reward, tr.Err)
			}
		}
	}
	if bad == 0 || failed == 0 || good == 0 || s.Stats().Observed != 40 {
		t.Errorf("%d uncompilable, %d failed, %d good; %d observed", bad, failed, good, s.Stats().Observed)
	}
	if calls > 40-bad {
		t.Errorf("uncompilable architectures were trained: %d evaluations", calls)
	}
	best := Best(trials, 3)
	if len(best) == 0 || best[0].Reward != 1 || best[0].Err != "" {
		t.Errorf("Best = %+v", best)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	sp := smallSpace()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	eval := func(ctx context.Context, t Trial) (float64, error) {
		n++
		if n == 3 {
			cancel()
			return 0, ctx.Err()
		}
		return 1, nil
	}
	trials, err := Run(ctx, sp, newStrategy(t, sp, space.Random), eval, Options{Count: 10})
	if !errors.Is(err, context.Canceled) || len(trials) != 2 {
		t.Errorf("Run = %d trials, %v; want 2 and context.Canceled", len(trials), err)
	}
}

func TestBest(t *testing.T) {
	mk := func(hash string, r float64, e string) Trial {
		return Trial{Observation: strategy.Observation{Reward: r, Err: e}, Hash: hash}
	}
	got := Best([]Trial{mk("a", 1, ""), mk("b", 3, ""), mk("c", 5, "broken"), mk("b", 3, ""), mk("d", 2, ""), mk("e", 3, "")}, 3)
	var hs []string
	for _, t := range got {
		hs = append(hs, t.Hash)
	}
	if strings.Join(hs, "") != "bed" {
		t.Errorf("Best = %v, want b e d", hs)
	}
}
