// Package strategy holds the search strategies behind one interface:
//
//	type Strategy interface {
//		Name() string
//		Propose(n int) ([]Proposal, error)
//		Observe(results []Observation) error
//		State() ([]byte, error)
//		Restore(state []byte) error
//		Stats() Stats
//	}
//
// New(space, config) makes one of
//
//   - ppo: the NASNet paper's controller (package controller) trained with
//     PPO's clipped objective: Adam at lr 0.00035, entropy bonus weight
//     0.00001, a baseline that is an exponential moving average of the
//     rewards with weight 0.95, an update per minibatch of 20
//     architectures (config.Epochs Adam steps on it, ratio clipped to
//     [1-Clip, 1+Clip]);
//   - reinforce: the same controller trained with REINFORCE and the same
//     baseline, one Adam step per minibatch (the original NAS);
//   - random: every decision uniform over its valid values;
//   - evolution: regularized (aging) evolution, AmoebaNet's: population
//     P, tournaments of S, children that differ from their parent in one
//     decision, the oldest member dying.
//
// A Proposal carries its architecture and what the strategy needs to
// learn from it (the log-probability under the sampling controller, for
// PPO's ratio); an Observation is the proposal with its reward and, for
// an architecture that did not compile or train, its error and the
// search's invalid reward. Proposals and observations are plain JSON
// values, so they can cross a work queue; Propose and Observe may
// interleave in any order (asynchronous workers), and a strategy learns
// from observations in the order they arrive.
//
// State serialises everything (controller weights, Adam moments, baseline,
// observations waiting for a full minibatch, population, the random
// number generator's state, counters) as JSON, floats bit-exact; Restore
// on a strategy made by New for the same space continues exactly as the
// saved one would have, which the tests check for every strategy. A state
// saved for another strategy, space or controller size is refused, and a
// failed Restore changes nothing.
package strategy
