package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The web view draws with cellc draw's code.
func TestCellSVG(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "testdata", "serve", "search", "best.cell"))
	if err != nil {
		t.Fatal(err)
	}
	svg, err := cellSVG(string(text))
	if _, lerr := exec.LookPath("dot"); lerr != nil {
		if err == nil || !strings.Contains(err.Error(), "Graphviz") {
			t.Fatalf("without dot: %v, want a message naming Graphviz", err)
		}
		t.Skip("Graphviz's dot is not installed (apt-get install graphviz): only the message was checked")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "normal cell sampled_normal", "reduction cell sampled_reduction", "concat"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("drawing lacks %q", want)
		}
	}
	if _, err := cellSVG("normal cell x { block < in: h_i, h_i; op: nosuch, identity; combine: add > }"); err == nil || !strings.Contains(err.Error(), "does not check") {
		t.Errorf("a cell with an unknown op: %v", err)
	}
	if _, err := cellSVG("this is not a cell"); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("not a cell: %v", err)
	}
}

// cellc search --ui serves the search while it runs, without a browser.
func TestSearchUI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a search")
	}
	dir := t.TempDir()
	space := filepath.Join(dir, "space.yaml")
	if err := os.WriteFile(space, []byte(strings.Replace(e2eSpace, "architectures: 400", "architectures: 6", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stdout strings.Builder
	go func() {
		code := run([]string{"search", filepath.Join(dir, "run"), "--space", space, "--ui", "127.0.0.1:0"}, strings.NewReader(""), &stdout, pw)
		pw.Close()
		done <- code
	}()
	urlc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`^ui: serving .* at (http://\S+)$`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatal("no ui: line in 30 s")
	}
	// Poll while it runs: the run is there from the start, as a search
	// once controller.json is written.
	deadline := time.Now().Add(60 * time.Second)
	kind := ""
	for kind != "search" && time.Now().Before(deadline) {
		resp, err := http.Get(url + "api/runs")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Runs []struct {
				ID, Kind string
			} `json:"runs"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || len(body.Runs) != 1 || body.Runs[0].ID != "run" {
			t.Fatalf("runs: %+v, %v", body, err)
		}
		kind = body.Runs[0].Kind
		time.Sleep(50 * time.Millisecond)
	}
	if kind != "search" {
		t.Errorf("the run never became a search: %q", kind)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("search exited %d", code)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("search did not finish in 90 s")
	}
	// The server stops with the search.
	if resp, err := http.Get(url + "api/runs"); err == nil {
		resp.Body.Close()
		t.Errorf("still serving after the search ended")
	}
	if !strings.Contains(stdout.String(), "6 architectures sampled") {
		t.Errorf("stdout %q", stdout.String())
	}
}
