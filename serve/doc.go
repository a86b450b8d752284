// Package serve is cellc's live web view of search directories and
// training output directories: `cellc serve DIR…`, and `--ui ADDR` on
// `cellc search` and `cellc train`. It only reads; nothing on the page
// changes a search or a run.
//
// # What it reads
//
// A search directory (package search/run): space.yaml (the strategy and
// the number of architectures), controller.json (the counters, the jobs
// in flight, the strategy's baseline and entropy), results.jsonl (one
// queue.Result per trained architecture), workers.json (each worker's
// last heartbeat and the jobs it is training, which the controller keeps
// from the workers' reports), retrain.jsonl and ranking.txt (the final
// retraining). A training directory (`cellc train --out`):
// metrics.jsonl (one metrics.Record per split and epoch) and the header
// of checkpoint.safetensors, whose metadata holds the .cell source and
// the build configuration. A directory that is neither but holds such
// directories one level down is served as those (`cellc serve runs`).
//
// # How it stays current
//
// Nothing runs while nobody looks. A request, and every open event
// stream every half second, stats the files of the runs it needs and
// reads only what changed: results.jsonl and metrics.jsonl are tailed
// from the end of their last complete line, so the half-written line of
// an append in progress is left for the next look instead of being
// reported, and a file of tens of thousands of results is parsed once.
// A complete line that is not a valid record is skipped and listed on
// the page with its line number; a controller.json that does not parse
// is reported and the results are still shown. Each run has a version
// that changes when anything it shows changes; the event stream sends
// it, and the page fetches only what changed (no page reload). Tables
// are paged and charts are downsampled here, so the page stays light
// whatever the size of the search.
//
// # Endpoints
//
// All are GET (or HEAD); any other method is refused with 405.
//
//	/                              the page (static/index.html)
//	/static/NAME                   its script and style sheet
//	/api/runs                      the runs: id, name, kind, version, message
//	/api/runs/ID                   a run's summary (search: progress, workers,
//	                               jobs in flight, failures, controller,
//	                               retraining; training: curves, configuration)
//	/api/runs/ID/results           the top-k table, paged: ?page=0&size=20&sort=reward&order=desc
//	/api/runs/ID/curve             Figure 6, downsampled: ?points=500
//	/api/runs/ID/failures          failed architectures, newest first, paged
//	/api/runs/ID/cells/HASH        an architecture: its .cell text and result
//	/api/runs/ID/cells/HASH/svg    its drawing (cellc draw's, as SVG)
//	/api/runs/ID/files/NAME        a file of the run, by its fixed name
//	/api/events                    server-sent events: a run's new version
//
// Errors are JSON objects {"error": "…"} with a 4xx status, or 503 when
// a drawing cannot be made (Graphviz missing): never a stack trace.
//
// # Safety
//
// Files are opened through an os.Root of their run's directory and only
// by names fixed in this package (the files/NAME endpoint takes a name
// from a short list), so nothing a request says can reach outside the
// served directories; a path with a "." or ".." segment, even encoded,
// gets 404 before routing. On a loopback address a request whose Host
// is not a loopback name is refused, so a web page elsewhere cannot
// rebind its own host name to 127.0.0.1 and read the view. On any other
// address every API request needs the token that Start makes and
// prints, as "Authorization: Bearer TOKEN", the header X-Cellc-Token or
// the query parameter token; the page and its script hold no data and
// load without it.
package serve
