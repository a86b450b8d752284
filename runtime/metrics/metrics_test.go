package metrics

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
)

func sampleRecords() []Record {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	var recs []Record
	for e := 1; e <= 12; e++ {
		for s := 1; s <= 4; s++ {
			recs = append(recs, Record{
				Time: t0.Add(time.Duration(e*4+s) * time.Second), Split: Train,
				Epoch: float64(e-1) + float64(s)/4, Step: int64((e-1)*4 + s),
				Loss: 2.3 * math.Exp(-float64(e)/5) * (1 + 0.05*float64(s%2)), Top1: 0.1 * float64(s),
				LR: 0.1 * math.Pow(0.97, float64(e)), ImagesPerSec: 1234.5,
			})
		}
		recs = append(recs, Record{Time: t0, Split: Val, Epoch: float64(e), Step: int64(e * 4), Loss: 1.5, Top1: 1 - math.Exp(-float64(e)/4), Top5: 0.99})
		if e%4 == 0 {
			recs = append(recs, Record{Split: Test, Epoch: float64(e), Step: int64(e * 4), Top1: 0.9 - 0.3*math.Exp(-float64(e)/4)})
		}
	}
	return recs
}

func sameRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("record %d: time %v, want %v", i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		// NaN != NaN: compare the JSON forms.
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(gb, wb) {
			t.Errorf("record %d:\ngot  %s\nwant %s", i, gb, wb)
		}
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	recs := sampleRecords()
	recs = append(recs,
		Record{Split: Train, Epoch: 13, Step: 53, Loss: math.NaN(), Top1: math.Inf(1), LR: math.Inf(-1)},
		Record{Split: "search", Extra: map[string]float64{"reward": 0.71, "aux_loss": math.NaN(), "<&>": 1}},
		Record{},
	)
	w, err := OpenJSONL(path, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:10] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	// Lines are on disk before Close.
	if got, err := ReadJSONL(path); err != nil || len(got) != 10 {
		t.Fatalf("before Close: %d records, %v", len(got), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(recs[0]); err == nil {
		t.Error("Write after Close succeeded")
	}
	w.Close()

	// Append the rest.
	w, err = OpenJSONL(path, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[10:] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, recs)

	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Errorf("%d lines for %d records", len(lines), len(recs))
	}
	if want := `{"split":"train","epoch":13,"step":53,"loss":"NaN","top1":"+Inf","lr":"-Inf"}`; lines[len(recs)-3] != want {
		t.Errorf("non-finite line:\ngot  %s\nwant %s", lines[len(recs)-3], want)
	}
	if want := `{"epoch":0,"step":0}`; lines[len(lines)-1] != want {
		t.Errorf("zero record: got %s, want %s", lines[len(lines)-1], want)
	}
	if !strings.HasPrefix(lines[0], `{"time":"2025-03-01T12:00:05.123456789Z","split":"train","epoch":0.25,"step":1,`) {
		t.Errorf("first line: %s", lines[0])
	}

	// Truncating mode starts afresh.
	w, _ = OpenJSONL(path, false)
	w.Write(recs[0])
	w.Close()
	if got, _ := ReadJSONL(path); len(got) != 1 {
		t.Errorf("after truncate: %d records, want 1", len(got))
	}
}

func TestJSONLBadLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"bad json", "{\"epoch\":1,\"step\":1}\n\n{\"epoch\":2,\"step\"\n{\"epoch\":3}\n", ":3: "},
		{"wrong type", "{\"epoch\":1,\"step\":1}\n{\"epoch\":\"two\"}\n", `:2: "two" is not a number`},
		{"not an object", "[1]\n", ":1: "},
		{"two objects", "{}{}\n", ":1: "},
		{"cut short", "{\"epoch\":1}\n{\"epoch\":2,\"lo", ":2: unexpected end of JSON input (the last line has no newline: a write cut short?)"},
	}
	for _, tc := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".jsonl")
		os.WriteFile(path, []byte(tc.content), 0o644)
		_, err := ReadJSONL(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+tc.want) {
			t.Errorf("%s: error %v, want prefix %q", tc.name, err, path+tc.want)
		}
	}
	if _, err := ReadJSONL(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("missing file: no error")
	}
	// Blank lines and a final line without newline are fine.
	path := filepath.Join(dir, "ok.jsonl")
	os.WriteFile(path, []byte("\n{\"epoch\":1,\"step\":2}\n  \n{\"epoch\":2,\"step\":4}"), 0o644)
	got, err := ReadJSONL(path)
	if err != nil || len(got) != 2 || got[1].Step != 4 {
		t.Errorf("got %v, %v", got, err)
	}
}

// TestJSONLAppendAfterCrash: a line cut short by a crash is dropped when
// the file is reopened for appending.
func TestJSONLAppendAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	long := strings.Repeat("x", 10000) // the partial line spans several read chunks
	os.WriteFile(path, []byte("{\"epoch\":1,\"step\":1}\n{\"epoch\":2,\"split\":\""+long), 0o644)
	w, err := OpenJSONL(path, true)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(Record{Epoch: 2, Step: 2})
	w.Close()
	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Step != 1 || got[1].Step != 2 {
		t.Errorf("got %+v", got)
	}

	// A file that is one partial line ends up empty before the append.
	os.WriteFile(path, []byte(`{"epoch":1,`), 0o644)
	w, _ = OpenJSONL(path, true)
	w.Write(Record{Epoch: 5})
	w.Close()
	if b, _ := os.ReadFile(path); string(b) != "{\"epoch\":5,\"step\":0}\n" {
		t.Errorf("got %q", b)
	}
}

func checkPNG(t *testing.T, path string, wantW, wantH int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("%s: %dx%d, want %dx%d", path, b.Dx(), b.Dy(), wantW, wantH)
	}
	// Not blank: some pixels differ from the corner's.
	bg := img.At(0, 0)
	diff := 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if img.At(x, y) != bg {
				diff++
			}
		}
	}
	if diff < 100 {
		t.Errorf("%s: only %d non-background pixels sampled", path, diff)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestPlotCurves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	recs := sampleRecords()
	recs = append(recs, Record{Split: Train, Epoch: 12.5, Loss: math.NaN()})
	if err := PlotCurves(path, recs, "nasnet-a mobile on cifar-10"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 900, 800)

	// Only training records (the first epoch, before any evaluation), and
	// only one point.
	if err := PlotCurves(path, recs[:4], "early"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 900, 800)
	if err := PlotCurves(path, []Record{{Split: Val, Epoch: 1, Top1: 0.5}}, ""); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 900, 800)

	if err := PlotCurves(path, nil, "x"); err == nil || !strings.Contains(err.Error(), "no records") {
		t.Errorf("no records: %v", err)
	}
	if err := PlotCurves(filepath.Join(dir, "missing", "x.png"), recs, "x"); err == nil {
		t.Error("plot into a missing directory succeeded")
	}
}

func TestPlotSeries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reward.png")
	var a, b []XY
	for i := range 200 {
		a = append(a, XY{float64(i), math.Sin(float64(i) / 20)})
	}
	for i := range 10 {
		b = append(b, XY{float64(i * 20), float64(i) / 10})
	}
	b = append(b, XY{math.NaN(), 1})
	err := PlotSeries(path, "controller reward", "sample", "reward", map[string][]XY{"mean": a, "best": b, "empty": nil})
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 900, 550)
	if err := PlotSeries(path, "t", "x", "y", map[string][]XY{"a": nil}); err == nil {
		t.Error("no points: no error")
	}
}

func TestProgressDisabled(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 3, false)
	p.Epoch(1, 4)
	for s := 1; s <= 4; s++ {
		p.Step(s, 2.5/float64(s), 0.1*float64(s), 1000)
	}
	p.Epoch(2, 4)
	p.Step(1, 1.25, 0.5, 2000)
	p.Finish()
	p.Finish()
	p.Epoch(3, 4) // after Finish: nothing
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^epoch 1/3  4/4 steps  loss 0\.6250  acc 40\.00%  1000\.0 img/s  [0-9.]+[µnm]?s  eta [0-9.]+[µnm]?s$`),
		regexp.MustCompile(`^epoch 2/3  1/4 steps  loss 1\.2500  acc 50\.00%  2000\.0 img/s  [0-9.]+[µnm]?s  eta [0-9.]+[µnm]?s$`),
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i+1, lines[i], re)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape codes in plain output: %q", out)
	}

	// Unknown total, an epoch without steps, and the last epoch (no eta).
	buf.Reset()
	p = NewProgress(&buf, 0, false)
	p.Epoch(7, 10)
	p.Finish()
	if got := buf.String(); !regexp.MustCompile(`^epoch 7  0/10 steps  [0-9.]+[µnm]?s\n$`).MatchString(got) {
		t.Errorf("got %q", got)
	}
	buf.Reset()
	p = NewProgress(&buf, 2, false)
	p.Epoch(2, 1)
	p.Step(1, 1, 1, 1)
	p.Finish()
	if got := buf.String(); strings.Contains(got, "eta") || !strings.HasPrefix(got, "epoch 2/2  1/1 steps") {
		t.Errorf("got %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for mpb's goroutines.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func TestProgressBars(t *testing.T) {
	before := runtime.NumGoroutine()
	out := newSyncBuffer()
	p := newProgress(out, 2, true, mpb.WithWidth(120), mpb.WithRefreshRate(5*time.Millisecond))
	for e := 1; e <= 2; e++ {
		p.Epoch(e, 5)
		for s := 1; s <= 5; s++ {
			p.Step(s, 1/float64(s), 0.2*float64(s), 512)
			time.Sleep(10 * time.Millisecond)
		}
	}
	p.Finish()
	p.Finish()

	got := out.String()
	for _, want := range []string{"epoch 1/2", "loss 0.2500", "acc 80.00%", "512.0 img/s", "ETA", "epoch 1/2  5/5 steps  loss 0.2000  acc 100.00%", "epoch 2/2  5/5 steps"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	// No goroutine outlives Finish.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Finish, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestProgressInterrupted(t *testing.T) {
	before := runtime.NumGoroutine()
	out := newSyncBuffer()
	p := NewProgress(out, 10, true)
	p.Epoch(1, 1000)
	p.Step(3, 2, 0.1, 10)
	p.Finish() // mid-epoch: the bar is dropped, the summary still written
	if got := out.String(); !strings.Contains(got, "epoch 1/10  3/1000 steps  loss 2.0000") {
		t.Errorf("got %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Finish, %d before", n, before)
	}
}

func TestRecordJSON(t *testing.T) {
	r := Record{Split: Val, Epoch: 2, Step: 10, Top1: 0.5, Extra: map[string]float64{"x": math.Inf(1)}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"split":"val","epoch":2,"step":10,"top1":0.5,"extra":{"x":"+Inf"}}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("got %+v, want %+v", back, r)
	}
	for _, s := range []string{`{"loss":"Infinity"}`, `{"loss":null}`, `{"loss":"-Infinity","future_field":[1]}`} {
		if err := json.Unmarshal([]byte(s), &back); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
