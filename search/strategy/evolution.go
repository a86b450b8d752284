package strategy

import "cellc/search/space"

// evolution is regularized (aging) evolution, AmoebaNet's (Real et al.
// 2019, Algorithm 1), in the same space: the first P proposals are
// uniform random; after that each proposal is a mutation of a tournament
// winner, the best of S members drawn (with replacement) from the
// population. Every observation joins the population and the oldest
// member leaves once there are more than P, so a member's age is the
// order in which its result arrived. A mutation changes one decision,
// drawn uniformly among those with more than one value, to a different
// valid value.
//
// With asynchronous workers a proposal is bred from the population as it
// is when the proposal is made; until the first result arrives, proposals
// past the first P are random too.
type evolution struct {
	base
	population []Observation // oldest first
}

func (e *evolution) Propose(n int) ([]Proposal, error) {
	if err := checkCount(n); err != nil {
		return nil, err
	}
	ps := make([]Proposal, n)
	for i := range ps {
		var a space.Arch
		if e.proposed < e.cfg.Population || len(e.population) == 0 {
			a = e.uniform()
		} else {
			a = e.mutate(e.tournament())
			e.updates++
		}
		ps[i] = Proposal{Seq: e.proposed, Arch: a}
		e.proposed++
	}
	return ps, nil
}

// tournament returns the best of S members drawn with replacement; the
// first drawn wins ties.
func (e *evolution) tournament() space.Arch {
	best := -1
	for range e.cfg.Sample {
		i := e.rng.IntN(len(e.population))
		if best < 0 || e.population[i].Reward > e.population[best].Reward {
			best = i
		}
	}
	return e.population[best].Arch
}

// mutate changes one decision of a copy of parent.
func (e *evolution) mutate(parent space.Arch) space.Arch {
	child := parent.Clone()
	var free []int
	for i, d := range e.ds {
		if d.Choices > 1 {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return child // a space of one architecture
	}
	i := free[e.rng.IntN(len(free))]
	v := e.rng.IntN(e.ds[i].Choices - 1)
	if v >= child[i] {
		v++ // skip the current value
	}
	child[i] = v
	return child
}

func (e *evolution) Observe(obs []Observation) error {
	if err := e.check(obs); err != nil {
		return err
	}
	for _, o := range obs {
		o.Arch = o.Arch.Clone()
		e.population = append(e.population, o)
		if len(e.population) > e.cfg.Population {
			e.population = append(e.population[:0:0], e.population[1:]...)
		}
	}
	e.observed += len(obs)
	return nil
}

func (e *evolution) State() ([]byte, error) {
	return e.save(&state{Population: e.population})
}

func (e *evolution) Restore(data []byte) error {
	s, pcg, err := e.load(data)
	if err != nil {
		return err
	}
	e.commit(s, pcg)
	e.population = s.Population
	if extra := len(e.population) - e.cfg.Population; extra > 0 {
		e.population = e.population[extra:] // a smaller P than when saved
	}
	return nil
}

func (e *evolution) Stats() Stats {
	return Stats{Proposed: e.proposed, Observed: e.observed, Updates: e.updates}
}
