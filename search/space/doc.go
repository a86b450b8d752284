// Package space is the architecture search's search space: the cells a
// controller may sample (the paper's section 2), how each sample is
// printed as a .cell file, and the rest of a search-space file: the
// child-training recipe, the strategy's configuration and the budget.
//
// # Search-space files
//
// LoadSpace reads a YAML file (specs/search/nasnet.yaml is the paper's
// search with every field shown; small.yaml and tiny.yaml fit a 2-core
// machine) over DefaultSpace, so a file gives only what it changes.
// Unknown keys are errors ("nasnet.yaml:12: unknown key "bloks"; did you
// mean "blocks"?"), as are unknown operations, combiners, data sets and
// strategies.
//
//	ops: [identity, conv1x3_3x1, ..., sep7x7]  # stdlib/ops.cell names
//	blocks: 5                                  # B
//	combiners: [add, concat]
//	inputs: 2                                  # h_i, h_i-1
//	separate_reduction: true                   # 2 x 5B decisions
//	child: {dataset: cifar10, n: 2, epochs: 20, ...}       # Recipe
//	strategy: {name: ppo, lr: 0.00035, minibatch: 20, ...} # StrategyConfig
//	architectures: 20000
//	invalid_reward: 0
//	retrain: {top: 250, epochs: 600, ...}      # Retrain: Top and a Recipe
//
// The paper's 13 operations map to the standard library as PaperOps lists
// them: identity, conv1x3_3x1, conv1x7_7x1, dil3x3, avg3x3, max3x3,
// max5x5, max7x7, conv1x1, conv3x3, sep3x3, sep5x5, sep7x7.
//
// # Architectures
//
// An Arch is one value per Decision, in the order Decisions lists them:
// per block input A, input B, op A, op B, combiner; blocks in order; the
// normal cell, then the reduction cell. The inputs of block b range over
// Inputs+b states (h_i, h_i-1, then b0 .. b(b-1)), so Decision.Choices
// grows along the cell and a controller masks its softmax accordingly;
// ops index Ops, combiners index Combiners. Check validates an Arch.
//
// CellText prints an Arch as a complete .cell file (a normal cell, a
// reduction cell and a network) in canonical form: the text goes through
// lang.Parse and lang.Format. Blocks leave out "out:", so each cell
// outputs the concatenation of its unused blocks, the paper's rule; a
// concat block is 2F wide and the compiler sizes what reads it. The text
// is the architecture's identity: Hash(text) keys the search's cache of
// results, so a search uses one network name for all its samples.
//
// Recipe.CompilerConfig and Recipe.TrainRecipe turn a child recipe into
// the compiler's and the runtime's configurations.
package space
