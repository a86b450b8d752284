package run

import (
	"testing"

	"cellc/search/queue"
	"cellc/search/strategy"
)

func pend(seq int, hash string) Pending {
	return Pending{Proposal: strategy.Proposal{Seq: seq}, Hash: hash}
}

// TestLedgerRepeatsWaitForOneJob: a repeat of an architecture in flight
// gets no job and is settled by the first one's result, with it.
func TestLedgerRepeatsWaitForOneJob(t *testing.T) {
	l := newLedger(&Checkpoint{})
	a, job := l.add(pend(0, "aa"), "p000000-aa")
	if !job || a.JobID != "p000000-aa" {
		t.Fatalf("first proposal of aa: %+v, job %v", a, job)
	}
	if _, job := l.add(pend(1, "bb"), "p000001-bb"); !job {
		t.Fatal("bb got no job")
	}
	if p, job := l.add(pend(2, "aa"), "p000002-aa"); job || p.JobID != "" {
		t.Fatalf("a repeat of aa in flight got a job: %+v", p)
	}
	if _, n := l.inFlight(); n != 2 {
		t.Errorf("%d jobs in flight, want 2", n)
	}
	if !l.wanted("p000000-aa") || l.wanted("p000002-aa") || l.wanted("p999999-zz") {
		t.Error("wanted: only the jobs handed out")
	}
	done := l.settle("aa")
	if len(done) != 2 || done[0].Seq != 0 || done[1].Seq != 2 {
		t.Errorf("settled %+v, want proposals 0 and 2", done)
	}
	if len(l.ck.Outstanding) != 1 || l.ck.Outstanding[0].Hash != "bb" {
		t.Errorf("outstanding %+v, want bb alone", l.ck.Outstanding)
	}
	if l.wanted("p000000-aa") {
		t.Error("a settled job is still wanted: its result would be observed twice")
	}
}

// TestLedgerRecovery: after a stop between recording a result and
// observing it, the recorded proposals (and repeats of the architecture)
// are observed without training again; a repeat whose original job is
// gone gets a job of its own.
func TestLedgerRecovery(t *testing.T) {
	ck := &Checkpoint{Outstanding: []Pending{
		{Proposal: strategy.Proposal{Seq: 0}, Hash: "aa", JobID: "p000000-aa"},
		{Proposal: strategy.Proposal{Seq: 1}, Hash: "aa"},                      // waits for 0
		{Proposal: strategy.Proposal{Seq: 2}, Hash: "bb", JobID: "p000002-bb"}, // still training
		{Proposal: strategy.Proposal{Seq: 3}, Hash: "cc"},                      // its original is gone
	}}
	l := newLedger(ck)
	l.record(queue.Result{JobID: "p000000-aa", Hash: "aa", Reward: 0.5})
	done := l.recovered()
	if len(done) != 2 || done[0].Seq != 0 || done[1].Seq != 1 {
		t.Fatalf("recovered %+v, want proposals 0 and 1", done)
	}
	if r, ok := l.known("aa"); !ok || r.Reward != 0.5 {
		t.Errorf("known aa: %+v %v", r, ok)
	}
	jobs := l.jobs()
	if len(jobs) != 2 || jobs[0].JobID != "p000002-bb" || jobs[1].JobID != "p000003-cc" {
		t.Errorf("jobs after recovery %+v, want bb's and a new one for cc", jobs)
	}
	// Recovering again finds nothing more: nothing is observed twice.
	if again := l.recovered(); len(again) != 0 {
		t.Errorf("second recovery observed %+v", again)
	}
}
