package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configures [StartEmbedded]. The zero value listens on a
// random port of 127.0.0.1 and discards the server's log.
type ServerOptions struct {
	// Host is the interface to listen on; default 127.0.0.1. Listening on
	// another interface exposes an unauthenticated server: use an external
	// cluster with credentials for shared use.
	Host string
	// Port is the client port; 0 picks a free one.
	Port int
	// Logger receives the server's log lines (notices at Info, debug at
	// Debug); nil discards them.
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the server to accept connections;
	// default 10 s.
	ReadyTimeout time.Duration
}

// Server is an in-process nats-server with JetStream.
type Server struct {
	ns  *server.Server
	url string
}

// StartEmbedded starts a nats-server with JetStream in this process, its
// file store under dir (created if missing). Restarting on the same dir
// finds the streams, the consumers and the queued jobs as they were.
func StartEmbedded(dir string, opts ServerOptions) (*Server, error) {
	if dir == "" {
		return nil, errors.New("queue: embedded server needs a store directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("queue: store directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("queue: store directory: %w", err)
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	ready := opts.ReadyTimeout
	if ready <= 0 {
		ready = 10 * time.Second
	}
	sopts := &server.Options{
		ServerName:             "cellc",
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               abs,
		NoSigs:                 true,
		NoLog:                  opts.Logger == nil,
		DisableJetStreamBanner: true,
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("queue: embedded server: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(serverLogger{opts.Logger.With("component", "nats-server")}, opts.Logger.Enabled(context.Background(), slog.LevelDebug), false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(ready) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("queue: embedded server not ready after %v", ready)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("queue: embedded server started without JetStream (store %s)", abs)
	}
	return &Server{ns: ns, url: ns.ClientURL()}, nil
}

// URL is the client URL, e.g. nats://127.0.0.1:41234.
func (s *Server) URL() string { return s.url }

// Shutdown stops the server and waits until it has stopped and flushed its
// store. Calling it twice is harmless.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// serverLogger adapts slog to nats-server's logger interface.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
