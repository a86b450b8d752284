package strategy

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"cellc/search/space"
)

// Proposal is one architecture a strategy wants evaluated, with what the
// strategy needs to learn from its result. It is plain data (JSON), so it
// can travel through a work queue and come back inside an Observation.
type Proposal struct {
	// Seq numbers the strategy's proposals from 0.
	Seq  int        `json:"seq"`
	Arch space.Arch `json:"arch"`
	// LogProb is log pi(Arch) under the controller that sampled it (PPO
	// and REINFORCE; PPO's importance ratio needs it); 0 otherwise.
	LogProb float64 `json:"log_prob,omitempty"`
}

// Observation is a proposal's outcome. An architecture that did not
// compile (or whose training failed) carries the search's invalid reward
// and its error; it is observed like any other, never dropped.
type Observation struct {
	Proposal
	Reward float64 `json:"reward"`
	Err    string  `json:"error,omitempty"`
}

// Stats summarise a strategy for logs.
type Stats struct {
	Proposed int `json:"proposed"`
	Observed int `json:"observed"`
	// Updates counts controller updates (PPO, REINFORCE) or children
	// bred (evolution).
	Updates int `json:"updates"`
	// Pending counts observations waiting for a full minibatch.
	Pending int `json:"pending"`
	// Baseline is the moving average of rewards (PPO, REINFORCE).
	Baseline float64 `json:"baseline"`
	// Loss and Entropy are those of the last controller update.
	Loss    float64 `json:"loss"`
	Entropy float64 `json:"entropy"`
}

// Strategy is a search strategy. Propose and Observe may interleave
// freely: a strategy learns from observations in the order it receives
// them, whatever proposals are still out. None is safe for concurrent
// use.
type Strategy interface {
	// Name is the strategy's name in the search-space file.
	Name() string
	// Propose returns n new architectures to evaluate.
	Propose(n int) ([]Proposal, error)
	// Observe learns from evaluated proposals.
	Observe(results []Observation) error
	// State serialises everything the strategy has: weights, optimiser
	// moments, baseline, pending observations, population, random number
	// generator, counters. Restore(State()) on a strategy made by New with
	// the same space continues exactly where it was.
	State() ([]byte, error)
	// Restore replaces the strategy's state with one State returned.
	Restore(state []byte) error
	// Stats summarises the strategy.
	Stats() Stats
}

// New makes the strategy cfg names for the space sp. Restore a saved state
// into it to resume a search.
func New(sp *space.Space, cfg space.StrategyConfig) (Strategy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("strategy: %v", err)
	}
	if err := sp.ValidateCells(); err != nil {
		return nil, fmt.Errorf("strategy: %v", err)
	}
	b := newBase(sp, cfg)
	switch cfg.Name {
	case space.Random:
		return &random{base: b}, nil
	case space.Evolution:
		return &evolution{base: b}, nil
	case space.PPO, space.REINFORCE:
		return newPolicy(b)
	}
	return nil, fmt.Errorf("strategy: unknown strategy %q", cfg.Name)
}

// stateVersion is bumped when the state's meaning changes.
const stateVersion = 1

// base is what every strategy has: the space, the config, the random
// number generator and the counters.
type base struct {
	sp       *space.Space
	cfg      space.StrategyConfig
	ds       []space.Decision
	pcg      *rand.PCG
	rng      *rand.Rand
	proposed int
	observed int
	updates  int
}

func newBase(sp *space.Space, cfg space.StrategyConfig) base {
	pcg := rand.NewPCG(cfg.Seed, 0x4e41534e6574) // "NASNet"
	return base{sp: sp, cfg: cfg, ds: sp.Decisions(), pcg: pcg, rng: rand.New(pcg)}
}

// Name is the strategy's name.
func (b *base) Name() string { return b.cfg.Name }

// uniform draws every decision uniformly over its valid values.
func (b *base) uniform() space.Arch {
	a := make(space.Arch, len(b.ds))
	for i, d := range b.ds {
		a[i] = b.rng.IntN(d.Choices)
	}
	return a
}

// check validates observations before any of them is learned from.
func (b *base) check(obs []Observation) error {
	for _, o := range obs {
		if err := b.sp.Check(o.Arch); err != nil {
			return fmt.Errorf("strategy: observation %d: %v", o.Seq, err)
		}
		if math.IsNaN(o.Reward) || math.IsInf(o.Reward, 0) {
			return fmt.Errorf("strategy: observation %d: reward %g is not a finite number", o.Seq, o.Reward)
		}
		if math.IsNaN(o.LogProb) || math.IsInf(o.LogProb, 0) {
			return fmt.Errorf("strategy: observation %d: log-probability %g is not a finite number", o.Seq, o.LogProb)
		}
	}
	return nil
}

func checkCount(n int) error {
	if n < 0 {
		return fmt.Errorf("strategy: cannot propose %d architectures", n)
	}
	return nil
}

// fingerprint identifies the space's decisions, so that a state is not
// restored into a different space.
func (b *base) fingerprint() string {
	var sb strings.Builder
	for _, d := range b.ds {
		sb.WriteString(d.String() + "=" + strings.Join(d.Names, ",") + ";")
	}
	return space.Hash(sb.String())
}

// state is the serialised form of every strategy; each fills its part.
type state struct {
	Strategy string `json:"strategy"`
	Version  int    `json:"version"`
	Space    string `json:"space"`
	RNG      []byte `json:"rng"`
	Proposed int    `json:"proposed"`
	Observed int    `json:"observed"`
	Updates  int    `json:"updates"`

	// PPO and REINFORCE.
	Units        int           `json:"units,omitempty"`
	Params       floats        `json:"params,omitempty"`
	AdamM        floats        `json:"adam_m,omitempty"`
	AdamV        floats        `json:"adam_v,omitempty"`
	AdamT        int           `json:"adam_t,omitempty"`
	Baseline     float64       `json:"baseline"`
	HaveBaseline bool          `json:"have_baseline,omitempty"`
	Pending      []Observation `json:"pending,omitempty"`
	Loss         float64       `json:"loss"`
	Entropy      float64       `json:"entropy"`

	// Evolution.
	Population []Observation `json:"population,omitempty"`
}

func (b *base) save(s *state) ([]byte, error) {
	rng, err := b.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	s.Strategy, s.Version, s.Space, s.RNG = b.cfg.Name, stateVersion, b.fingerprint(), rng
	s.Proposed, s.Observed, s.Updates = b.proposed, b.observed, b.updates
	return json.Marshal(s)
}

// load parses data and checks that it belongs to this strategy and
// space. It changes nothing: a strategy checks its own part, then calls
// commit.
func (b *base) load(data []byte) (*state, *rand.PCG, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, nil, fmt.Errorf("strategy: reading state: %v", err)
	}
	switch {
	case s.Strategy != b.cfg.Name:
		return nil, nil, fmt.Errorf("strategy: the state is %q's, not %q's", s.Strategy, b.cfg.Name)
	case s.Version != stateVersion:
		return nil, nil, fmt.Errorf("strategy: state version %d, want %d", s.Version, stateVersion)
	case s.Space != b.fingerprint():
		return nil, nil, errors.New("strategy: the state was saved for a different search space")
	case s.Proposed < 0 || s.Observed < 0 || s.Updates < 0:
		return nil, nil, errors.New("strategy: the state's counters are negative")
	}
	for _, set := range [][]Observation{s.Pending, s.Population} {
		if err := b.check(set); err != nil {
			return nil, nil, err
		}
	}
	pcg := new(rand.PCG)
	if err := pcg.UnmarshalBinary(s.RNG); err != nil {
		return nil, nil, fmt.Errorf("strategy: reading state: %v", err)
	}
	return &s, pcg, nil
}

// commit restores the base's part of a loaded state.
func (b *base) commit(s *state, pcg *rand.PCG) {
	*b.pcg = *pcg // b.rng draws from b.pcg
	b.proposed, b.observed, b.updates = s.Proposed, s.Observed, s.Updates
}

// floats is a []float64 serialised exactly and compactly: base64 of the
// little-endian IEEE 754 bits.
type floats []float64

func (f floats) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 8*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(buf))
}

func (f *floats) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	if len(buf)%8 != 0 {
		return errors.New("float array of " + strconv.Itoa(len(buf)) + " bytes")
	}
	out := make([]float64, len(buf)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
	}
	*f = out
	return nil
}
