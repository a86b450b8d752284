package trial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"cellc/compiler"
	"cellc/lang"
	"cellc/search/space"
	"cellc/search/strategy"
)

// NetworkName is the network name every sampled architecture's .cell text
// uses. It is fixed so that identical cells give identical text and hash.
const NetworkName = "sampled"

// Trial is one proposal on its way through the search: its .cell text and
// hash, its reward (or its error with the invalid reward), and whether the
// reward was reused from an identical architecture.
type Trial struct {
	strategy.Observation
	Text   string `json:"text"`
	Hash   string `json:"hash"`
	Cached bool   `json:"cached,omitempty"`
}

// Compiler prints architectures as .cell text and compiles them as a
// search's children would be built.
type Compiler struct {
	sp  *space.Space
	cfg compiler.Config
}

// NewCompiler checks the space's child recipe and prepares its compiler
// configuration.
func NewCompiler(sp *space.Space) (*Compiler, error) {
	cfg, err := sp.Child.CompilerConfig()
	if err != nil {
		return nil, fmt.Errorf("child: %v", err)
	}
	return &Compiler{sp: sp, cfg: cfg}, nil
}

// Compile prints a as canonical .cell text, hashes it and builds it with
// compiler.Build. A build error is returned as err with the text and hash
// still set; an architecture outside the space has neither.
func (c *Compiler) Compile(a space.Arch) (text, hash string, err error) {
	text, err = c.sp.CellText(a, NetworkName)
	if err != nil {
		return "", "", err
	}
	hash = space.Hash(text)
	f, diags := lang.Parse(NetworkName+".cell", []byte(text))
	if !diags.HasErrors() {
		_, diags = compiler.Build(f, c.cfg, compiler.Options{})
	}
	if diags.HasErrors() {
		var msgs []string
		for _, d := range diags {
			if d.Severity == lang.Error {
				msgs = append(msgs, d.String())
			}
		}
		return text, hash, errors.New(strings.Join(msgs, "; "))
	}
	return text, hash, nil
}

// Result is an evaluated architecture's outcome, as cached.
type Result struct {
	Reward float64 `json:"reward"`
	Err    string  `json:"error,omitempty"`
}

// Cache maps a .cell text's hash to its result, so that an architecture
// is evaluated once however often it is sampled. It is safe for
// concurrent use and marshals to JSON for checkpoints.
type Cache struct {
	mu sync.Mutex
	m  map[string]Result
}

// NewCache makes an empty cache.
func NewCache() *Cache { return &Cache{m: map[string]Result{}} }

// Get returns hash's result.
func (c *Cache) Get(hash string) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[hash]
	return r, ok
}

// Put records hash's result.
func (c *Cache) Put(hash string, r Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Result{}
	}
	c.m[hash] = r
}

// Len is the number of architectures cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Entries copies the cache.
func (c *Cache) Entries() map[string]Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Result, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// MarshalJSON writes the cache as an object from hash to result.
func (c *Cache) MarshalJSON() ([]byte, error) { return json.Marshal(c.Entries()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *Cache) UnmarshalJSON(data []byte) error {
	m := map[string]Result{}
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = m
	return nil
}

// Evaluator trains a compiled architecture and returns its reward (the
// paper: validation accuracy after 20 epochs). It sees the trial's
// proposal, text and hash. An error other than the context's counts as a
// failed architecture: it gets the invalid reward and is recorded.
type Evaluator func(ctx context.Context, t Trial) (float64, error)

// Options control Run.
type Options struct {
	// Count is how many architectures to sample; 0 = the space's
	// Architectures.
	Count int
	// Batch is how many proposals are evaluated between observations;
	// 0 = the strategy's minibatch.
	Batch int
	// Cache carries results across runs (a resumed search); nil = a new
	// one.
	Cache *Cache
	// OnTrial, when set, is called with every trial as it completes.
	OnTrial func(Trial)
	// Compile, when set, replaces the space's Compiler: it returns the
	// architecture's text and hash, and an error if it does not compile.
	Compile func(space.Arch) (text, hash string, err error)
}

// Run is the search loop on one machine: propose a batch, print and
// compile each proposal, evaluate those that compiled and are not cached,
// give the failures the invalid reward, and report every one to the
// strategy. It returns the trials in proposal order. A distributed search
// does the same with a work queue between Compile and Evaluate.
func Run(ctx context.Context, sp *space.Space, s strategy.Strategy, eval Evaluator, opts Options) ([]Trial, error) {
	compile := opts.Compile
	if compile == nil {
		comp, err := NewCompiler(sp)
		if err != nil {
			return nil, err
		}
		compile = comp.Compile
	}
	count, batch, cache := opts.Count, opts.Batch, opts.Cache
	if count == 0 {
		count = sp.Architectures
	}
	if batch == 0 {
		batch = sp.Strategy.Minibatch
	}
	if cache == nil {
		cache = NewCache()
	}
	if count < 0 || batch < 1 {
		return nil, fmt.Errorf("search: count %d and batch %d must be positive", count, batch)
	}
	var trials []Trial
	for len(trials) < count {
		props, err := s.Propose(min(batch, count-len(trials)))
		if err != nil {
			return trials, err
		}
		obs := make([]strategy.Observation, 0, len(props))
		for _, p := range props {
			t, err := evaluate(ctx, compile, cache, eval, sp.InvalidReward, p)
			if err != nil {
				return trials, err
			}
			trials = append(trials, t)
			obs = append(obs, t.Observation)
			if opts.OnTrial != nil {
				opts.OnTrial(t)
			}
		}
		if err := s.Observe(obs); err != nil {
			return trials, err
		}
	}
	return trials, nil
}

func evaluate(ctx context.Context, compile func(space.Arch) (string, string, error), cache *Cache, eval Evaluator, invalid float64, p strategy.Proposal) (Trial, error) {
	t := Trial{Observation: strategy.Observation{Proposal: p}}
	text, hash, err := compile(p.Arch)
	t.Text, t.Hash = text, hash
	if hash == "" {
		return t, fmt.Errorf("search: proposal %d: %v", p.Seq, err)
	}
	if r, ok := cache.Get(hash); ok {
		t.Reward, t.Err, t.Cached = r.Reward, r.Err, true
		return t, nil
	}
	if err == nil {
		t.Reward, err = eval(ctx, t)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return t, ctxErr
		}
		if err == nil && (math.IsNaN(t.Reward) || math.IsInf(t.Reward, 0)) {
			err = fmt.Errorf("reward %g is not a finite number", t.Reward)
		}
	}
	if err != nil {
		t.Reward, t.Err = invalid, err.Error()
	}
	cache.Put(hash, Result{Reward: t.Reward, Err: t.Err})
	return t, nil
}

// Best returns the n trials with the highest rewards among those without
// errors, each architecture once, best first (ties: earlier first).
func Best(trials []Trial, n int) []Trial {
	seen := map[string]bool{}
	var ok []Trial
	for _, t := range trials {
		if t.Err == "" && !seen[t.Hash] {
			seen[t.Hash] = true
			ok = append(ok, t)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].Reward > ok[j].Reward })
	if len(ok) > n {
		ok = ok[:n]
	}
	return ok
}
