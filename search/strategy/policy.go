package strategy

import (
	"fmt"

	"cellc/search/controller"
	"cellc/search/space"
)

// policy is a controller trained by policy gradient: PPO (the NASNet
// paper, A.2) or REINFORCE (the original NAS). Proposals are sampled from
// the controller with a plain-Go forward pass and carry their
// log-probability. Observations are buffered until a minibatch is full;
// then the advantages are computed against the baseline (an exponential
// moving average of the rewards, started at the first minibatch's mean
// reward and updated with every reward after the advantages are taken),
// and the controller takes Adam steps on the gorgonia training graph: one
// for REINFORCE, cfg.Epochs for PPO, whose clipped objective uses each
// proposal's log-probability at sampling time as pi_old.
type policy struct {
	base
	obj      controller.Objective
	ctrl     *controller.Controller
	adam     *controller.Adam
	trainer  *controller.Trainer // built at the first update
	grad     []float64
	baseline float64
	haveBase bool
	pending  []Observation
	loss     float64
	entropy  float64
}

func newPolicy(b base) (*policy, error) {
	p := &policy{base: b, obj: controller.REINFORCE}
	if b.cfg.Name == space.PPO {
		p.obj = controller.PPO
	}
	ctrl, err := controller.New(controller.Steps(b.ds), controller.Config{Units: b.cfg.LSTMUnits, InitRange: b.cfg.InitRange}, b.rng)
	if err != nil {
		return nil, fmt.Errorf("strategy: %v", err)
	}
	p.ctrl = ctrl
	p.adam = controller.NewAdam(len(ctrl.Params()), b.cfg.LR)
	p.grad = make([]float64, len(ctrl.Params()))
	return p, nil
}

// Controller is the policy's controller, for inspection.
func (p *policy) Controller() *controller.Controller { return p.ctrl }

func (p *policy) Propose(n int) ([]Proposal, error) {
	if err := checkCount(n); err != nil {
		return nil, err
	}
	ps := make([]Proposal, n)
	for i := range ps {
		tr := p.ctrl.Sample(p.rng)
		ps[i] = Proposal{Seq: p.proposed, Arch: tr.Arch, LogProb: tr.LogProb}
		p.proposed++
	}
	return ps, nil
}

func (p *policy) Observe(obs []Observation) error {
	if err := p.check(obs); err != nil {
		return err
	}
	for _, o := range obs {
		o.Arch = o.Arch.Clone()
		p.pending = append(p.pending, o)
	}
	p.observed += len(obs)
	for mb := p.cfg.Minibatch; len(p.pending) >= mb; {
		if err := p.update(p.pending[:mb]); err != nil {
			return err
		}
		p.pending = append(p.pending[:0:0], p.pending[mb:]...)
	}
	return nil
}

// update learns from one minibatch.
func (p *policy) update(batch []Observation) error {
	if !p.haveBase {
		sum := 0.0
		for _, o := range batch {
			sum += o.Reward
		}
		p.baseline, p.haveBase = sum/float64(len(batch)), true
	}
	b := controller.Batch{}
	for _, o := range batch {
		b.Archs = append(b.Archs, o.Arch)
		b.Advantages = append(b.Advantages, o.Reward-p.baseline)
		b.OldLogProb = append(b.OldLogProb, o.LogProb)
	}
	for _, o := range batch {
		p.baseline = p.cfg.BaselineDecay*p.baseline + (1-p.cfg.BaselineDecay)*o.Reward
	}
	if p.trainer == nil {
		t, err := p.ctrl.NewTrainer(len(batch), controller.Loss{Objective: p.obj, Clip: p.cfg.Clip, EntropyWeight: p.cfg.EntropyWeight})
		if err != nil {
			return fmt.Errorf("strategy: %v", err)
		}
		p.trainer = t
	}
	steps := 1
	if p.obj == controller.PPO {
		steps = p.cfg.Epochs
	}
	for range steps {
		res, err := p.trainer.Gradient(b, p.grad)
		if err != nil {
			return fmt.Errorf("strategy: %v", err)
		}
		p.adam.Step(p.ctrl.Params(), p.grad)
		p.loss, p.entropy = res.Loss, mean(res.Entropy)
	}
	p.updates++
	return nil
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(max(len(xs), 1))
}

func (p *policy) State() ([]byte, error) {
	return p.save(&state{
		Units: p.ctrl.Units(), Params: p.ctrl.Params(),
		AdamM: p.adam.M, AdamV: p.adam.V, AdamT: p.adam.T,
		Baseline: p.baseline, HaveBaseline: p.haveBase,
		Pending: p.pending, Loss: p.loss, Entropy: p.entropy,
	})
}

func (p *policy) Restore(data []byte) error {
	s, pcg, err := p.load(data)
	if err != nil {
		return err
	}
	n := len(p.ctrl.Params())
	if s.Units != p.ctrl.Units() || len(s.Params) != n || len(s.AdamM) != n || len(s.AdamV) != n || s.AdamT < 0 {
		return fmt.Errorf("strategy: the state's controller (%d units, %d parameters) does not match this one (%d units, %d parameters)",
			s.Units, len(s.Params), p.ctrl.Units(), n)
	}
	p.commit(s, pcg)
	if err := p.ctrl.SetParams(s.Params); err != nil {
		return err
	}
	copy(p.adam.M, s.AdamM)
	copy(p.adam.V, s.AdamV)
	p.adam.T = s.AdamT
	p.baseline, p.haveBase = s.Baseline, s.HaveBaseline
	p.pending = s.Pending
	p.loss, p.entropy = s.Loss, s.Entropy
	return nil
}

func (p *policy) Stats() Stats {
	return Stats{Proposed: p.proposed, Observed: p.observed, Updates: p.updates, Pending: len(p.pending),
		Baseline: p.baseline, Loss: p.loss, Entropy: p.entropy}
}
