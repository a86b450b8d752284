package queue

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// startOperatorServer runs a JetStream server in operator mode, as a shared
// cluster is: it trusts one operator, knows one account (with JetStream
// enabled) from a memory resolver, and admits only users whose JWT that
// account signed. It returns the server URL and a credentials file (user
// JWT and nkey seed) for a user of that account.
func startOperatorServer(t *testing.T) (url, creds string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "cellc-test"
	ojwt, err := oc.Encode(okp)
	must(err)
	operator, err := jwt.DecodeOperatorClaims(ojwt)
	must(err)

	akp, err := nkeys.CreateAccount()
	must(err)
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "search"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	must(err)

	// Operator mode wants a system account too.
	skp, err := nkeys.CreateAccount()
	must(err)
	spub, _ := skp.PublicKey()
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt, err := sc.Encode(okp)
	must(err)

	ukp, err := nkeys.CreateUser()
	must(err)
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "worker"
	ujwt, err := uc.Encode(akp)
	must(err)
	seed, _ := ukp.Seed()
	cfg, err := jwt.FormatUserConfig(ujwt, seed)
	must(err)
	creds = filepath.Join(t.TempDir(), "worker.creds")
	must(os.WriteFile(creds, cfg, 0o600))

	resolver := &server.MemAccResolver{}
	must(resolver.Store(apub, ajwt))
	must(resolver.Store(spub, sjwt))
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		TrustedOperators: []*jwt.OperatorClaims{operator}, AccountResolver: resolver, SystemAccount: spub,
	})
	must(err)
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("operator-mode server not ready")
	}
	return ns.ClientURL(), creds
}

// TestConnectCreds: against an operator-mode server, a connection with the
// user's credentials file sets up a search and runs a job through the
// queue; one without credentials is refused.
func TestConnectCreds(t *testing.T) {
	url, creds := startOperatorServer(t)
	if _, err := Connect(url, ConnOptions{Timeout: 2 * time.Second}); err == nil {
		t.Fatal("connected to an operator-mode server without credentials")
	}
	c, err := Connect(url, ConnOptions{CredsFile: creds, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	defer c.Close()
	const id = "creds"
	if err := Setup(t.Context(), c, Config{SearchID: id}); err != nil {
		t.Fatalf("Setup with credentials: %v", err)
	}
	col := collect(t, c, id)
	stop := startWorker(t, c, id, "w", 1, okResult)
	defer stop()
	enqueue(t, c, id, testJob(1), testJob(2))
	col.wait(t, 2, 10*time.Second)
	if _, err := Connect(url, ConnOptions{CredsFile: filepath.Join(t.TempDir(), "missing.creds")}); err == nil ||
		!strings.Contains(err.Error(), "credentials file") {
		t.Errorf("missing credentials file: %v", err)
	}
}
