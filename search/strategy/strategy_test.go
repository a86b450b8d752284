package strategy

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"cellc/search/space"
)

// testSpace is a small space that keeps the controller's graph quick:
// 2 blocks over 4 ops, separate cells (20 decisions).
func testSpace() *space.Space {
	sp := space.DefaultSpace()
	sp.Ops = []string{"identity", "sep3x3", "max3x3", "avg3x3"}
	sp.Blocks = 2
	return sp
}

func testConfig(name string) space.StrategyConfig {
	cfg := space.DefaultStrategy()
	cfg.Name, cfg.LSTMUnits, cfg.Minibatch, cfg.Epochs = name, 8, 4, 3
	cfg.Population, cfg.Sample = 6, 2
	cfg.Seed = 3
	return cfg
}

func newStrategy(t *testing.T, sp *space.Space, cfg space.StrategyConfig) Strategy {
	t.Helper()
	s, err := New(sp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reward is a deterministic reward: favours op value 1 (sep3x3) and
// reading blocks. Proposals whose first decision is 1 "fail to compile".
func reward(sp *space.Space, p Proposal) Observation {
	o := Observation{Proposal: p}
	for i, d := range sp.Decisions() {
		switch d.Kind {
		case space.OpA, space.OpB:
			if p.Arch[i] == 1 {
				o.Reward += 0.1
			}
		case space.InputA, space.InputB:
			if p.Arch[i] >= sp.Inputs {
				o.Reward += 0.05
			}
		}
	}
	if p.Arch[0] == 1 && p.Arch[2] == 0 {
		o.Reward, o.Err = -1, "does not compile"
	}
	return o
}

func observeAll(sp *space.Space, ps []Proposal) []Observation {
	obs := make([]Observation, len(ps))
	for i, p := range ps {
		obs[i] = reward(sp, p)
	}
	return obs
}

var allStrategies = []string{space.PPO, space.REINFORCE, space.Random, space.Evolution}

func TestProposalsAreValid(t *testing.T) {
	sp := testSpace()
	for _, name := range allStrategies {
		t.Run(name, func(t *testing.T) {
			s := newStrategy(t, sp, testConfig(name))
			if s.Name() != name {
				t.Errorf("Name = %q", s.Name())
			}
			if ps, err := s.Propose(0); err != nil || len(ps) != 0 {
				t.Errorf("Propose(0) = %v, %v", ps, err)
			}
			if _, err := s.Propose(-1); err == nil {
				t.Error("Propose(-1): no error")
			}
			seq := 0
			for round := range 5 {
				ps, err := s.Propose(7)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					if p.Seq != seq {
						t.Errorf("round %d: seq %d, want %d", round, p.Seq, seq)
					}
					seq++
					if err := sp.Check(p.Arch); err != nil {
						t.Errorf("proposal %d: %v", p.Seq, err)
					}
					if pol, ok := s.(*policy); ok {
						tr, _ := pol.ctrl.Evaluate(p.Arch)
						if p.LogProb >= 0 || math.Abs(tr.LogProb-p.LogProb) > 1e-12 {
							t.Errorf("proposal %d: log-prob %g, controller says %g", p.Seq, p.LogProb, tr.LogProb)
						}
					}
				}
				if err := s.Observe(observeAll(sp, ps)); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if st.Proposed != 35 || st.Observed != 35 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestRestoreContinuesExactly saves a strategy mid-search, with proposals
// out and observations pending, and checks that a new strategy restored
// from the state proposes, learns and saves exactly as the original does.
func TestRestoreContinuesExactly(t *testing.T) {
	sp := testSpace()
	for _, name := range allStrategies {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(name)
			a := newStrategy(t, sp, cfg)
			for range 3 {
				ps, err := a.Propose(5)
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Observe(observeAll(sp, ps)); err != nil {
					t.Fatal(err)
				}
			}
			out, err := a.Propose(3) // in flight across the save
			if err != nil {
				t.Fatal(err)
			}
			saved, err := a.State()
			if err != nil {
				t.Fatal(err)
			}
			if name == space.PPO || name == space.REINFORCE {
				if st := a.Stats(); st.Pending == 0 || st.Updates == 0 {
					t.Fatalf("want pending observations and updates at the save: %+v", st)
				}
			}
			cont := func(s Strategy) (string, []byte) {
				var log strings.Builder
				if err := s.Observe(observeAll(sp, out)); err != nil {
					t.Fatal(err)
				}
				for range 4 {
					ps, err := s.Propose(5)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range ps {
						fmt.Fprintf(&log, "%d %s %x\n", p.Seq, p.Arch, math.Float64bits(p.LogProb))
					}
					if err := s.Observe(observeAll(sp, ps)); err != nil {
						t.Fatal(err)
					}
				}
				st, err := s.State()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&log, "%+v\n", s.Stats())
				return log.String(), st
			}
			wantLog, wantState := cont(a)

			other := cfg
			other.Seed = 99 // the state, not the seed, decides
			b := newStrategy(t, sp, other)
			if err := b.Restore(saved); err != nil {
				t.Fatal(err)
			}
			again, err := b.State()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, saved) {
				t.Fatal("State after Restore differs from the state restored")
			}
			gotLog, gotState := cont(b)
			if gotLog != wantLog {
				t.Errorf("restored strategy diverged:\n%s\nwant\n%s", gotLog, wantLog)
			}
			if !bytes.Equal(gotState, wantState) {
				t.Error("restored strategy ends in a different state")
			}
		})
	}
}

func TestRestoreErrors(t *testing.T) {
	sp := testSpace()
	state := func(name string, sp *space.Space, units int) []byte {
		cfg := testConfig(name)
		cfg.LSTMUnits = units
		s := newStrategy(t, sp, cfg)
		ps, _ := s.Propose(5)
		if err := s.Observe(observeAll(sp, ps)); err != nil {
			t.Fatal(err)
		}
		st, err := s.State()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	bigger := testSpace()
	bigger.Blocks = 3
	for _, tc := range []struct {
		into  string
		state []byte
		want  string
	}{
		{space.PPO, state(space.Random, sp, 8), `the state is "random"'s, not "ppo"'s`},
		{space.PPO, state(space.PPO, bigger, 8), "different search space"},
		{space.PPO, state(space.PPO, sp, 16), "does not match"},
		{space.Evolution, []byte("{"), "reading state"},
		{space.Random, []byte(`{"strategy":"random","version":9}`), "state version 9"},
	} {
		s := newStrategy(t, sp, testConfig(tc.into))
		before, _ := s.State()
		err := s.Restore(tc.state)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Restore into %s: %v, want %q", tc.into, err, tc.want)
		}
		if after, _ := s.State(); !bytes.Equal(before, after) {
			t.Errorf("a failed Restore into %s changed the strategy", tc.into)
		}
	}
}

func TestObserveRejectsBadResults(t *testing.T) {
	sp := testSpace()
	for _, name := range allStrategies {
		s := newStrategy(t, sp, testConfig(name))
		ps, _ := s.Propose(1)
		for _, o := range []Observation{
			{Proposal: Proposal{Arch: ps[0].Arch}, Reward: math.NaN()},
			{Proposal: Proposal{Arch: ps[0].Arch}, Reward: math.Inf(1)},
			{Proposal: Proposal{Arch: ps[0].Arch[:3]}, Reward: 1},
			{Proposal: Proposal{Arch: ps[0].Arch, LogProb: math.NaN()}, Reward: 1},
		} {
			if err := s.Observe([]Observation{o}); err == nil {
				t.Errorf("%s: Observe(%+v) accepted it", name, o)
			}
		}
		if st := s.Stats(); st.Observed != 0 {
			t.Errorf("%s: rejected observations were counted: %+v", name, st)
		}
	}
}

// TestPolicyMinibatchesAndBaseline follows the baseline by hand: it
// starts at the first minibatch's mean reward and then moves with weight
// decay per reward, after each minibatch's advantages are taken.
func TestPolicyMinibatchesAndBaseline(t *testing.T) {
	sp := testSpace()
	for _, name := range []string{space.PPO, space.REINFORCE} {
		cfg := testConfig(name)
		s := newStrategy(t, sp, cfg).(*policy)
		ps, _ := s.Propose(9)
		obs := observeAll(sp, ps)
		for i := range obs {
			obs[i].Reward = float64(i)
		}
		before := append([]float64(nil), s.ctrl.Params()...)
		if err := s.Observe(obs[:3]); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Updates != 0 || st.Pending != 3 || s.adam.T != 0 {
			t.Fatalf("%s: after 3 of a minibatch of 4: %+v", name, st)
		}
		if err := s.Observe(obs[3:]); err != nil {
			t.Fatal(err)
		}
		steps := 1
		if name == space.PPO {
			steps = cfg.Epochs
		}
		if st := s.Stats(); st.Updates != 2 || st.Pending != 1 || s.adam.T != 2*steps {
			t.Fatalf("%s: after 9 observations: %+v, %d Adam steps", name, st, s.adam.T)
		}
		b := (0.0 + 1 + 2 + 3) / 4
		for _, r := range []float64{0, 1, 2, 3, 4, 5, 6, 7} {
			b = 0.95*b + 0.05*r
		}
		if math.Abs(s.baseline-b) > 1e-12 {
			t.Errorf("%s: baseline %g, want %g", name, s.baseline, b)
		}
		changed := 0
		for i, v := range s.ctrl.Params() {
			if v != before[i] {
				changed++
			}
		}
		if changed == 0 {
			t.Errorf("%s: the update changed no parameter", name)
		}
	}
}

// TestPolicyLearns rewards one value of the first decision: PPO and
// REINFORCE both make it more likely.
func TestPolicyLearns(t *testing.T) {
	sp := testSpace()
	for _, name := range []string{space.PPO, space.REINFORCE} {
		cfg := testConfig(name)
		cfg.LR, cfg.Minibatch = 0.01, 10
		s := newStrategy(t, sp, cfg).(*policy)
		draws := rand.New(rand.NewPCG(1, 1))
		count := func() float64 {
			n := 0
			for range 400 {
				if s.ctrl.Sample(draws).Arch[1] == 1 {
					n++
				}
			}
			return float64(n) / 400
		}
		before := count()
		rounds := 15 // PPO takes cfg.Epochs (3) Adam steps a minibatch
		if name == space.REINFORCE {
			rounds = 45 // and REINFORCE one
		}
		for range rounds {
			ps, _ := s.Propose(10)
			obs := make([]Observation, len(ps))
			for i, p := range ps {
				obs[i] = Observation{Proposal: p}
				if p.Arch[1] == 1 {
					obs[i].Reward = 1
				}
			}
			if err := s.Observe(obs); err != nil {
				t.Fatal(err)
			}
		}
		after := count()
		t.Logf("%s: P(input B of block 0 = h_i-1) %.2f -> %.2f", name, before, after)
		if after < before+0.2 {
			t.Errorf("%s: the rewarded choice went from %.2f to %.2f of samples", name, before, after)
		}
	}
}

func TestEvolution(t *testing.T) {
	sp := testSpace()
	cfg := testConfig(space.Evolution)
	cfg.Population, cfg.Sample = 5, 5
	s := newStrategy(t, sp, cfg).(*evolution)
	first, _ := s.Propose(5)
	if s.Stats().Updates != 0 {
		t.Fatal("the first P proposals should be random, not bred")
	}
	obs := make([]Observation, len(first))
	for i, p := range first {
		obs[i] = Observation{Proposal: p}
	}
	obs[2].Reward = 10 // a clear winner
	if err := s.Observe(obs); err != nil {
		t.Fatal(err)
	}
	kids, _ := s.Propose(200)
	fromBest := 0
	for _, k := range kids {
		if err := sp.Check(k.Arch); err != nil {
			t.Fatal(err)
		}
		best := len(k.Arch)
		for _, m := range s.population {
			best = min(best, hamming(k.Arch, m.Arch))
		}
		if best != 1 {
			t.Fatalf("child %s is %d decisions from the population, want 1", k.Arch, best)
		}
		if hamming(k.Arch, first[2].Arch) == 1 {
			fromBest++
		}
	}
	// The winner is in a tournament of 5 draws from 5 with probability
	// 1 - (4/5)^5 = 0.67.
	if fromBest < 110 {
		t.Errorf("%d of 200 children come from the winner, want about 134", fromBest)
	}
	// Aging: the oldest member leaves, however good.
	more := make([]Observation, 3)
	for i := range more {
		more[i] = Observation{Proposal: kids[i]}
	}
	if err := s.Observe(more); err != nil {
		t.Fatal(err)
	}
	if len(s.population) != 5 || !s.population[0].Arch.Equal(first[3].Arch) || !s.population[4].Arch.Equal(kids[2].Arch) {
		t.Errorf("population after aging: %v", s.population)
	}
	if err := s.Observe([]Observation{{Proposal: kids[3]}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range s.population {
		if m.Reward == 10 {
			t.Error("the winner outlived its age")
		}
	}
}

func hamming(a, b space.Arch) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestRandomIsUniform(t *testing.T) {
	sp := testSpace()
	s := newStrategy(t, sp, testConfig(space.Random))
	ps, _ := s.Propose(4000)
	ds := sp.Decisions()
	for i, d := range ds {
		counts := make([]int, d.Choices)
		for _, p := range ps {
			counts[p.Arch[i]]++
		}
		want := 4000 / float64(d.Choices)
		for v, c := range counts {
			if math.Abs(float64(c)-want) > 5*math.Sqrt(want) {
				t.Errorf("decision %d (%s): value %d drawn %d times, want about %.0f", i, d, v, c, want)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	sp := testSpace()
	cfg := testConfig("bayes")
	if _, err := New(sp, cfg); err == nil || !strings.Contains(err.Error(), "unknown strategy") {
		t.Errorf("New(bayes): %v", err)
	}
	bad := testSpace()
	bad.Ops = nil
	if _, err := New(bad, testConfig(space.PPO)); err == nil {
		t.Error("New with an empty op list: no error")
	}
}
