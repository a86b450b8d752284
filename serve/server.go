package serve

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var staticFiles embed.FS

// Options configure a Server.
type Options struct {
	// Dirs are the directories to serve: search directories, training
	// directories, or folders holding such directories one level down.
	// A directory that does not exist yet is shown as waiting.
	Dirs []string
	// Token, when set, is required on every API request.
	Token string
	// LoopbackHosts refuses requests whose Host header is not a loopback
	// name (localhost, 127.0.0.0/8, ::1): set it when listening on
	// loopback, against DNS rebinding.
	LoopbackHosts bool
	// Draw renders .cell text as SVG (cellc draw's drawing); nil means
	// the page shows no drawings.
	Draw func(cellText string) ([]byte, error)
	// Log receives a line for each request that fails on the server's
	// side; nil discards them.
	Log io.Writer
	// Poll is how often an event stream looks for changes (default
	// 500ms).
	Poll time.Duration
}

// Server is the web view. It is an http.Handler; Close ends its event
// streams so that http.Server.Shutdown does not wait for them.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	runs    *registry
	draws   *drawCache
	closing chan struct{}
	once    sync.Once
}

// New makes a Server for opts.Dirs.
func New(opts Options) (*Server, error) {
	if len(opts.Dirs) == 0 {
		return nil, errors.New("serve: no directories to serve")
	}
	for _, d := range opts.Dirs {
		if d == "" {
			return nil, errors.New("serve: empty directory name")
		}
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	s := &Server{
		opts:    opts,
		runs:    newRegistry(opts.Dirs),
		draws:   newDrawCache(opts.Draw),
		closing: make(chan struct{}),
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.handleIndex)
	m.HandleFunc("GET /static/{name}", s.handleStatic)
	m.HandleFunc("GET /api/runs", s.api(s.handleRuns))
	m.HandleFunc("GET /api/runs/{id}", s.api(s.handleRun))
	m.HandleFunc("GET /api/runs/{id}/results", s.api(s.handleResults))
	m.HandleFunc("GET /api/runs/{id}/curve", s.api(s.handleCurve))
	m.HandleFunc("GET /api/runs/{id}/failures", s.api(s.handleFailures))
	m.HandleFunc("GET /api/runs/{id}/cells/{hash}", s.api(s.handleCell))
	m.HandleFunc("GET /api/runs/{id}/cells/{hash}/svg", s.api(s.handleCellSVG))
	m.HandleFunc("GET /api/runs/{id}/files/{name}", s.api(s.handleFile))
	m.HandleFunc("GET /api/events", s.api(s.handleEvents))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such page: "+r.URL.Path)
	})
	s.mux = m
	return s, nil
}

// Close ends the open event streams. It does not close listeners.
func (s *Server) Close() { s.once.Do(func() { close(s.closing) }) }

// ServeHTTP applies the rules every request goes through, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must not show the page a stack trace nor drop the
		// connection without a word; the log gets the detail.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			fmt.Fprintf(s.opts.Log, "serve: %s %s: internal error: %v\n", r.Method, r.URL.Path, v)
			writeError(w, http.StatusInternalServerError, "internal error (see the server's log)")
		}
	}()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	if traversal(r) {
		writeError(w, http.StatusNotFound, "no such page")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "this view is read-only: only GET and HEAD")
		return
	}
	if s.opts.LoopbackHosts && !loopbackHost(r.Host) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not a loopback name; open the view at http://127.0.0.1 or http://localhost", r.Host))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// traversal reports whether the request's path has a "." or ".."
// segment, decoded or not, or an encoded slash or backslash.
func traversal(r *http.Request) bool {
	for _, p := range []string{r.URL.Path, r.URL.RawPath} {
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "." || seg == ".." || strings.ContainsRune(seg, '\\') {
				return true
			}
		}
	}
	raw := strings.ToLower(r.URL.EscapedPath())
	return strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") || strings.Contains(raw, "%2e%2e") || strings.Contains(raw, "%00")
}

// loopbackHost reports whether host (a Host header, port optional)
// names a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// api wraps an API handler with the token rule.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token != "" && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cellc"`)
			writeError(w, http.StatusUnauthorized, "this view needs its token: open the URL printed when it started (…/?token=…), or send Authorization: Bearer TOKEN")
			return
		}
		h(w, r)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	got := r.URL.Query().Get("token")
	if got == "" {
		got = r.Header.Get("X-Cellc-Token")
	}
	if a := r.Header.Get("Authorization"); got == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.serveStatic(w, r, "index.html")
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	s.serveStatic(w, r, r.PathValue("name"))
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	data, err := fs.ReadFile(staticFiles, path.Join("static", path.Base(name)))
	if err != nil || name == "" {
		writeError(w, http.StatusNotFound, "no such file: "+name)
		return
	}
	ctype := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
	}[path.Ext(name)]
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	// The page changes with the binary; a stale copy would talk to a
	// newer API.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

// run finds the run a request names, refreshed; it writes the 404
// itself.
func (s *Server) run(w http.ResponseWriter, r *http.Request) *run {
	s.runs.scan(false)
	rn := s.runs.get(r.PathValue("id"))
	if rn == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no run %q", r.PathValue("id")))
		return nil
	}
	rn.refresh(false)
	return rn
}

func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	s.runs.scan(false)
	list := s.runs.list()
	out := make([]runInfo, 0, len(list))
	for _, rn := range list {
		rn.refresh(false)
		out = append(out, rn.info())
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out, "token_required": s.opts.Token != "", "drawings": s.opts.Draw != nil})
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	rn := s.run(w, r)
	if rn == nil {
		return
	}
	writeJSON(w, http.StatusOK, rn.summary(time.Now()))
}

func (s *Server) handleResults(w http.ResponseWriter, r *http.Request) {
	rn := s.run(w, r)
	if rn == nil {
		return
	}
	q := r.URL.Query()
	page, size := intParam(q.Get("page"), 0, 0, math.MaxInt32), intParam(q.Get("size"), 20, 1, 200)
	key := q.Get("sort")
	if key == "" {
		key = "reward"
	}
	if !validSort[key] {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("sort %q: want one of reward, params, mult_adds, train_seconds, seq, attempts", key))
		return
	}
	desc := q.Get("order") != "asc"
	v, ok := rn.results(key, desc, page, size)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("run %q is not a search", rn.id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleCurve(w http.ResponseWriter, r *http.Request) {
	rn := s.run(w, r)
	if rn == nil {
		return
	}
	v, ok := rn.curve(intParam(r.URL.Query().Get("points"), 500, 10, 5000))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("run %q is not a search", rn.id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleFailures(w http.ResponseWriter, r *http.Request) {
	rn := s.run(w, r)
	if rn == nil {
		return
	}
	q := r.URL.Query()
	v, ok := rn.failures(intParam(q.Get("page"), 0, 0, math.MaxInt32), intParam(q.Get("size"), 20, 1, 200))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("run %q is not a search", rn.id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// cell finds the request's run and architecture, answering 404 itself
// when either is missing.
func (s *Server) cell(w http.ResponseWriter, r *http.Request) (cellInfo, bool) {
	rn := s.run(w, r)
	if rn == nil {
		return cellInfo{}, false
	}
	c, ok := rn.cell(r.PathValue("hash"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("run %q has no architecture %q", rn.id, r.PathValue("hash")))
	}
	return c, ok
}

func (s *Server) handleCell(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.cell(w, r); ok {
		writeJSON(w, http.StatusOK, c)
	}
}

func (s *Server) handleCellSVG(w http.ResponseWriter, r *http.Request) {
	c, ok := s.cell(w, r)
	if !ok {
		return
	}
	svg, err := s.draws.get(r.Context(), c.Text)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	// The drawing of a hash never changes.
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(svg)
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	rn := s.run(w, r)
	if rn == nil {
		return
	}
	name := r.PathValue("name")
	data, ctype, err := rn.file(name)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

// handleEvents streams server-sent events: "runs" when the list of runs
// changes and "run" with {id, version} when a run does. The page then
// fetches what it shows of that run.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusNotImplemented, "streaming unsupported; poll /api/runs")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	// retry: how long the browser waits before reconnecting.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	sent := map[string]uint64{}
	listed := ""
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	lastWrite := time.Now()
	for {
		s.runs.scan(false)
		runs := s.runs.list()
		ids := make([]string, len(runs))
		for i, rn := range runs {
			ids[i] = rn.id
		}
		if l := strings.Join(ids, "\x00"); l != listed {
			listed = l
			if !send("runs", map[string]any{"ids": ids}) {
				return
			}
			lastWrite = time.Now()
		}
		for _, rn := range runs {
			rn.refresh(false)
			info := rn.info()
			if v, ok := sent[rn.id]; ok && v == info.Version {
				continue
			}
			sent[rn.id] = info.Version
			if !send("run", map[string]any{"id": rn.id, "version": info.Version}) {
				return
			}
			lastWrite = time.Now()
		}
		// A comment now and then tells a proxy and the browser the
		// stream is alive.
		if time.Since(lastWrite) > 15*time.Second {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
			lastWrite = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-tick.C:
		}
	}
}

var validSort = map[string]bool{"reward": true, "params": true, "mult_adds": true, "train_seconds": true, "seq": true, "attempts": true}

// intParam parses a query parameter, clamped to [lo, hi]; def when
// absent or not a number.
func intParam(s string, def, lo, hi int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		n = def
	}
	return min(max(n, lo), hi)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
