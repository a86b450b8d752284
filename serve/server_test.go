package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cellc/runtime/checkpoint"
	"cellc/search/queue"
	searchrun "cellc/search/run"
)

// The fixtures: testdata/serve/search is a finished tiny search (9
// architectures, one failed, two retrained) written by cellc search and
// edited to have two workers and a failure; testdata/serve/train is the
// metrics.jsonl of a 3-epoch cellc train run.
const (
	fixtureSearch = "../testdata/serve/search"
	fixtureTrain  = "../testdata/serve/train"
)

// copyDir copies a fixture so that a test may change it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// trainDir is the training fixture with a checkpoint whose header holds
// the run's configuration (made here: testdata keeps no binaries).
func trainDir(t *testing.T) string {
	t.Helper()
	dir := copyDir(t, fixtureTrain)
	meta := map[string]string{
		checkpoint.KeyNetwork: "nasnet_a",
		checkpoint.KeyConfig:  "n: 1\nbase_filters: 4\nimage_size: 32\n",
		checkpoint.KeySpec:    "network nasnet_a {\n  normal: n\n  reduction: r\n}\n",
		"cellc.classes":       `["a","b"]`,
	}
	if err := checkpoint.Save(filepath.Join(dir, checkpointFile), []checkpoint.Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}, meta); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// get serves one request in-process; target is used as written, so
// paths are not cleaned on the way.
func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if len(header) == 1 {
		req.Host = header[0]
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func getJSON(t *testing.T, h http.Handler, target string, v any) {
	t.Helper()
	w := get(t, h, target)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v in %s", target, err, w.Body)
	}
}

type runsBody struct {
	Runs []runInfo `json:"runs"`
}

type summaryBody struct {
	Run    runInfo `json:"run"`
	Search *struct {
		Progress   progressInfo `json:"progress"`
		Controller struct {
			Strategy string  `json:"strategy"`
			Applies  bool    `json:"applies"`
			Updates  int     `json:"updates"`
			Baseline float64 `json:"baseline"`
		} `json:"controller"`
		Workers  []workerInfo `json:"workers"`
		InFlight []jobInfo    `json:"in_flight"`
		Failures struct {
			Total int           `json:"total"`
			Rows  []failureInfo `json:"rows"`
		} `json:"failures"`
		Retrain []struct {
			Rank   int      `json:"rank"`
			Hash   string   `json:"hash"`
			Val    float64  `json:"validation"`
			Test   *float64 `json:"test"`
			Search *float64 `json:"search_reward"`
		} `json:"retrain"`
		Ranking  string   `json:"ranking"`
		State    string   `json:"state"`
		Files    []string `json:"files"`
		Problems []string `json:"problems"`
	} `json:"search"`
	Train *struct {
		Network string            `json:"network"`
		Config  string            `json:"config"`
		Meta    map[string]string `json:"meta"`
		Val     *struct {
			Top1 *float64 `json:"top1"`
		} `json:"val"`
		Charts []struct {
			Name  string                   `json:"name"`
			Lines map[string][][2]*float64 `json:"lines"`
		} `json:"charts"`
		Problems []string `json:"problems"`
	} `json:"train"`
}

func TestRunsAndSummaries(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Options{Dirs: []string{fixtureSearch, trainDir(t), empty, filepath.Join(root, "later")}})
	var runs runsBody
	getJSON(t, s, "/api/runs", &runs)
	kinds := map[string]string{}
	for _, r := range runs.Runs {
		kinds[r.ID] = r.Kind
	}
	want := map[string]string{"search": kindSearch, "train": kindTrain, "empty": kindEmpty, "later": kindMissing}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("runs %v, want %v", kinds, want)
	}

	var sum summaryBody
	getJSON(t, s, "/api/runs/search", &sum)
	ss := sum.Search
	if ss == nil {
		t.Fatalf("no search summary")
	}
	p := ss.Progress
	if p.Count != 9 || p.Observed != 9 || p.Results != 9 || p.Trained != 8 || p.Failed != 1 || p.InFlight != 0 || !p.Done {
		t.Errorf("progress %+v", p)
	}
	if p.Best == nil || float64(*p.Best) != 0.171875 {
		t.Errorf("best %v, want 0.171875", p.Best)
	}
	if ss.State != "done" || ss.Controller.Strategy != "ppo" || !ss.Controller.Applies || ss.Controller.Updates != 2 {
		t.Errorf("state %q, controller %+v", ss.State, ss.Controller)
	}
	if len(ss.Workers) != 2 || ss.Workers[0].Name != "host-b" || ss.Workers[0].Jobs != 4 || ss.Workers[0].Failed != 1 {
		t.Errorf("workers %+v", ss.Workers)
	}
	// Heartbeats from workers.json: host-b stopped, host-a-local
	// training a job.
	if len(ss.Workers) == 2 {
		b, a := ss.Workers[0], ss.Workers[1]
		if b.Heartbeat == nil || !b.Stopped || len(b.Training) != 0 || b.Slots != 1 {
			t.Errorf("host-b heartbeat %+v", b)
		}
		if a.Heartbeat == nil || a.Stopped || len(a.Training) != 1 || a.Training[0].JobID != "p000008-2b0c3a1f9e8d7c6b" || a.Training[0].Attempt != 1 || a.Slots != 2 {
			t.Errorf("host-a-local heartbeat %+v", a)
		}
	}
	if ss.Failures.Total != 1 || !strings.Contains(ss.Failures.Rows[0].Error, "loss is NaN") || ss.Failures.Rows[0].Attempts != 3 {
		t.Errorf("failures %+v", ss.Failures)
	}
	if len(ss.Retrain) != 2 || ss.Retrain[0].Hash != "07a90770d20c28e1" || ss.Retrain[0].Test == nil || ss.Retrain[1].Test != nil || ss.Retrain[0].Search == nil {
		t.Errorf("retrain %+v", ss.Retrain)
	}
	if !strings.HasPrefix(ss.Ranking, "rank  hash") || len(ss.Problems) != 0 {
		t.Errorf("ranking %q, problems %q", ss.Ranking, ss.Problems)
	}
	if strings.Join(ss.Files, ",") != "best.cell,ranking.txt,results.jsonl,retrain.jsonl,space.yaml" {
		t.Errorf("files %v", ss.Files)
	}

	sum = summaryBody{}
	getJSON(t, s, "/api/runs/train", &sum)
	tr := sum.Train
	if tr == nil || tr.Network != "nasnet_a" || !strings.Contains(tr.Config, "base_filters: 4") || tr.Meta["cellc.classes"] == "" {
		t.Fatalf("train summary %+v", tr)
	}
	if tr.Val == nil || tr.Val.Top1 == nil || *tr.Val.Top1 != 0.2421875 {
		t.Errorf("last validation %+v", tr.Val)
	}
	lines := map[string]int{}
	for _, c := range tr.Charts {
		for split, pts := range c.Lines {
			lines[c.Name+"/"+split] = len(pts)
		}
	}
	for _, k := range []string{"loss/train", "loss/val", "top1/train", "top1/val", "top5/val", "lr/train", "images_per_sec/train"} {
		if lines[k] != 3 {
			t.Errorf("chart line %s has %d points, want 3 (all: %v)", k, lines[k], lines)
		}
	}
	if lines["top5/train"] != 0 {
		t.Errorf("top5/train drawn although training records have no top-5")
	}

	for _, id := range []string{"empty", "later"} {
		sum = summaryBody{}
		getJSON(t, s, "/api/runs/"+id, &sum)
		if sum.Search != nil || sum.Train != nil || !strings.Contains(sum.Run.Message, "waiting") {
			t.Errorf("%s: %+v", id, sum.Run)
		}
	}
	if w := get(t, s, "/api/runs/nosuch"); w.Code != http.StatusNotFound {
		t.Errorf("unknown run: %d", w.Code)
	}
	if w := get(t, s, "/api/runs/train/results"); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "not a search") {
		t.Errorf("results of a training run: %d %s", w.Code, w.Body)
	}
}

// A folder of runs is served as its runs, and one created later shows up.
func TestFolderOfRuns(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "ppo"), os.DirFS(fixtureSearch)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Options{Dirs: []string{root}})
	var runs runsBody
	getJSON(t, s, "/api/runs", &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].ID != "ppo" || runs.Runs[0].Kind != kindSearch {
		t.Fatalf("runs %+v", runs.Runs)
	}
	if err := os.CopyFS(filepath.Join(root, "fm"), os.DirFS(fixtureTrain)); err != nil {
		t.Fatal(err)
	}
	s.runs.scan(true)
	getJSON(t, s, "/api/runs", &runs)
	if len(runs.Runs) != 2 || runs.Runs[0].ID != "fm" || runs.Runs[1].ID != "ppo" {
		t.Fatalf("runs after adding fm: %+v", runs.Runs)
	}
}

func TestResultsTable(t *testing.T) {
	s := newTestServer(t, Options{Dirs: []string{fixtureSearch}})
	var page resultPage
	getJSON(t, s, "/api/runs/search/results?size=3", &page)
	if page.Total != 8 || len(page.Rows) != 3 || page.Rows[0].Rank != 1 || page.Rows[0].Hash != "07a90770d20c28e1" {
		t.Fatalf("first page %+v", page)
	}
	var all []resultRow
	for p := 0; p < 3; p++ {
		getJSON(t, s, fmt.Sprintf("/api/runs/search/results?size=3&page=%d", p), &page)
		all = append(all, page.Rows...)
	}
	if len(all) != 8 {
		t.Fatalf("%d rows over 3 pages, want 8", len(all))
	}
	for i, r := range all {
		if r.Rank != i+1 || (i > 0 && r.Reward > all[i-1].Reward) {
			t.Errorf("row %d: rank %d reward %v after %v", i, r.Rank, r.Reward, all[max(i-1, 0)].Reward)
		}
		if r.Hash == "00000000deadbeef" {
			t.Errorf("the failed architecture is in the table")
		}
	}
	getJSON(t, s, "/api/runs/search/results?sort=params&order=asc&size=200", &page)
	for i := 1; i < len(page.Rows); i++ {
		if page.Rows[i].Params < page.Rows[i-1].Params {
			t.Errorf("params not ascending: %d after %d", page.Rows[i].Params, page.Rows[i-1].Params)
		}
	}
	if page.Rows[0].Params != 2910 || page.Rows[0].Rank != 1 {
		t.Errorf("smallest %+v", page.Rows[0])
	}
	getJSON(t, s, "/api/runs/search/results?page=99", &page)
	if len(page.Rows) != 0 || page.Total != 8 {
		t.Errorf("past the end: %+v", page)
	}
	if w := get(t, s, "/api/runs/search/results?sort=bogus"); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "sort") {
		t.Errorf("bad sort: %d %s", w.Code, w.Body)
	}
}

// The chart is search/run's Figure 6, point for point.
func TestCurveMatchesPlot(t *testing.T) {
	s := newTestServer(t, Options{Dirs: []string{fixtureSearch}})
	var c struct {
		Series []struct {
			K      int          `json:"k"`
			Points [][2]float64 `json:"points"`
		} `json:"series"`
		Scatter [][2]float64 `json:"scatter"`
		Trained int          `json:"trained"`
		Failed  int          `json:"failed"`
		Count   int          `json:"count"`
	}
	getJSON(t, s, "/api/runs/search/curve", &c)
	want, err := searchrun.Curves(fixtureSearch, searchrun.TopK)
	if err != nil {
		t.Fatal(err)
	}
	if c.Trained != 8 || c.Failed != 1 || c.Count != 9 || len(c.Scatter) != 8 {
		t.Errorf("trained %d failed %d count %d scatter %d", c.Trained, c.Failed, c.Count, len(c.Scatter))
	}
	if len(c.Series) != 2 { // top-1 and top-5; 8 models are too few for top-25
		t.Fatalf("%d series, want 2", len(c.Series))
	}
	for _, sr := range c.Series {
		w := want[sr.K]
		if len(w) != len(sr.Points) {
			t.Fatalf("top-%d: %d points, want %d", sr.K, len(sr.Points), len(w))
		}
		for i, p := range sr.Points {
			if p[0] != w[i].X || p[1] != w[i].Y {
				t.Errorf("top-%d point %d: %v, want %v", sr.K, i, p, w[i])
			}
		}
	}
}

func TestCells(t *testing.T) {
	var mu sync.Mutex
	var drawn []string
	s := newTestServer(t, Options{Dirs: []string{fixtureSearch}, Draw: func(text string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		drawn = append(drawn, text)
		return []byte(`<svg xmlns="http://www.w3.org/2000/svg"><text>cell</text></svg>`), nil
	}})
	var c cellInfo
	getJSON(t, s, "/api/runs/search/cells/07a90770d20c28e1", &c)
	if !strings.HasPrefix(c.Text, "normal cell sampled_normal {") || c.Result == nil || c.Result.Rank != 1 || c.Retrain == nil {
		t.Errorf("cell %+v", c)
	}
	c = cellInfo{}
	getJSON(t, s, "/api/runs/search/cells/00000000deadbeef", &c)
	if !c.Failed || c.Result != nil || !strings.Contains(c.Error, "NaN") {
		t.Errorf("failed cell %+v", c)
	}
	for range 2 {
		w := get(t, s, "/api/runs/search/cells/07a90770d20c28e1/svg")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/svg+xml" || !strings.Contains(w.Body.String(), "<svg") {
			t.Fatalf("svg: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	if len(drawn) != 1 || !strings.Contains(drawn[0], "network sampled") {
		t.Errorf("drew %d times (want once, then from the cache)", len(drawn))
	}
	if w := get(t, s, "/api/runs/search/cells/ffffffffffffffff"); w.Code != http.StatusNotFound {
		t.Errorf("unknown hash: %d", w.Code)
	}

	// Graphviz missing: a message, not a 500.
	s = newTestServer(t, Options{Dirs: []string{fixtureSearch}, Draw: func(string) ([]byte, error) {
		return nil, errors.New("rendering .svg needs Graphviz's dot, which is not on PATH")
	}})
	w := get(t, s, "/api/runs/search/cells/07a90770d20c28e1/svg")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "Graphviz") {
		t.Errorf("without dot: %d %s", w.Code, w.Body)
	}
	s = newTestServer(t, Options{Dirs: []string{fixtureSearch}})
	if w := get(t, s, "/api/runs/search/cells/07a90770d20c28e1/svg"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("without a Draw function: %d %s", w.Code, w.Body)
	}
}

func TestToken(t *testing.T) {
	s := newTestServer(t, Options{Dirs: []string{fixtureSearch}, Token: "s3cret"})
	for _, c := range []struct {
		target string
		header []string
		code   int
	}{
		{"/api/runs", nil, http.StatusUnauthorized},
		{"/api/runs?token=wrong", nil, http.StatusUnauthorized},
		{"/api/runs", []string{"Authorization", "Bearer wrong"}, http.StatusUnauthorized},
		{"/api/runs/search/results", nil, http.StatusUnauthorized},
		{"/api/events", nil, http.StatusUnauthorized},
		{"/api/runs/search/files/space.yaml", nil, http.StatusUnauthorized},
		{"/api/runs?token=s3cret", nil, http.StatusOK},
		{"/api/runs/search", []string{"Authorization", "Bearer s3cret"}, http.StatusOK},
		{"/api/runs/search", []string{"X-Cellc-Token", "s3cret"}, http.StatusOK},
		// The page and its script hold no data.
		{"/", nil, http.StatusOK},
		{"/static/app.js", nil, http.StatusOK},
	} {
		w := get(t, s, c.target, c.header...)
		if w.Code != c.code {
			t.Errorf("GET %s %v: %d, want %d (%s)", c.target, c.header, w.Code, c.code, w.Body)
		}
		if w.Code == http.StatusUnauthorized && !strings.Contains(w.Body.String(), "token") {
			t.Errorf("GET %s: 401 without saying why: %s", c.target, w.Body)
		}
	}
}

// Start decides the token from the address it listens on.
func TestStartLoopback(t *testing.T) {
	l, err := Start("127.0.0.1:0", Options{Dirs: []string{fixtureSearch}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if l.Token != "" || !l.Loopback || strings.Contains(l.URL, "token") {
		t.Errorf("loopback: token %q, URL %s", l.Token, l.URL)
	}
	resp, err := http.Get(l.URL + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET on loopback: %d", resp.StatusCode)
	}
	// Another page's host name, rebound to 127.0.0.1, is refused.
	if w := get(t, l.srv, "/api/runs", "attacker.example:8080"); w.Code != http.StatusForbidden {
		t.Errorf("foreign Host: %d", w.Code)
	}
	for _, host := range []string{"localhost:8080", "127.0.0.1", "[::1]:80", "127.1.2.3:9"} {
		if w := get(t, l.srv, "/api/runs", host); w.Code != http.StatusOK {
			t.Errorf("Host %s: %d", host, w.Code)
		}
	}

	// A token given on loopback is required all the same.
	l2, err := Start("127.0.0.1:0", Options{Dirs: []string{fixtureSearch}, Token: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(context.Background())
	if !strings.HasSuffix(l2.URL, "/?token=abc") {
		t.Errorf("URL %s", l2.URL)
	}
	resp, err = http.Get(strings.TrimSuffix(l2.URL, "?token=abc") + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d", resp.StatusCode)
	}
	if _, err := Start("nonsense", Options{Dirs: []string{fixtureSearch}}); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("bad address: %v", err)
	}
}

func TestTraversal(t *testing.T) {
	dir := copyDir(t, fixtureSearch)
	// A link inside the run that leads out of it.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "ranking.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "ranking.txt")); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Options{Dirs: []string{dir}})
	for _, target := range []string{
		"/static/../go.mod",
		"/static/..%2f..%2fgo.mod",
		"/static/%2e%2e/%2e%2e/go.mod",
		"/static/..%5c..%5cgo.mod",
		"/../../etc/passwd",
		"/api/runs/../../../etc/passwd",
		"/api/runs/search/files/..%2f..%2f..%2fetc%2fpasswd",
		"/api/runs/search/files/%2e%2e%2fcontroller.json",
		"/api/runs/search/files/./space.yaml",
		"/api/runs/search/cells/..%2f..%2fspace.yaml/svg",
		"/api/runs/..%2fsearch",
		"/api/runs/search/files/controller.json", // not on the list
		"/api/runs/search/files/jetstream",
		"/api/runs/search/files/ranking.txt", // the link that leads out
		"/api/runs/search/files/space.yaml%00.txt",
		"/static/",
		"/static/index.html/..",
	} {
		w := get(t, s, target)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404: %.200s", target, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "SECRET") || strings.Contains(w.Body.String(), "module cellc") || strings.Contains(w.Body.String(), "root:") {
			t.Errorf("GET %s leaked a file: %.200s", target, w.Body)
		}
	}
	if w := get(t, s, "/api/runs/search/files/space.yaml"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "strategy:") {
		t.Errorf("space.yaml: %d", w.Code)
	}

	// The same over a real connection, where nothing cleans the path
	// before the server sees it.
	l, err := Start("127.0.0.1:0", Options{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	addr := strings.TrimSuffix(strings.TrimPrefix(l.URL, "http://"), "/")
	for _, target := range []string{"/static/../../go.mod", "/api/runs/search/files/..%2f..%2fgo.mod", "/api/runs/search/files/ranking.txt"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "SECRET") {
			t.Errorf("raw GET %s: %d %.100s", target, resp.StatusCode, body)
		}
	}
}

func TestReadOnly(t *testing.T) {
	s := newTestServer(t, Options{Dirs: []string{fixtureSearch}})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(m, "/api/runs/search", strings.NewReader("{}")))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, w.Code)
		}
	}
}

// A results.jsonl appended while served: a half-written last line is not
// an error, and the appended results show up.
func TestAppendWhileServed(t *testing.T) {
	dir := copyDir(t, fixtureSearch)
	path := filepath.Join(dir, searchrun.ResultsFile)
	s := newTestServer(t, Options{Dirs: []string{dir}})
	var sum summaryBody
	getJSON(t, s, "/api/runs/search", &sum)
	v0 := sum.Run.Version

	tmpl, err := queue.ReadResults(fixtureSearch+"/"+searchrun.ResultsFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) []byte {
		r := tmpl[0]
		r.JobID, r.Hash, r.Reward, r.Accuracy = fmt.Sprintf("p%06d-%016x", 100+i, i), fmt.Sprintf("%016x", i), 0.5, 0.5
		b, _ := json.Marshal(r)
		return append(b, '\n')
	}
	appendBytes := func(b []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	settle := func() { time.Sleep(minRefresh + 30*time.Millisecond) }

	// Half a line: nothing new, and no problem reported.
	l1 := line(1)
	appendBytes(l1[:len(l1)/2])
	settle()
	getJSON(t, s, "/api/runs/search", &sum)
	if sum.Search.Progress.Results != 9 || len(sum.Search.Problems) != 0 {
		t.Fatalf("after half a line: %d results, problems %q", sum.Search.Progress.Results, sum.Search.Problems)
	}
	// The rest of it.
	appendBytes(l1[len(l1)/2:])
	settle()
	getJSON(t, s, "/api/runs/search", &sum)
	if sum.Search.Progress.Results != 10 || sum.Run.Version == v0 || sum.Search.Progress.Best == nil || float64(*sum.Search.Progress.Best) != 0.5 {
		t.Fatalf("after the whole line: %d results, version %d (was %d), best %v", sum.Search.Progress.Results, sum.Run.Version, v0, sum.Search.Progress.Best)
	}
	var page resultPage
	getJSON(t, s, "/api/runs/search/results?size=1", &page)
	if page.Total != 9 || page.Rows[0].Hash != fmt.Sprintf("%016x", 1) {
		t.Errorf("table after append: %+v", page)
	}
	// A complete line that is not a result: listed, the rest still shown.
	appendBytes([]byte("{\"job_id\": broken\n"))
	appendBytes(line(2))
	settle()
	getJSON(t, s, "/api/runs/search", &sum)
	if sum.Search.Progress.Results != 11 || len(sum.Search.Problems) != 1 || !strings.Contains(sum.Search.Problems[0], "results.jsonl:11:") {
		t.Errorf("after a corrupt line: %d results, problems %q", sum.Search.Progress.Results, sum.Search.Problems)
	}

	// Appends racing the reads, through cellc's own writer, split into
	// halves as a slow disk would leave them.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			w := get(t, s, "/api/runs/search")
			if w.Code != http.StatusOK {
				t.Errorf("while appending: %d %s", w.Code, w.Body)
				return
			}
			get(t, s, "/api/runs/search/results?size=5")
			get(t, s, "/api/runs/search/curve")
		}
	})
	for i := 3; i < 53; i++ {
		b := line(i)
		appendBytes(b[:10])
		time.Sleep(time.Millisecond)
		appendBytes(b[10:])
	}
	close(stop)
	wg.Wait()
	settle()
	getJSON(t, s, "/api/runs/search", &sum)
	if sum.Search.Progress.Results != 61 || len(sum.Search.Problems) != 1 {
		t.Errorf("after 50 more: %d results, problems %q", sum.Search.Progress.Results, sum.Search.Problems)
	}

	// A file cut short (a new search in the same place) is read again.
	if err := os.WriteFile(path, line(99), 0o644); err != nil {
		t.Fatal(err)
	}
	settle()
	getJSON(t, s, "/api/runs/search", &sum)
	if sum.Search.Progress.Results != 1 || len(sum.Search.Problems) != 0 {
		t.Errorf("after rewrite: %d results, problems %q", sum.Search.Progress.Results, sum.Search.Problems)
	}

	// Jobs in flight come from controller.json.
	ck := `{"version":1,"search_id":"s1","count":20,"sampled":12,"observed":10,"outstanding":[` +
		`{"seq":10,"arch":[1],"log_prob":0,"hash":"aaaaaaaaaaaaaaaa","job_id":"p000010-aaaaaaaaaaaaaaaa"},` +
		`{"seq":11,"arch":[1],"log_prob":0,"hash":"aaaaaaaaaaaaaaaa"}],"stats":{"updates":3,"baseline":0.4,"entropy":2.5}}`
	if err := os.WriteFile(filepath.Join(dir, searchrun.StateFile), []byte(ck), 0o644); err != nil {
		t.Fatal(err)
	}
	settle()
	getJSON(t, s, "/api/runs/search", &sum)
	p := sum.Search.Progress
	if p.InFlight != 1 || p.Waiting != 1 || p.Count != 20 || p.Done || sum.Search.State != "searching" || len(sum.Search.InFlight) != 1 || sum.Search.InFlight[0].Seq != 10 {
		t.Errorf("in flight: %+v, %+v", p, sum.Search.InFlight)
	}
}

// An empty directory and a corrupt one: messages on the page, never a
// 500.
func TestEmptyAndCorrupt(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	corrupt := filepath.Join(root, "corrupt")
	train := filepath.Join(root, "badtrain")
	file := filepath.Join(root, "afile")
	for _, d := range []string{empty, corrupt, train} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, data string) {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(file, "x")
	write(filepath.Join(corrupt, searchrun.StateFile), "{not json")
	write(filepath.Join(corrupt, searchrun.SpaceFile), "ops: [nosuchop\n")
	good, err := os.ReadFile(fixtureSearch + "/" + searchrun.ResultsFile)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(good), "\n")
	write(filepath.Join(corrupt, searchrun.ResultsFile), "garbage\n"+first+"\n{\"job_id\":\"p1-x\"}\n")
	write(filepath.Join(corrupt, searchrun.RetrainFile), "\x00\x01\n")
	write(filepath.Join(train, metricsFile), "{\"split\":\"train\",\"epoch\":1,\"step\":5,\"loss\":\"NaN\"}\nnot json\n")
	write(filepath.Join(train, checkpointFile), "\xff\xff\xff\xff\xff\xff\xff\xffjunk")

	s := newTestServer(t, Options{Dirs: []string{empty, corrupt, train, file}})
	var sum summaryBody
	getJSON(t, s, "/api/runs/empty", &sum)
	if sum.Run.Kind != kindEmpty || !strings.Contains(sum.Run.Message, "is empty") {
		t.Errorf("empty: %+v", sum.Run)
	}
	getJSON(t, s, "/api/runs/afile", &sum)
	if sum.Run.Kind != kindUnknown || !strings.Contains(sum.Run.Message, "is a file") {
		t.Errorf("a file: %+v", sum.Run)
	}

	getJSON(t, s, "/api/runs/corrupt", &sum)
	probs := strings.Join(sum.Search.Problems, "\n")
	for _, want := range []string{"space.yaml", "controller.json", "results.jsonl:1:", "results.jsonl:3:", "retrain.jsonl:1:"} {
		if !strings.Contains(probs, want) {
			t.Errorf("corrupt: problems do not mention %q:\n%s", want, probs)
		}
	}
	if sum.Search.Progress.Results != 1 {
		t.Errorf("corrupt: %d results, want the 1 valid line", sum.Search.Progress.Results)
	}
	for _, target := range []string{"/api/runs/corrupt/results", "/api/runs/corrupt/curve", "/api/runs/corrupt/failures", "/api/runs/empty", "/api/runs/badtrain"} {
		if w := get(t, s, target); w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", target, w.Code, w.Body)
		}
	}

	// A results.jsonl that cannot be read says so once, however often
	// the page looks.
	weird := filepath.Join(root, "weird")
	if err := os.MkdirAll(filepath.Join(weird, searchrun.ResultsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	s2 := newTestServer(t, Options{Dirs: []string{weird}})
	for range 3 {
		sum = summaryBody{}
		getJSON(t, s2, "/api/runs/weird", &sum)
		time.Sleep(minRefresh + 10*time.Millisecond)
	}
	if len(sum.Search.Problems) != 1 || !strings.Contains(sum.Search.Problems[0], "results.jsonl") {
		t.Errorf("unreadable results.jsonl: problems %q", sum.Search.Problems)
	}

	sum = summaryBody{}
	getJSON(t, s, "/api/runs/badtrain", &sum)
	probs = strings.Join(sum.Train.Problems, "\n")
	if !strings.Contains(probs, "metrics.jsonl:2:") || !strings.Contains(probs, "checkpoint.safetensors") {
		t.Errorf("bad training run: problems %q", probs)
	}
	for _, c := range sum.Train.Charts {
		if c.Name == "loss" && (len(c.Lines["train"]) != 1 || c.Lines["train"][0][1] != nil) {
			t.Errorf("a NaN loss should be a gap (null): %v", c.Lines)
		}
	}
}

func TestEvents(t *testing.T) {
	dir := copyDir(t, fixtureSearch)
	s := newTestServer(t, Options{Dirs: []string{dir}, Poll: 50 * time.Millisecond})
	ts := httptest.NewServer(s)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		ev := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				ev = e
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				events <- ev + " " + d
			}
		}
		close(events)
	}()
	next := func() string {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("stream closed")
			}
			return e
		case <-ctx.Done():
			t.Fatal("no event in time")
		}
		return ""
	}
	if e := next(); !strings.HasPrefix(e, `runs {"ids":["search"]}`) {
		t.Fatalf("first event %q", e)
	}
	first := next()
	if !strings.HasPrefix(first, `run {"id":"search","version":`) {
		t.Fatalf("second event %q", first)
	}
	if err := os.WriteFile(filepath.Join(dir, searchrun.RankingFile), []byte("rank  hash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if e := next(); !strings.HasPrefix(e, `run {"id":"search"`) || e == first {
		t.Fatalf("after a change: %q", e)
	}
	// Close ends the stream (http.Server.Shutdown would wait for it).
	s.Close()
	for range events {
	}
}

// Tens of thousands of results: parsed once, paged, downsampled.
func TestLargeSearch(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := copyDir(t, fixtureSearch)
	tmpl, err := queue.ReadResults(fixtureSearch+"/"+searchrun.ResultsFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, searchrun.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	const n = 30000
	for i := range n {
		r := tmpl[i%8]
		r.JobID, r.Hash = fmt.Sprintf("p%06d-%016x", i, i), fmt.Sprintf("%016x", i)
		r.Reward = 0.5 + 0.4*float64(i%977)/977*float64(i)/n
		b, _ := json.Marshal(r)
		bw.Write(append(b, '\n'))
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := newTestServer(t, Options{Dirs: []string{dir}})
	timed := func(target string) int {
		t0 := time.Now()
		w := get(t, s, target)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, w.Code)
		}
		t.Logf("GET %s: %d bytes in %v", target, w.Body.Len(), time.Since(t0))
		return w.Body.Len()
	}
	timed("/api/runs/search") // the first look reads the whole file
	if b := timed("/api/runs/search"); b > 100<<10 {
		t.Errorf("summary of %d bytes", b)
	}
	if b := timed("/api/runs/search/results?size=50&page=3"); b > 50<<10 {
		t.Errorf("a page of 50 rows is %d bytes", b)
	}
	timed("/api/runs/search/results?sort=params&size=50")
	if b := timed("/api/runs/search/curve?points=500"); b > 100<<10 {
		t.Errorf("the chart is %d bytes", b)
	}
	var c struct {
		Series []struct {
			K      int          `json:"k"`
			Points [][2]float64 `json:"points"`
		} `json:"series"`
		Scatter [][2]float64 `json:"scatter"`
		Trained int          `json:"trained"`
	}
	getJSON(t, s, "/api/runs/search/curve?points=500", &c)
	if c.Trained != n || len(c.Scatter) > 502 {
		t.Errorf("trained %d, scatter %d points", c.Trained, len(c.Scatter))
	}
	for _, sr := range c.Series {
		if len(sr.Points) > 502 || sr.Points[len(sr.Points)-1][0] != n {
			t.Errorf("top-%d: %d points, last %v", sr.K, len(sr.Points), sr.Points[len(sr.Points)-1])
		}
	}
	var page resultPage
	getJSON(t, s, "/api/runs/search/results?size=10", &page)
	if page.Total != n || len(page.Rows) != 10 || page.Rows[0].Rank != 1 {
		t.Errorf("table: total %d, %d rows", page.Total, len(page.Rows))
	}
}

func TestDownsample(t *testing.T) {
	var pts []xy
	for i := range 10000 {
		y := float64(i % 100)
		if i == 5003 {
			y = 1000 // a spike survives
		}
		pts = append(pts, xy{float64(i), y})
	}
	out := downsample(pts, 200)
	if len(out) > 202 || out[0] != pts[0] || out[len(out)-1] != pts[len(pts)-1] {
		t.Fatalf("%d points, ends %v %v", len(out), out[0], out[len(out)-1])
	}
	spike := false
	for i, p := range out {
		spike = spike || p.Y == 1000
		if i > 0 && p.X <= out[i-1].X {
			t.Fatalf("x not increasing at %d: %v after %v", i, p, out[i-1])
		}
	}
	if !spike {
		t.Error("the spike was lost")
	}
	if got := downsample(pts[:50], 200); len(got) != 50 {
		t.Errorf("short series changed: %d points", len(got))
	}
}

func TestTailWaitsForWholeLines(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tl := tail{name: "x.jsonl"}
	var got []string
	resets := 0
	read := func() {
		if _, err := tl.read(root, func() { resets++; got = nil }, func(n int, b []byte) { got = append(got, fmt.Sprintf("%d:%s", n, strings.TrimSpace(string(b)))) }); err != nil {
			t.Fatal(err)
		}
	}
	read() // no file yet
	write := func(s string, flag int) {
		f, err := os.OpenFile(filepath.Join(dir, "x.jsonl"), flag|os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	write("a\nb", os.O_APPEND)
	read()
	write("b\nc\n", os.O_APPEND)
	read()
	if strings.Join(got, ",") != "1:a,2:bb,3:c" || resets != 0 {
		t.Fatalf("got %v, %d resets", got, resets)
	}
	write("z\n", os.O_TRUNC)
	read()
	if strings.Join(got, ",") != "1:z" || resets != 1 {
		t.Fatalf("after truncation: %v, %d resets", got, resets)
	}
	if err := os.Remove(filepath.Join(dir, "x.jsonl")); err != nil {
		t.Fatal(err)
	}
	read()
	if len(got) != 0 || resets != 2 {
		t.Fatalf("after removal: %v, %d resets", got, resets)
	}
}
