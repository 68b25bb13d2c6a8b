package e2e

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFlag runs a central, then, from working directories that
// hold no configuration, server healthcheck and an agency whose
// configurations are elsewhere, named by -config (before and after the
// command): the healthcheck prints its one success line naming the
// central's address, and the agency completes, reading its data.file
// relative to its working directory, not to the configuration's.
func TestConfigFlag(t *testing.T) {
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "1"})
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	confDir := t.TempDir()
	ini := writeFile(t, confDir, "central.ini", "[DEFAULT]\nSERVER_IP = "+host+"\nSERVER_PORT = "+port+"\nAGENCIES_AMOUNT = 1\n")
	want := "action: healthcheck | result: success | address: " + srv.Addr + "\n"
	for _, args := range [][]string{{"-config", ini, "healthcheck"}, {"healthcheck", "-config", ini}} {
		code, stdout, stderr := runBin(t, serverBin, t.TempDir(), nil, args...)
		if code != 0 || stdout != want {
			t.Errorf("server %s: exit %d, stdout %q, stderr %q; want 0 and %q", strings.Join(args, " "), code, stdout, stderr, want)
		}
	}

	yaml := writeFile(t, confDir, "agency.yaml", "id: 1\nserver:\n  address: \""+srv.Addr+"\"\ndata:\n  file: bets.csv\n")
	work := t.TempDir()
	if err := sampledata.WriteFile(filepath.Join(work, "bets.csv"), sampledata.Spec{Agency: 1, Bets: 30, Winners: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "client", clientBin, work, nil, "run", "-config", yaml)
	if code := p.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("client run -config %s exited %d; stderr: %s\n%s", yaml, code, p.Stderr(), p.Log())
	}
	if got := winnersOf(t, "client", p.Log()); got != 2 {
		t.Errorf("the agency reported %d winners, want 2", got)
	}
}

// TestComposeDefaultAddress runs an agency with the default address,
// server:12345, the Compose service's name, where that name does not
// resolve (outside Compose): it stops with exit 2 and one line on stderr
// saying what to set, instead of retrying for retry.timeout (60 s).
func TestComposeDefaultAddress(t *testing.T) {
	var dnsErr *net.DNSError
	if _, err := net.LookupHost("server"); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Skipf("the name server is not \"not found\" here (%v): the agency would not stop", err)
	}
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, ".data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sampledata.WriteFile(filepath.Join(work, ".data", "agency-1.csv"), sampledata.Spec{Agency: 1, Bets: 10, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "client", clientBin, work, map[string]string{"CLI_ID": "1"})
	code := p.WaitExit(t, clientTimeout)
	stderr := strings.TrimRight(p.Stderr(), "\n")
	if code != 2 || strings.Contains(stderr, "\n") || !strings.Contains(stderr, "set CLI_SERVER_ADDRESS, or server.address in config.yaml") {
		t.Errorf("exit %d, stderr %q; want 2 and one line saying to set CLI_SERVER_ADDRESS or server.address", code, stderr)
	}
}
