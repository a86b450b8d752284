// Package controller is the NASNet controller (paper A.2): a one-layer
// LSTM that emits an architecture one decision at a time, 2 x 5B softmax
// decisions for the paper's space, with the embedding of each decision
// as the next step's input (a learned "go" embedding first). Weights are
// initialised uniformly in [-InitRange, InitRange].
//
// Each decision kind (input A, input B, op A, op B, combiner) has its own
// softmax head, shared by every block of both cells; the LSTM's state
// tells the blocks apart. Input decisions share one embedding table of
// Inputs+B-1 states, op decisions one of the ops, combiners one of the
// combiners. An input decision of block b may choose only Inputs+b states:
// the head's logits for the others are masked (set to -1e9 in the graph,
// left out of the softmax in plain Go), so they have probability 0.
//
// There are two implementations of the same function:
//
//   - Controller.Sample and Controller.Evaluate: a plain-Go forward pass,
//     used to sample architectures cheaply (about 5 ms per architecture at
//     the paper's 100 units and 50 steps on one core) and to score them.
//   - Trainer: the controller unrolled over all its steps as a gorgonia
//     expression graph for a batch of architectures, with the loss of an
//     Objective (REINFORCE or PPO's clipped surrogate, plus the entropy
//     bonus) and its gradient by gorgonia's symbolic differentiation
//     (gorgonia.Grad), run on a TapeMachine. The graph is built once per
//     batch size (about 1.5 s for the paper's controller and 20
//     architectures) and reused; one gradient then takes about 0.2 s.
//
// The tests check that both give the same log-probabilities and entropies
// (to 1e-9) and that the graph's gradient matches central finite
// differences of the plain-Go loss for every parameter, under both
// objectives, with PPO ratios inside and outside the clip range.
//
// gorgonia notes: gorgonia v0.9.18 needs go4.org/unsafe/assume-no-moving-gc
// at its latest version to start on Go 1.26; its TapeMachine reuses
// memory, so results are copied out with gorgonia.Read while the tape
// runs; inputs are rebound with gorgonia.Let before every run; gorgonia
// panics on some internal errors, which the Trainer recovers and returns
// as errors. Its LogSumExp is not used (it computes log(sum+max)); the
// graph uses LogSoftMax.
//
// Adam is a plain-Go Adam whose moments are exported, so that a search
// can save and restore them exactly.
package controller
