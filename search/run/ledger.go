package run

import (
	"cellc/search/queue"
	"cellc/search/trial"
)

// ledger is the controller's exactly-once bookkeeping, kept apart from
// the queue and the strategy so that it is tested without a server: the
// proposals sampled but not yet observed (the checkpoint's Outstanding,
// each with a job or waiting for another proposal's job of the same
// architecture), and the results recorded in results.jsonl, by job ID and
// by architecture. A result observes every proposal of its architecture
// once; a result no outstanding proposal asked for is dropped; a proposal
// whose result was recorded before the controller stopped is observed on
// resume without training again.
type ledger struct {
	ck    *Checkpoint
	rec   map[string]bool // job IDs recorded in results.jsonl
	cache *trial.Cache    // results by architecture hash
}

func newLedger(ck *Checkpoint) *ledger {
	return &ledger{ck: ck, rec: map[string]bool{}, cache: trial.NewCache()}
}

// record notes a result written to results.jsonl.
func (l *ledger) record(r queue.Result) {
	l.rec[r.JobID] = true
	l.cache.Put(r.Hash, trial.Result{Reward: r.Reward, Err: r.Error})
}

// known returns the recorded result of an architecture.
func (l *ledger) known(hash string) (trial.Result, bool) { return l.cache.Get(hash) }

// wanted reports whether an outstanding proposal has job id.
func (l *ledger) wanted(jobID string) bool {
	for _, p := range l.ck.Outstanding {
		if p.JobID == jobID {
			return true
		}
	}
	return false
}

// settle removes and returns every outstanding proposal of hash: the
// one whose job produced the result and the repeats waiting for it.
func (l *ledger) settle(hash string) []Pending {
	var done, keep []Pending
	for _, p := range l.ck.Outstanding {
		if p.Hash == hash {
			done = append(done, p)
		} else {
			keep = append(keep, p)
		}
	}
	l.ck.Outstanding = keep
	return done
}

// recovered removes and returns the outstanding proposals whose result
// was recorded (the controller stopped between recording a result and
// observing it), and gives a job to each waiting repeat whose original
// is gone.
func (l *ledger) recovered() []Pending {
	var done, keep []Pending
	for _, p := range l.ck.Outstanding {
		if _, ok := l.cache.Get(p.Hash); ok && (p.JobID == "" || l.rec[p.JobID]) {
			done = append(done, p)
			continue
		}
		keep = append(keep, p)
	}
	l.ck.Outstanding = keep
	inFlight, _ := l.inFlight()
	for i, p := range l.ck.Outstanding {
		if p.JobID == "" && !inFlight[p.Hash] {
			l.ck.Outstanding[i].JobID = jobID(p.Proposal, p.Hash)
			inFlight[p.Hash] = true
		}
	}
	return done
}

// inFlight returns the architectures with a job outstanding, and how
// many jobs that is.
func (l *ledger) inFlight() (map[string]bool, int) {
	hashes, jobs := map[string]bool{}, 0
	for _, p := range l.ck.Outstanding {
		if p.JobID != "" {
			hashes[p.Hash] = true
			jobs++
		}
	}
	return hashes, jobs
}

// add makes p outstanding. It returns whether p needs a job of its own
// (its JobID is set then): not when a job of the same architecture is
// already in flight, whose result it waits for.
func (l *ledger) add(p Pending, id string) (Pending, bool) {
	inFlight, _ := l.inFlight()
	if !inFlight[p.Hash] {
		p.JobID = id
	}
	l.ck.Outstanding = append(l.ck.Outstanding, p)
	return p, p.JobID != ""
}

// jobs returns the outstanding proposals that have a job.
func (l *ledger) jobs() []Pending {
	var out []Pending
	for _, p := range l.ck.Outstanding {
		if p.JobID != "" {
			out = append(out, p)
		}
	}
	return out
}
