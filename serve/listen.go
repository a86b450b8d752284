package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Listening is a Server serving on an address.
type Listening struct {
	// URL opens the page; it carries the token when one is needed.
	URL string
	// Token is what API requests must carry; "" on loopback.
	Token string
	// Loopback says the address is loopback only.
	Loopback bool

	srv  *Server
	http *http.Server
	done chan error
}

// Start listens on addr (host:port; port 0 picks a free one) and serves
// opts there until Close. On loopback the page is open to local
// requests only (Options.LoopbackHosts); on any other address it needs a
// token: opts.Token, or a new random one when that is empty.
func Start(addr string, opts Options) (*Listening, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("serve: listen address %q: want host:port (e.g. 127.0.0.1:8080)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %v", err)
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	loopback := tcp != nil && tcp.IP.IsLoopback()
	if !loopback && opts.Token == "" {
		if opts.Token, err = NewToken(); err != nil {
			ln.Close()
			return nil, err
		}
	}
	opts.LoopbackHosts = loopback
	s, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	host := "127.0.0.1"
	if tcp != nil {
		host = tcp.IP.String()
		if tcp.IP.IsUnspecified() {
			// Every interface: name the machine, the way others reach it.
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
	}
	port := ""
	if tcp != nil {
		port = fmt.Sprint(tcp.Port)
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}
	if opts.Token != "" {
		u.RawQuery = url.Values{"token": {opts.Token}}.Encode()
	}
	l := &Listening{
		URL: u.String(), Token: opts.Token, Loopback: loopback, srv: s,
		http: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
		done: make(chan error, 1),
	}
	go func() {
		err := l.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		l.done <- err
	}()
	return l, nil
}

// Done delivers the server's error (nil after Close) when it stops.
func (l *Listening) Done() <-chan error { return l.done }

// Close ends the event streams, then shuts the server down, waiting for
// requests in progress until ctx is done.
func (l *Listening) Close(ctx context.Context) error {
	l.srv.Close()
	return l.http.Shutdown(ctx)
}

// NewToken is a random token of 128 bits, in hex.
func NewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("serve: token: %v", err)
	}
	return hex.EncodeToString(b), nil
}
