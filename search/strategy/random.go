package strategy

// random is uniform random search (paper section 2): every decision drawn
// uniformly over its valid values. It learns nothing.
type random struct {
	base
}

func (r *random) Propose(n int) ([]Proposal, error) {
	if err := checkCount(n); err != nil {
		return nil, err
	}
	ps := make([]Proposal, n)
	for i := range ps {
		ps[i] = Proposal{Seq: r.proposed, Arch: r.uniform()}
		r.proposed++
	}
	return ps, nil
}

func (r *random) Observe(obs []Observation) error {
	if err := r.check(obs); err != nil {
		return err
	}
	r.observed += len(obs)
	return nil
}

func (r *random) State() ([]byte, error) { return r.save(&state{}) }

func (r *random) Restore(data []byte) error {
	s, pcg, err := r.load(data)
	if err != nil {
		return err
	}
	r.commit(s, pcg)
	return nil
}

func (r *random) Stats() Stats { return Stats{Proposed: r.proposed, Observed: r.observed} }
