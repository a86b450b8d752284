// Package queue is the durable work queue of an architecture search: the
// controller enqueues jobs (cell text plus training recipe), workers anywhere
// on the network train them and publish results, and the controller consumes
// the results and appends them to results.jsonl.
//
// The queue is NATS JetStream. [StartEmbedded] runs a nats-server in-process
// with its file store inside the search directory; [Connect] reaches it, or an
// external server or cluster (credentials file and TLS supported).
//
// For a search ID s, [Setup] creates (idempotently):
//
//   - stream CELLC_s_JOBS on subject cellc.s.jobs, work-queue retention, file
//     storage: a job leaves the stream when it is acked or terminated;
//   - durable pull consumer "workers" on it, explicit ack, AckWait from
//     [Config];
//   - stream CELLC_s_RESULTS on subject cellc.s.results, limits retention,
//     file storage: the permanent record of every result;
//   - durable pull consumer "controller" on it, so results published while
//     the controller is down are delivered when it comes back.
//
// # Life of a job
//
// [Publisher.Enqueue] publishes a [Job] with Nats-Msg-Id set to the job ID,
// so enqueueing the same job twice within the duplicate window stores it once.
// [RunWorker] pulls one message per free slot (never prefetching, so no job
// waits in a buffer while its ack timer runs), runs the job function and sends
// an InProgress heartbeat every AckWait/3 while it runs: a long training run
// is not redelivered while its worker is alive, and a job whose worker dies is
// redelivered AckWait after the last heartbeat. On success the worker
// publishes the [Result] (Nats-Msg-Id = job ID) and then acks the job. On
// error it naks the job with a delay; on the last allowed attempt it instead
// publishes a Failed result carrying the error and terminates the job.
//
// Config.MaxDeliver is enforced by the workers, not by the server: the
// consumer's server-side MaxDeliver is unlimited. A delivery numbered
// MaxDeliver+1 can only mean the previous attempt's worker died (or could not
// report); the worker that receives it does not run the job but publishes a
// Failed result ("no result after N attempts") and terminates it. A server
// limit would instead leave such a job stranded in the work-queue stream
// with nobody to record its failure.
//
// A result is recorded once: the results stream drops a second publish with
// the same Nats-Msg-Id inside its duplicate window, and [ConsumeResults]
// keeps a set of seen job IDs (seeded from results.jsonl on resume with
// [Seen]) and acks duplicates without passing them on. Malformed messages, on
// either stream, are terminated and logged with the reason.
//
// [AppendResult] and [ReadResults] maintain results.jsonl: one JSON object
// per line, each append fsynced before the result is acked.
//
// The package has no package-level state; every function takes what it needs.
package queue
