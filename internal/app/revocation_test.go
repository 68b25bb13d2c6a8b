package app_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/atomicfile"
	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// ioTimeout bounds each read of a test's connection: a bound on a
// failure, not a measure.
const ioTimeout = 10 * time.Second

// tlsConfig is a central of 3 agencies that requires mutual TLS with the
// certificates of a new lottery, revoking what the file it returns
// lists (none yet).
func tlsConfig(t *testing.T) (cfg config.Server, dir, list string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "certs")
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: 3}); err != nil {
		t.Fatal(err)
	}
	list = filepath.Join(t.TempDir(), "revoked")
	replace(t, list, []byte("# none\n"))
	cfg = apptest.Config(3)
	cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, certs.CentralCert), filepath.Join(dir, certs.CentralKey)
	cfg.TLSClientCA, cfg.TLSRevoked = filepath.Join(dir, certs.CACert), list
	return cfg, dir, list
}

// replace puts data at path at once, as an operator's mv does.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := atomicfile.Write(path, data, 0o644, true); err != nil {
		t.Fatal(err)
	}
}

// revokeIn revokes agency in dir's CRL (as `server certs revoke` does)
// and puts the CRL at list.
func revokeIn(t *testing.T, dir, list string, agency int) {
	t.Helper()
	r, err := certs.Revoke(dir, []int{agency}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	replace(t, list, data)
}

// session is a connection of an agency's certificate to the central.
type session struct {
	nc *tls.Conn
	r  *protocol.Reader
	w  *protocol.Writer
}

// dial opens a connection with agency's certificate of dir and says
// Hello; it returns the session and the first answer, or the error of
// reading it.
func dial(t *testing.T, c *apptest.Central, dir string, agency int) (*session, protocol.Message, error) {
	t.Helper()
	cfg, err := mtls.Client(filepath.Join(dir, certs.CACert), filepath.Join(dir, certs.AgencyCert(agency)), filepath.Join(dir, certs.AgencyKey(agency)), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := tls.Dial("tcp", c.Address(), cfg)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { nc.Close() })
	s := &session{nc: nc, r: protocol.NewReader(nc), w: protocol.NewWriter(nc)}
	m, err := s.send(protocol.Hello{Agency: uint32(agency), Version: protocol.Version})
	return s, m, err
}

// send sends m and returns the answer.
func (s *session) send(m protocol.Message) (protocol.Message, error) {
	s.nc.SetDeadline(time.Now().Add(ioTimeout))
	if err := s.w.Write(m); err != nil {
		return nil, err
	}
	if err := s.w.Flush(); err != nil {
		return nil, err
	}
	return s.r.Read()
}

// welcomed opens agency's session and fails the test unless it is
// welcomed.
func welcomed(t *testing.T, c *apptest.Central, dir string, agency int) *session {
	t.Helper()
	s, m, err := dial(t, c, dir, agency)
	if _, ok := m.(protocol.Welcome); err != nil || !ok {
		t.Fatalf("agency %d's Hello: %v, %v; want a Welcome", agency, m, err)
	}
	return s
}

// waitLog waits until the central logged a line of action and result
// whose raw text holds each of want, and returns how many there are.
func waitLog(t *testing.T, c *apptest.Central, action, result string, want ...string) int {
	t.Helper()
	for deadline := time.Now().Add(ioTimeout); ; time.Sleep(5 * time.Millisecond) {
		n := 0
		for _, l := range harness.Filter(harness.ParseLog(c.Log.String()), action, result) {
			if containsAll(l.Raw, want) {
				n++
			}
		}
		if n > 0 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s line with %q; log:\n%s", action, result, want, c.Log)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestRevocationWithoutRestart: agency 3's certificate revoked while the
// central runs, by a reload (what SIGHUP does) or by the file's change
// alone: its open session is told forbidden and closed, its next
// connection is refused at the handshake as revoked, and agency 2's
// session goes on.
func TestRevocationWithoutRestart(t *testing.T) {
	tests := []struct {
		name    string
		poll    time.Duration // RevocationPoll
		reload  bool          // ReloadRevocation after the change
		trigger string        // in the revocation_reload line
	}{
		{"reload", time.Hour, true, "trigger: reload"},
		{"file change", 5 * time.Millisecond, false, "trigger: file_changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, dir, list := tlsConfig(t)
			c := apptest.Start(t, cfg, func(m *app.Main) {
				m.RevocationPoll, m.WinnersHold = tt.poll, time.Millisecond
			})
			three, two := welcomed(t, c, dir, 3), welcomed(t, c, dir, 2)
			revokeIn(t, dir, list, 3)
			if tt.reload {
				c.ReloadRevocation()
			}
			three.nc.SetDeadline(time.Now().Add(ioTimeout))
			m, err := three.r.Read()
			if e, ok := m.(*protocol.Error); err != nil || !ok || e.Code != protocol.CodeForbidden {
				t.Fatalf("agency 3's open session after its revocation: %v, %v; want forbidden", m, err)
			}
			if m, err := three.r.Read(); err == nil {
				t.Errorf("agency 3's session is still open: %v", m)
			}
			waitLog(t, c, "revocation_reload", logging.ResultSuccess, tt.trigger, "format: crl", "revoked: 1", "closed: 1")
			if _, m, err := dial(t, c, dir, 3); err == nil {
				t.Errorf("agency 3's next connection: %v; want it refused", m)
			}
			waitLog(t, c, "tls", logging.ResultFail, "agency 3's certificate", "revoked (SERVER_TLS_REVOKED)")
			if m, err := two.send(protocol.WinnersQuery{}); err != nil {
				t.Errorf("agency 2's session after agency 3's revocation: %v, %v; want it served", m, err)
			}
		})
	}
}

// TestRevocationBadReload: a list that cannot be read, once the central
// runs, keeps the list in force and is said in one fail line, however
// often the file is looked at; the next good list is put in force.
func TestRevocationBadReload(t *testing.T) {
	cfg, dir, list := tlsConfig(t)
	c := apptest.Start(t, cfg, func(m *app.Main) { m.RevocationPoll = time.Millisecond })
	revokeIn(t, dir, list, 3)
	waitLog(t, c, "revocation_reload", logging.ResultSuccess, "revoked: 1")
	replace(t, list, []byte("agency-2\n"))
	waitLog(t, c, "revocation_reload", logging.ResultFail, list, "line 1", "the list in force is kept")
	if _, _, err := dial(t, c, dir, 3); err == nil {
		t.Error("agency 3 was served after a bad reload")
	}
	revokeIn(t, dir, list, 2)
	waitLog(t, c, "revocation_reload", logging.ResultSuccess, "revoked: 2")
	if n := waitLog(t, c, "revocation_reload", logging.ResultFail); n != 1 {
		t.Errorf("%d fail lines for one bad file; log:\n%s", n, c.Log)
	}
	welcomed(t, c, dir, 1)
}

// TestRevocationRefusedAtLoad: a revocation list the central cannot
// trust or read stops it before it listens, naming SERVER_TLS_REVOKED,
// the file and why.
func TestRevocationRefusedAtLoad(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other")
	if _, err := certs.Make(certs.Options{Dir: other, Agencies: 1}); err != nil {
		t.Fatal(err)
	}
	foreign, err := certs.Revoke(other, []int{1}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	foreignCRL, err := os.ReadFile(foreign.Path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file []byte
		why  string
	}{
		{"another CA's CRL", foreignCRL, "not signed by the lottery CA"},
		{"a CRL cut short", foreignCRL[:len(foreignCRL)/2], "not a CRL that can be read"},
		{"binary", []byte{0x30, 0x82, 0x01, 0x00, 0xff}, "not a CRL that can be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, list := tlsConfig(t)
			replace(t, list, tt.file)
			err := runRefused(t, cfg)
			if msg := err.Error(); !containsAll(msg, []string{"SERVER_TLS_REVOKED", list, tt.why}) {
				t.Errorf("Run with %s: %q; want SERVER_TLS_REVOKED, %s and %q", tt.name, msg, list, tt.why)
			}
		})
	}
}
