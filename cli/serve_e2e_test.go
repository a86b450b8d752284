package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// e2eSpace is testdata/script/search.txtar's tiny space with enough
// architectures to keep results coming while the browser looks; the
// test stops the search and its worker when the browser is done.
const e2eSpace = `ops: [identity, avg3x3, max3x3, sep3x3]
blocks: 2
child:
  dataset: synthetic
  synthetic_size: 64
  image_size: 16
  n: 1
  base_filters: 4
  epochs: 1
  batch: 16
  workers: 1
strategy:
  name: ppo
  lstm_units: 16
  minibatch: 3
architectures: 400
retrain:
  top: 0
`

// TestServeE2E runs `cellc search --ui` on a tiny search and drives its
// page in Debian's headless chromium with playwright-core
// (testdata/serve/e2e.cjs): the page shows the search empty, then a
// `cellc worker` joins and the chart and the table fill in as results
// arrive, a cell's drawing opens, and a screenshot is saved. Set
// CELLC_E2E_SCREENSHOT=FILE to keep the screenshot.
func TestServeE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser test takes about 15 s")
	}
	chromium := os.Getenv("CELLC_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	e2eDir := os.Getenv("CELLC_E2E_DIR")
	if e2eDir == "" {
		home, _ := os.UserHomeDir()
		e2eDir = filepath.Join(home, ".cache", "cellc-e2e")
	}
	playwright := filepath.Join(e2eDir, "node_modules", "playwright-core")
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "Debian's chromium (apt-get install chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(playwright, "package.json")); err != nil {
		missing = append(missing, "playwright-core (npm install --prefix "+e2eDir+" playwright-core)")
	}
	if len(missing) > 0 {
		t.Skipf("the browser test needs %s; scripts/install-e2e-deps.sh installs them (as root)", strings.Join(missing, ", "))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	dir := t.TempDir()
	// The test binary is cellc when called by that name (testscript.Main).
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "cellc")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	space := filepath.Join(dir, "space.yaml")
	if err := os.WriteFile(space, []byte(e2eSpace), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	search := exec.Command(bin, "search", run, "--space", space, "--workers", "0", "--ui", "127.0.0.1:0")
	stderr, err := search.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := search.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var log strings.Builder
	urlc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		re := regexp.MustCompile(`^ui: serving .* at (http://\S+)$`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	searchLog := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return log.String()
	}
	defer func() {
		stopProcess(search)
		<-scanned
	}()
	var url string
	select {
	case url = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatalf("no ui: line from cellc search --ui in 30 s:\n%s", searchLog())
	}

	out := t.TempDir()
	browse := exec.CommandContext(ctx, node, filepath.Join("..", "testdata", "serve", "e2e.cjs"))
	browse.Env = append(os.Environ(),
		"CELLC_UI_URL="+url, "CELLC_E2E_OUT="+out, "PLAYWRIGHT_CORE="+playwright,
		"CHROMIUM="+chromium, "CELLC_E2E_MS=90000")
	if _, err := exec.LookPath("dot"); err != nil {
		t.Log("Graphviz's dot is missing: expecting the page to say so instead of a drawing")
		browse.Env = append(browse.Env, "CELLC_E2E_NO_DOT=1")
	}
	var browseErr strings.Builder
	browse.Stderr = &browseErr
	browse.WaitDelay = 5 * time.Second
	stdout, err := browse.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := browse.Start(); err != nil {
		t.Fatal(err)
	}
	// The page is open and shows the search empty: a worker joins.
	var got strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		got.WriteString(sc.Text() + "\n")
		if sc.Text() != "EMPTY" {
			continue
		}
		natsURL, err := os.ReadFile(filepath.Join(run, "nats.url"))
		if err != nil {
			t.Fatal(err)
		}
		worker := exec.Command(bin, "worker", "--nats", strings.TrimSpace(string(natsURL)), "--name", "e2e-worker")
		if err := worker.Start(); err != nil {
			t.Fatal(err)
		}
		defer stopProcess(worker)
	}
	if err := browse.Wait(); err != nil {
		t.Fatalf("the browser test failed: %v\n%s%s\nsearch log:\n%s", err, got.String(), browseErr.String(), searchLog())
	}
	lines := strings.Split(strings.TrimSpace(got.String()), "\n")
	var seen struct {
		EmptyRows    int      `json:"emptyRows"`
		FirstResults int      `json:"firstResults"`
		LaterResults int      `json:"laterResults"`
		LaterPoints  int      `json:"laterPoints"`
		Rows         int      `json:"rows"`
		CellText     bool     `json:"cellText"`
		Drawing      string   `json:"drawing"`
		DrawingNodes int      `json:"drawingNodes"`
		Errors       []string `json:"errors"`
		Screenshot   string   `json:"screenshot"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &seen); err != nil {
		t.Fatalf("the browser test printed %q: %v", got.String(), err)
	}
	t.Logf("browser saw %d then %d results, %d chart points, %d rows, a drawing of %d nodes; screenshot %s",
		seen.FirstResults, seen.LaterResults, seen.LaterPoints, seen.Rows, seen.DrawingNodes, seen.Screenshot)
	if seen.LaterResults <= seen.FirstResults || seen.Rows == 0 || !seen.CellText {
		t.Errorf("the page did not fill in: %+v", seen)
	}
	if len(seen.Errors) > 0 {
		t.Errorf("the page logged errors: %q", seen.Errors)
	}
	if _, err := os.Stat(seen.Screenshot); err != nil {
		t.Errorf("no screenshot: %v", err)
	}
	if keep := os.Getenv("CELLC_E2E_SCREENSHOT"); keep != "" {
		data, err := os.ReadFile(seen.Screenshot)
		if err == nil {
			err = os.WriteFile(keep, data, 0o644)
		}
		if err != nil {
			t.Errorf("keeping the screenshot: %v", err)
		}
	}
}

// stopProcess interrupts a cellc process as Ctrl-C would and waits for it,
// killing it if it has not stopped in 20 s.
func stopProcess(c *exec.Cmd) {
	_ = c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}
