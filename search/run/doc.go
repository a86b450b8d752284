// Package run is an architecture search end to end: the controller loop
// that proposes architectures, queues them on NATS JetStream (package
// queue), consumes the results, feeds them to the strategy and checkpoints
// after every update; the job function that trains one child; the final
// retraining of the best architectures; and the reports (status table,
// best cell, the paper's Figure 6).
//
// # The search directory
//
//	space.yaml       the search space used (a resumed search needs no flags)
//	controller.json  the strategy's State, counters and outstanding
//	                 proposals, replaced atomically after every update
//	results.jsonl    one queue.Result per architecture evaluated
//	jetstream/       the embedded NATS server's file store
//	nats.url         the embedded server's client URL, for remote workers
//	retrain.jsonl    results of the final retraining
//	ranking.txt      the retrained architectures, best first
//	best.cell        the best architecture
//
// # Exactly once
//
// A proposal becomes a job whose ID is "p<seq>-<hash>". The checkpoint
// lists every outstanding proposal before its job is enqueued, so a
// crash never loses one: resume re-enqueues those without a result (the
// jobs stream drops repeats of an ID within its duplicate window, and the
// results consumer drops a second result for an ID already recorded). A
// result is appended to results.jsonl (fsynced) before the strategy
// observes it and the checkpoint is written; if the controller dies in
// between, resume finds the result in results.jsonl with its proposal
// still outstanding and observes it then. So every architecture appears
// in results.jsonl once and the strategy observes every proposal once.
//
// Identical architectures (same canonical .cell text, same hash) are
// trained once: a later copy is not enqueued but observed with the
// recorded reward, or, while the first copy is in flight, waits for its
// result. An architecture that does not compile is recorded at once with
// its error and the space's invalid reward; one whose training diverges
// is recorded by its worker as failed and given the invalid reward.
package run
