package queue

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnOptions configures [Connect]. The zero value connects without
// credentials or TLS and discards the log.
type ConnOptions struct {
	// Name identifies the connection in the server's monitoring.
	Name string
	// CredsFile is a NATS credentials file (user JWT and nkey seed), as
	// issued for a shared, operator-mode cluster.
	CredsFile string
	// TLS, when set, requires TLS; see [TLSOptions].
	TLS *TLSOptions
	// Timeout bounds the initial connection and each JetStream API call;
	// default 5 s.
	Timeout time.Duration
	// Logger receives the queue's log: disconnections, rejected messages,
	// retries. nil discards it.
	Logger *slog.Logger
}

// TLSOptions configures a TLS connection. Every field is optional: with
// none set, the server certificate is checked against the system roots.
type TLSOptions struct {
	// CAFile is a PEM bundle of the roots that sign the server certificate.
	CAFile string
	// CertFile and KeyFile are a client certificate and key (PEM), for a
	// server that verifies clients. Both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool
}

// Conn is a connection to a NATS server with JetStream.
type Conn struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	timeout time.Duration
}

// Connect connects to the NATS server or cluster at url (a comma-separated
// list of URLs is accepted). The connection reconnects forever on loss;
// close it with [Conn.Close].
func Connect(url string, opts ConnOptions) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	nopts := []nats.Option{
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats error", "subject", subj, "err", err)
		}),
	}
	if opts.Name != "" {
		nopts = append(nopts, nats.Name(opts.Name))
	}
	if opts.CredsFile != "" {
		if _, err := os.Stat(opts.CredsFile); err != nil {
			return nil, fmt.Errorf("queue: credentials file: %w", err)
		}
		nopts = append(nopts, nats.UserCredentials(opts.CredsFile))
	}
	if opts.TLS != nil {
		cfg, err := opts.TLS.config()
		if err != nil {
			return nil, err
		}
		nopts = append(nopts, nats.Secure(cfg))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("queue: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("queue: jetstream: %w", err)
	}
	return &Conn{nc: nc, js: js, log: log, timeout: timeout}, nil
}

// Close closes the connection. Publishes made through the package are
// acknowledged by the server before they return, so nothing is lost.
func (c *Conn) Close() { c.nc.Close() }

// URL is the server the connection is currently attached to, with any
// password redacted.
func (c *Conn) URL() string { return c.nc.ConnectedUrlRedacted() }

func (t *TLSOptions) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("queue: TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("queue: TLS CA file %s: no PEM certificates", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("queue: TLS client certificate needs both a cert file and a key file")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("queue: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
