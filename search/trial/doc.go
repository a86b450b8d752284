// Package trial is what happens to each sampled architecture: it is
// printed as canonical .cell text (space.CellText, network name
// NetworkName), hashed (space.Hash) and compiled with compiler.Build under
// the child recipe's configuration (Compiler). One that fails to compile,
// or whose evaluation fails, gets the search's invalid reward and is
// recorded with its error; it is observed by the strategy like any other,
// never dropped. Identical architectures (same text, same hash) are
// evaluated once: a Cache keyed by hash hands later copies the first
// result (Trial.Cached), and it marshals to JSON for resumed searches.
//
// Run is the loop on one machine: propose a batch, compile, look up or
// evaluate, observe, until Count trials. A distributed search does the
// same with a work queue between Compile and the Evaluator, and may use
// Compiler, Cache and Best directly.
package trial
