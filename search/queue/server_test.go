package queue

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedServer(t *testing.T) {
	log, lb := newLog(t)
	dir := filepath.Join(t.TempDir(), "nats")
	srv, err := StartEmbedded(dir, ServerOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL(), "nats://127.0.0.1:") {
		t.Errorf("URL %s, want loopback", srv.URL())
	}
	c, err := Connect(srv.URL(), ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Setup(t.Context(), c, Config{SearchID: "x"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.Shutdown()
	srv.Shutdown() // harmless
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("file store not under the search directory: %v", err)
	}
	if !strings.Contains(lb.String(), "component=nats-server") {
		t.Errorf("server log not routed to the logger:\n%s", lb)
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if srv, err := StartEmbedded(file, ServerOptions{}); err == nil {
		srv.Shutdown()
		t.Error("StartEmbedded on a regular file succeeded")
	}
	if _, err := StartEmbedded("", ServerOptions{}); err == nil {
		t.Error("StartEmbedded without a directory succeeded")
	}
}
