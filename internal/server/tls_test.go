package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/client"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// lotteryCerts makes, with certs.Make, the certificates of a lottery of
// agencies in a new directory, as of now.
func lotteryCerts(t *testing.T, agencies int, now time.Time) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: agencies, Now: now}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withTLS makes the central require mutual TLS with the certificates of
// dir, revoking the serials given.
func withTLS(t *testing.T, dir string, revoked ...string) serverOption {
	t.Helper()
	list := ""
	if len(revoked) > 0 {
		list = filepath.Join(t.TempDir(), "revoked")
		if err := os.WriteFile(list, []byte("# revoked\n"+strings.Join(revoked, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return func(s *serverSetup) {
		s.cfg.TLSCert, s.cfg.TLSKey = filepath.Join(dir, "central.crt"), filepath.Join(dir, "central.key")
		s.cfg.TLSClientCA, s.cfg.TLSRevoked = filepath.Join(dir, "ca.crt"), list
	}
}

// agencyTLS sets an agency's TLS files to those of name (agency-N, probe)
// in dir, trusting the CA of caDir.
func agencyTLS(dir, name, caDir string) func(*config.Client) {
	return func(c *config.Client) {
		c.TLSCA, c.TLSCert, c.TLSKey = filepath.Join(caDir, "ca.crt"), filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	}
}

// dialTLS opens a raw session over TLS with the certificate name of dir.
func dialTLS(t *testing.T, ts *testServer, dir, name string) *rawConn {
	t.Helper()
	cfg, err := mtls.Client(filepath.Join(dir, "ca.crt"), filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := tls.Dial("tcp", ts.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, r: protocol.NewReader(nc)}
}

// TestTLSAgencyActsOnlyAsItself: over mutual TLS, the holder of agency
// 2's certificate cannot say Hello as agency 1: it is refused forbidden,
// with one fail line naming both, stores nothing in agency 1's name and
// never sees its winners; the agencies with their own certificates hold
// the lottery.
func TestTLSAgencyActsOnlyAsItself(t *testing.T) {
	dir := lotteryCerts(t, 2, time.Time{})
	ts := startServer(t, 2, withTLS(t, dir))

	impostor := dialTLS(t, ts, dir, "agency-2")
	impostor.send(protocol.Hello{Agency: 1, Version: protocol.Version})
	impostor.expectError(protocol.CodeForbidden)
	impostor.expectClosed()
	waitFor(t, func() bool {
		return len(ts.log.lines("result: fail", "the certificate of agency 2 cannot speak for agency 1")) == 1
	}, "one fail line naming both agencies; log:\n%s", ts.log)
	if n := countBets(t, ts.Store()); n != 0 {
		t.Fatalf("%d bets stored after the impostor's Hello", n)
	}

	probe := dialTLS(t, ts, dir, "probe")
	probe.send(protocol.Hello{Agency: 1, Version: protocol.Version})
	probe.expectError(protocol.CodeForbidden)

	// The draw waits for both: run them at once.
	type result struct {
		winners []string
		err     error
	}
	results := make([]chan result, 3)
	for a := 1; a <= 2; a++ {
		results[a] = make(chan result, 1)
		file := lotteryFile(t, a)
		go func() {
			w, err := runAgencyWith(t, ts, a, file, agencyTLS(dir, fmt.Sprintf("agency-%d", a), dir))
			results[a] <- result{w, err}
		}()
	}
	for a := 1; a <= 2; a++ {
		if r := <-results[a]; r.err != nil || len(r.winners) != a%3 {
			t.Errorf("agency %d over mutual TLS: %d winners, %v; want %d", a, len(r.winners), r.err, a%3)
		}
	}
}

// TestTLSRefusals: certificates the central must refuse, each at the
// handshake with one fail line naming the peer and why; the agency
// fails at once, without retrying; and the central serves the others.
func TestTLSRefusals(t *testing.T) {
	dir := lotteryCerts(t, 2, time.Time{})
	other := lotteryCerts(t, 2, time.Time{})
	expired := leafSignedBy(t, dir, "expired", "urn:quiniela:agency:1", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	anonymous := leafSignedBy(t, dir, "anonymous", "", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	revokedSerial := serialOf(t, filepath.Join(dir, "agency-2.crt"))

	tests := []struct {
		name   string
		set    func(*config.Client)
		reason string // in the central's tls fail line
	}{
		{"another CA", agencyTLS(other, "agency-1", dir), "unknown authority"},
		{"expired", agencyTLS(filepath.Dir(expired), "expired", dir), "expired"},
		{"no agency identity", agencyTLS(filepath.Dir(anonymous), "anonymous", dir), "no quiniela identity"},
		{"revoked", agencyTLS(dir, "agency-2", dir), "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, 2, withTLS(t, dir, revokedSerial))
			start := time.Now()
			_, err := runAgencyWith(t, ts, 1, lotteryFile(t, 1), tt.set)
			if !errors.Is(err, client.ErrTLS) {
				t.Fatalf("agency with a refused certificate: %v, want ErrTLS", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the agency took %v to give up: it retried a certificate error", d)
			}
			waitFor(t, func() bool { return len(ts.log.lines("action: tls", "result: fail", tt.reason)) == 1 },
				"one tls fail line naming %q; log:\n%s", tt.reason, ts.log)
			checkServesOthers(t, ts, dir)
		})
	}
	t.Run("no client certificate", func(t *testing.T) {
		ts := startServer(t, 2, withTLS(t, dir))
		cfg, err := mtls.Client(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "agency-1.crt"), filepath.Join(dir, "agency-1.key"), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = nil
		expectRefusedHandshake(t, ts, cfg)
		checkServesOthers(t, ts, dir)
	})
	t.Run("TLS 1.2", func(t *testing.T) {
		ts := startServer(t, 2, withTLS(t, dir))
		cfg, err := mtls.Client(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "agency-1.crt"), filepath.Join(dir, "agency-1.key"), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		expectRefusedHandshake(t, ts, cfg)
		checkServesOthers(t, ts, dir)
	})
}

// TestTLSAndPlaintextMeet: a plaintext agency at a central that requires
// TLS is told so in plaintext (tls_required) and gives up at once; an
// agency speaking TLS to a plaintext central gives up at once too.
func TestTLSAndPlaintextMeet(t *testing.T) {
	dir := lotteryCerts(t, 1, time.Time{})
	t.Run("plaintext agency, TLS central", func(t *testing.T) {
		ts := startServer(t, 1, withTLS(t, dir))
		c := dial(t, ts)
		c.send(protocol.Hello{Agency: 1, Version: protocol.Version})
		c.expectError(protocol.CodeTLSRequired)
		_, err := runAgency(t, ts, 1, lotteryFile(t, 1))
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != protocol.CodeTLSRequired {
			t.Errorf("a plaintext agency at a TLS central: %v, want tls_required", err)
		}
		checkServesOthers(t, ts, dir)
	})
	t.Run("TLS agency, plaintext central", func(t *testing.T) {
		ts := startServer(t, 1)
		_, err := runAgencyWith(t, ts, 1, lotteryFile(t, 1), agencyTLS(dir, "agency-1", dir))
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "does not speak TLS") {
			t.Errorf("a TLS agency at a plaintext central: %v, want ErrTLS saying the central does not speak TLS", err)
		}
	})
}

// expectRefusedHandshake dials ts with cfg: the central refuses the
// handshake (at once, or at the first read under TLS 1.3) and logs it.
func expectRefusedHandshake(t *testing.T, ts *testServer, cfg *tls.Config) {
	t.Helper()
	nc, err := tls.Dial("tcp", ts.addr, cfg)
	if err == nil {
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		w := protocol.NewWriter(nc)
		w.Write(protocol.Hello{Agency: 1, Version: protocol.Version})
		w.Flush()
		_, err = protocol.NewReader(nc).Read()
	}
	if err == nil {
		t.Fatal("the central answered a connection it should have refused")
	}
	waitFor(t, func() bool { return len(ts.log.lines("action: tls", "result: fail")) == 1 },
		"one tls fail line; log:\n%s", ts.log)
}

// checkServesOthers: after a refusal the central still answers a good
// peer (the probe asks Health).
func checkServesOthers(t *testing.T, ts *testServer, dir string) {
	t.Helper()
	c := dialTLSOrPlain(t, ts, dir)
	c.send(protocol.Health{})
	if _, ok := c.read().(protocol.HealthOK); !ok {
		t.Error("the central no longer answers Health after a refusal")
	}
}

func dialTLSOrPlain(t *testing.T, ts *testServer, dir string) *rawConn {
	t.Helper()
	if !ts.Config.TLS() {
		return dial(t, ts)
	}
	return dialTLS(t, ts, dir, "probe")
}

// leafSignedBy writes, beside nothing else, a client certificate name.crt
// and name.key valid from notBefore to notAfter, signed by the CA of
// caDir, with uri as its one URI SAN (none when empty). It returns the
// certificate's path.
func leafSignedBy(t *testing.T, caDir, name, uri string, notBefore, notAfter time.Time) string {
	t.Helper()
	return signedBy(t, caDir, name, notBefore, notAfter, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if uri != "" {
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, u)
		}
	})
}

// signedBy writes name.crt and name.key in a new directory: a
// certificate valid from notBefore to notAfter, signed by the CA of caDir,
// as set makes it. It returns the certificate's path.
func signedBy(t *testing.T, caDir, name string, notBefore, notAfter time.Time, set func(*x509.Certificate)) string {
	t.Helper()
	ca, err := tls.LoadX509KeyPair(filepath.Join(caDir, "ca.crt"), filepath.Join(caDir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	set(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, leafKey.Public(), ca.PrivateKey.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	crt := filepath.Join(out, name+".crt")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return crt
}

// serialOf is the serial of the certificate at path, as a revocation
// list holds it.
func serialOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return certs.SerialHex(c.SerialNumber)
}

// TestTLSAgencyChecksTheCentral: an agency refuses a central whose
// certificate is not the lottery's, or not for the name it dials, at
// once and saying which, without retrying.
func TestTLSAgencyChecksTheCentral(t *testing.T) {
	dir := lotteryCerts(t, 1, time.Time{})
	other := lotteryCerts(t, 1, time.Time{})
	elsewhere := signedBy(t, dir, "central", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		c.DNSNames = []string{"elsewhere"}
	})
	tests := []struct {
		name      string
		cert, key string
		says      string
	}{
		{"another CA", filepath.Join(other, "central.crt"), filepath.Join(other, "central.key"), "not signed by the lottery CA"},
		{"another name", elsewhere, strings.TrimSuffix(elsewhere, ".crt") + ".key", "not for 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, 1, func(s *serverSetup) {
				s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.TLSClientCA = tt.cert, tt.key, filepath.Join(dir, "ca.crt")
			})
			start := time.Now()
			_, err := runAgencyWith(t, ts, 1, lotteryFile(t, 1), agencyTLS(dir, "agency-1", dir))
			if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("agency at a central with %s: %v, want ErrTLS saying %q", tt.name, err, tt.says)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the agency took %v to give up: it retried a certificate error", d)
			}
		})
	}
}

// TestTLSBusyIsRetried: with TLS, a central that is full closes the
// newcomer before its handshake (a plaintext busy frame would read, to a
// TLS agency, as a central that does not speak TLS, which it does not
// retry); the agency retries and gets in once a slot frees.
func TestTLSBusyIsRetried(t *testing.T) {
	dir := lotteryCerts(t, 1, time.Time{})
	ts := startServer(t, 1, withTLS(t, dir), withMaxConnections(1))
	holder := dialTLS(t, ts, dir, "agency-1") // a session: it holds the one slot
	holder.hello(1)
	waiting, err := net.Dial("tcp", ts.addr) // takes the one place in the queue
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	waitFor(t, func() bool { return ts.Server().Waiting() == 1 }, "a connection waiting")
	go func() {
		time.Sleep(300 * time.Millisecond)
		holder.nc.Close()
		waiting.Close()
	}()
	if _, err := runAgencyWith(t, ts, 1, lotteryFile(t, 1), agencyTLS(dir, "agency-1", dir)); err != nil {
		t.Fatalf("an agency that found the central full: %v, want it to retry and get in", err)
	}
	waitFor(t, func() bool { return len(ts.log.lines("result: fail", "too many connections")) >= 1 },
		"a busy refusal; log:\n%s", ts.log)
}
