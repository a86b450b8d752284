package queue

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// pki is a throwaway CA with a server and a client certificate, as PEM files.
type pki struct {
	dir                                              string
	ca, serverCert, serverKey, clientCert, clientKey string
	pool                                             *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir, pool: x509.NewCertPool()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cellc test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p.pool.AddCert(caCert)
	p.ca = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startTLSServer runs a JetStream server that requires TLS and, if
// verifyClients, a client certificate signed by the test CA.
func startTLSServer(t *testing.T, p *pki, verifyClients bool) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if verifyClients {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.pool
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		TLS: true, TLSConfig: cfg, TLSVerify: verifyClients, TLSTimeout: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("TLS server not ready")
	}
	return ns.ClientURL()
}

func TestConnectTLS(t *testing.T) {
	p := newPKI(t)
	url := startTLSServer(t, p, false)
	opts := ConnOptions{Timeout: 2 * time.Second}

	opts.TLS = &TLSOptions{CAFile: p.ca}
	c, err := Connect(url, opts)
	if err != nil {
		t.Fatalf("TLS with the CA: %v", err)
	}
	if err := Setup(t.Context(), c, Config{SearchID: "tls"}); err != nil {
		t.Errorf("Setup over TLS: %v", err)
	}
	c.Close()

	opts.TLS = &TLSOptions{}
	if c, err := Connect(url, opts); err == nil {
		c.Close()
		t.Error("TLS against system roots accepted the test CA's certificate")
	}
	opts.TLS = &TLSOptions{InsecureSkipVerify: true}
	if c, err := Connect(url, opts); err != nil {
		t.Errorf("TLS insecure: %v", err)
	} else {
		c.Close()
	}
	opts.TLS = nil
	if c, err := Connect(url, opts); err == nil {
		c.Close()
		t.Error("plain connection to a TLS-only server succeeded")
	}
}

func TestConnectClientCert(t *testing.T) {
	p := newPKI(t)
	url := startTLSServer(t, p, true)
	opts := ConnOptions{Timeout: 2 * time.Second, TLS: &TLSOptions{CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.clientKey}}
	c, err := Connect(url, opts)
	if err != nil {
		t.Fatalf("TLS with a client certificate: %v", err)
	}
	c.Close()
	opts.TLS = &TLSOptions{CAFile: p.ca}
	if c, err := Connect(url, opts); err == nil {
		c.Close()
		t.Error("server that verifies clients accepted one without a certificate")
	}
}

func TestConnectOptionErrors(t *testing.T) {
	p := newPKI(t)
	for name, c := range map[string]struct {
		opts ConnOptions
		want string
	}{
		"creds":    {ConnOptions{CredsFile: filepath.Join(p.dir, "missing.creds")}, "credentials file"},
		"ca":       {ConnOptions{TLS: &TLSOptions{CAFile: filepath.Join(p.dir, "missing.pem")}}, "TLS CA file"},
		"ca pem":   {ConnOptions{TLS: &TLSOptions{CAFile: p.serverKey}}, "no PEM certificates"},
		"half":     {ConnOptions{TLS: &TLSOptions{CertFile: p.clientCert}}, "both a cert file and a key file"},
		"mismatch": {ConnOptions{TLS: &TLSOptions{CertFile: p.clientCert, KeyFile: p.serverKey}}, "TLS client certificate"},
	} {
		_, err := Connect("nats://127.0.0.1:1", c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
}
