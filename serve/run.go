package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	searchrun "cellc/search/run"
)

// Kinds of run.
const (
	kindSearch  = "search"
	kindTrain   = "train"
	kindEmpty   = "empty"   // the directory exists and holds nothing yet
	kindMissing = "missing" // it does not exist (yet)
	kindUnknown = "unknown" // it holds files, none of them ours
)

// Files that mark a directory's kind.
var (
	searchMarks = []string{searchrun.StateFile, searchrun.ResultsFile, searchrun.SpaceFile}
	trainMarks  = []string{metricsFile, checkpointFile}
)

const (
	metricsFile    = "metrics.jsonl"
	checkpointFile = "checkpoint.safetensors"
	curvesFile     = "curves.png"
)

// minRefresh is the least time between two looks at a run's files:
// several clients and an event stream share one look.
const minRefresh = 250 * time.Millisecond

// rescanEvery is how often the served folders are listed again for new
// run directories.
const rescanEvery = 2 * time.Second

// num is a float64 whose JSON form is null when it is not finite: a
// diverged loss must not break the response.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// registry is the set of runs the served folders hold.
type registry struct {
	dirs    []string
	mu      sync.Mutex
	scanned time.Time
	runs    []*run
	byPath  map[string]*run
	byID    map[string]*run
}

func newRegistry(dirs []string) *registry {
	g := &registry{byPath: map[string]*run{}, byID: map[string]*run{}}
	for _, d := range dirs {
		g.dirs = append(g.dirs, filepath.Clean(d))
	}
	g.scan(true)
	return g
}

// scan lists the runs again, at most every rescanEvery unless forced.
// Runs keep their IDs for the life of the server.
func (g *registry) scan(force bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !force && time.Since(g.scanned) < rescanEvery {
		return
	}
	g.scanned = time.Now()
	var runs []*run
	seen := map[string]bool{}
	add := func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		r := g.byPath[p]
		if r == nil {
			r = &run{id: g.newID(p), name: p, dir: p}
			g.byPath[p] = r
			g.byID[r.id] = r
		}
		runs = append(runs, r)
	}
	for _, d := range g.dirs {
		if k, _ := probe(d); k != kindUnknown {
			add(d)
			continue
		}
		subs := subRuns(d)
		if len(subs) == 0 {
			add(d)
		}
		for _, s := range subs {
			add(s)
		}
	}
	g.runs = runs
}

// subRuns lists the search and training directories directly inside dir.
func subRuns(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if k, _ := probe(p); k == kindSearch || k == kindTrain {
			out = append(out, p)
		}
	}
	return out
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// newID names a run in URLs: its directory's base name, made safe and
// unique. The caller holds g.mu.
func (g *registry) newID(p string) string {
	base := idUnsafe.ReplaceAllString(filepath.Base(p), "_")
	if base == "" || base == "." || base == ".." || base == "_" {
		base = "run"
	}
	id := base
	for i := 2; g.byID[id] != nil; i++ {
		id = fmt.Sprintf("%s-%d", base, i)
	}
	return id
}

func (g *registry) list() []*run {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*run(nil), g.runs...)
}

func (g *registry) get(id string) *run {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byID[id]
}

// probe says what dir holds.
func probe(dir string) (kind, message string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return rootError(dir, err)
	}
	defer root.Close()
	return probeRoot(root, dir)
}

func rootError(dir string, err error) (kind, message string) {
	if errors.Is(err, fs.ErrNotExist) {
		return kindMissing, fmt.Sprintf("%s does not exist yet: waiting for a search or a training run to create it", dir)
	}
	if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
		return kindUnknown, fmt.Sprintf("%s is a file, not a search or training directory", dir)
	}
	return kindUnknown, fmt.Sprintf("cannot read %s: %v", dir, err)
}

func probeRoot(root *os.Root, dir string) (kind, message string) {
	if anyExists(root, searchMarks) {
		return kindSearch, ""
	}
	if anyExists(root, trainMarks) {
		return kindTrain, ""
	}
	f, err := root.Open(".")
	if err != nil {
		return kindUnknown, fmt.Sprintf("cannot read %s: %v", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) == 0 && (err == nil || errors.Is(err, io.EOF)) {
		return kindEmpty, fmt.Sprintf("%s is empty: waiting for a search (controller.json, results.jsonl) or a training run (metrics.jsonl)", dir)
	}
	return kindUnknown, fmt.Sprintf("%s holds neither a search (controller.json, results.jsonl, space.yaml) nor a training run (metrics.jsonl, checkpoint.safetensors)", dir)
}

func anyExists(root *os.Root, names []string) bool {
	for _, n := range names {
		if _, err := root.Stat(n); err == nil {
			return true
		}
	}
	return false
}

// run is one served directory and what was read from it.
type run struct {
	id, name, dir string

	mu      sync.Mutex
	checked time.Time
	version uint64
	updated time.Time // when the version last changed
	kind    string
	message string
	search  *searchRun
	train   *trainRun
}

// runInfo is a run in /api/runs.
type runInfo struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Version  uint64    `json:"version"`
	Updated  time.Time `json:"updated"`
	Message  string    `json:"message,omitempty"`
	Headline string    `json:"headline,omitempty"`
}

// refresh reads what changed in the run's directory since the last look
// (at most every minRefresh unless forced).
func (r *run) refresh(force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(r.checked) < minRefresh {
		return
	}
	r.checked = now
	root, err := os.OpenRoot(r.dir)
	var kind, msg string
	if err != nil {
		kind, msg = rootError(r.dir, err)
	} else {
		defer root.Close()
		kind, msg = probeRoot(root, r.dir)
	}
	if kind != r.kind || msg != r.message {
		r.kind, r.message = kind, msg
		r.search, r.train = nil, nil
		r.bump(now)
	}
	switch kind {
	case kindSearch:
		if r.search == nil {
			r.search = newSearchRun()
		}
		if r.search.refresh(root, now) {
			r.bump(now)
		}
	case kindTrain:
		if r.train == nil {
			r.train = &trainRun{tail: tail{name: metricsFile}}
		}
		if r.train.refresh(root) {
			r.bump(now)
		}
	}
}

func (r *run) bump(now time.Time) {
	r.version++
	r.updated = now
}

func (r *run) info() runInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := runInfo{ID: r.id, Name: r.name, Kind: r.kind, Version: r.version, Updated: r.updated, Message: r.message}
	switch {
	case r.search != nil:
		in.Headline = r.search.headline()
	case r.train != nil:
		in.Headline = r.train.headline()
	}
	return in
}

// summary is /api/runs/ID: the run's info and its kind's summary.
func (r *run) summary(now time.Time) any {
	info := r.info()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]any{"run": info}
	switch {
	case r.search != nil:
		out["search"] = r.search.summary(now)
	case r.train != nil:
		out["train"] = r.train.summary()
	}
	return out
}

func (r *run) results(key string, desc bool, page, size int) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.search == nil {
		return nil, false
	}
	return r.search.table(key, desc, page, size), true
}

func (r *run) curve(points int) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.search == nil {
		return nil, false
	}
	return r.search.curveJSON(points), true
}

func (r *run) failures(page, size int) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.search == nil {
		return nil, false
	}
	return r.search.failurePage(page, size), true
}

func (r *run) cell(hash string) (cellInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.search == nil {
		return cellInfo{}, false
	}
	return r.search.cell(hash)
}

// fileTypes are the files a run offers for download, by the only names
// the files endpoint accepts.
var fileTypes = map[string]map[string]string{
	kindSearch: {
		searchrun.SpaceFile:   "text/plain; charset=utf-8",
		searchrun.ResultsFile: "text/plain; charset=utf-8",
		searchrun.RetrainFile: "text/plain; charset=utf-8",
		searchrun.RankingFile: "text/plain; charset=utf-8",
		searchrun.BestFile:    "text/plain; charset=utf-8",
	},
	kindTrain: {
		metricsFile: "text/plain; charset=utf-8",
		curvesFile:  "image/png",
	},
}

// file reads one of the run's files by its fixed name.
func (r *run) file(name string) ([]byte, string, error) {
	r.mu.Lock()
	kind := r.kind
	r.mu.Unlock()
	ctype, ok := fileTypes[kind][name]
	if !ok {
		return nil, "", fmt.Errorf("run %q offers no file %q", r.id, name)
	}
	root, err := os.OpenRoot(r.dir)
	if err != nil {
		return nil, "", fmt.Errorf("run %q: %s is not there", r.id, name)
	}
	defer root.Close()
	data, err := root.ReadFile(name)
	if err != nil {
		return nil, "", fmt.Errorf("run %q: %s is not there (yet)", r.id, name)
	}
	return data, ctype, nil
}

// available lists the run's downloadable files that exist, sorted.
func available(root *os.Root, kind string) []string {
	out := []string{}
	for name := range fileTypes[kind] {
		if _, err := root.Stat(name); err == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// stamp is what a file looked like when it was last read.
type stamp struct {
	size int64
	mod  time.Time
	ok   bool
}

// changed stats name and reports whether it differs from the stamp
// (appearing and disappearing included), updating the stamp.
func (s *stamp) changed(root *os.Root, name string) (exists, changed bool) {
	fi, err := root.Stat(name)
	if err != nil {
		changed = s.ok
		*s = stamp{}
		return false, changed
	}
	n := stamp{size: fi.Size(), mod: fi.ModTime(), ok: true}
	changed = n != *s
	*s = n
	return true, changed
}

// tail reads a JSON Lines file as it grows, one complete line at a time.
type tail struct {
	name  string
	off   int64 // just past the last complete line read
	lines int   // lines read, so the next is lines+1
	fi    fs.FileInfo
	buf   []byte
}

// maxLineBytes bounds one line: a longer one is reported, not buffered
// without end.
const maxLineBytes = 64 << 20

// read calls line for every complete line written since the last read,
// with its 1-based number. A last line without its newline is an append
// in progress: it is left for the next read. If the file was replaced
// or truncated, reset is called and the file is read from the start.
// changed reports whether anything was read or reset.
func (t *tail) read(root *os.Root, reset func(), line func(n int, b []byte)) (changed bool, err error) {
	fi, err := root.Stat(t.name)
	if errors.Is(err, fs.ErrNotExist) {
		if t.fi != nil {
			t.fi, t.off, t.lines = nil, 0, 0
			reset()
			return true, nil
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if t.fi != nil && (!os.SameFile(t.fi, fi) || fi.Size() < t.off) {
		t.off, t.lines = 0, 0
		reset()
		changed = true
	}
	t.fi = fi
	if fi.Size() == t.off {
		return changed, nil
	}
	f, err := root.Open(t.name)
	if err != nil {
		return changed, err
	}
	defer f.Close()
	chunk := int64(4 << 20)
	for t.off < fi.Size() {
		n := min(fi.Size()-t.off, chunk)
		if int64(cap(t.buf)) < n {
			t.buf = make([]byte, n)
		}
		buf := t.buf[:n]
		k, err := f.ReadAt(buf, t.off)
		if err != nil && !errors.Is(err, io.EOF) {
			return changed, err
		}
		buf = buf[:k]
		last := bytes.LastIndexByte(buf, '\n')
		if last < 0 {
			if int64(k) < chunk {
				break // an append in progress
			}
			if chunk >= maxLineBytes {
				return changed, fmt.Errorf("%s:%d: line longer than %d MiB", t.name, t.lines+1, maxLineBytes>>20)
			}
			chunk *= 2
			continue
		}
		for _, b := range bytes.SplitAfter(buf[:last+1], []byte("\n")) {
			if len(b) == 0 {
				continue
			}
			t.lines++
			line(t.lines, b)
		}
		t.off += int64(last + 1)
		changed = true
	}
	if cap(t.buf) > 8<<20 {
		t.buf = nil // a burst is over; do not hold its buffer
	}
	return changed, nil
}

// problems are what could not be read, for the page: the first few in
// full, then a count.
type problems struct {
	list  []string
	count int
}

const maxProblems = 20

func (p *problems) add(format string, args ...any) {
	p.count++
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) reset() { *p = problems{} }

// all lists the problems and says how many were left out.
func (p *problems) all() []string {
	out := append([]string(nil), p.list...)
	if p.count > len(p.list) {
		out = append(out, fmt.Sprintf("… and %d more", p.count-len(p.list)))
	}
	return out
}
