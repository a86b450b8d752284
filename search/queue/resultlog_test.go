package queue

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleResult(id string) Result {
	return Result{JobID: id, Hash: "h-" + id, CellText: "cell c { x = conv3x3(in) }", Reward: 0.7, Accuracy: 0.93,
		Params: 3_300_000, MultAdds: 564_000_000, TrainSeconds: 120.5, Worker: "gpu1-123", Attempts: 1}
}

func TestResultsFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if rs, err := ReadResults(path, nil); err != nil || len(rs) != 0 {
		t.Fatalf("missing file: %v, %v; want no results, no error", rs, err)
	}
	want := []Result{sampleResult("a"), sampleResult("b"), {JobID: "c", Hash: "h", CellText: "x", Worker: "w", Attempts: 3, Failed: true, Error: "boom"}}
	for _, r := range want {
		if err := AppendResult(path, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadResults(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d results, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 3 {
		t.Errorf("file has %d lines, want 3", n)
	}
	if err := AppendResult(path, Result{JobID: "bad"}); err == nil {
		t.Error("AppendResult accepted an invalid result")
	}
}

func TestResultsFileTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := AppendResult(path, sampleResult("a")); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of the second append.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"job_id":"b","hash":"h-b","ce`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	log, lb := newLog(t)
	got, err := ReadResults(path, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].JobID != "a" {
		t.Errorf("read %+v, want only a", got)
	}
	if !strings.Contains(lb.String(), "ignoring partial last line") || !strings.Contains(lb.String(), "line=2") {
		t.Errorf("no warning for the partial line 2:\n%s", lb)
	}
	// The next append replaces the torn line.
	if err := AppendResult(path, sampleResult("b")); err != nil {
		t.Fatal(err)
	}
	got, err = ReadResults(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].JobID != "a" || got[1].JobID != "b" {
		t.Errorf("after repair read %+v, want a, b", got)
	}
}

func TestResultsFileBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := AppendResult(path, sampleResult("a")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n{\"job_id\":\"b\"}\n")
	f.Close()
	if err := AppendResult(path, sampleResult("c")); err != nil {
		t.Fatal(err)
	}
	_, err = ReadResults(path, nil)
	if err == nil || !strings.Contains(err.Error(), "results.jsonl:3: result b: missing hash") {
		t.Errorf("err = %v, want results.jsonl:3: result b: missing hash", err)
	}
}

func TestValidate(t *testing.T) {
	ok := sampleResult("a")
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid result: %v", err)
	}
	for name, c := range map[string]struct {
		mut  func(*Result)
		want string
	}{
		"no id":             {func(r *Result) { r.JobID = "" }, "missing job_id"},
		"space in id":       {func(r *Result) { r.JobID = "a b" }, "not allowed"},
		"no hash":           {func(r *Result) { r.Hash = "" }, "missing hash"},
		"no cell":           {func(r *Result) { r.CellText = " " }, "missing cell"},
		"no worker":         {func(r *Result) { r.Worker = "" }, "missing worker"},
		"no attempts":       {func(r *Result) { r.Attempts = 0 }, "attempts 0"},
		"accuracy":          {func(r *Result) { r.Accuracy = 1.5 }, "outside [0, 1]"},
		"params":            {func(r *Result) { r.Params = 0 }, "params 0"},
		"mult-adds":         {func(r *Result) { r.MultAdds = -1 }, "mult_adds -1"},
		"time":              {func(r *Result) { r.TrainSeconds = -1 }, "train_seconds -1"},
		"error, not failed": {func(r *Result) { r.Error = "x" }, "not marked failed"},
		"failed, no error":  {func(r *Result) { r.Failed = true }, "failed without an error"},
	} {
		r := ok
		c.mut(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
	j := testJob(1)
	if err := j.Validate(); err != nil {
		t.Fatalf("valid job: %v", err)
	}
	j.Recipe = []byte("{")
	if err := j.Validate(); err == nil {
		t.Error("job with invalid recipe JSON accepted")
	}
}
