package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/atomicfile"
	"github.com/loteria-nacional/quiniela/internal/harness"
)

// lotteryTLS makes the certificates of a lottery of agencies with the
// real `server certs`, and returns the environment of a central that
// requires mutual TLS (with the probe's certificate for its health
// check) and, for agency id, the environment of its own certificate.
func lotteryTLS(t *testing.T, agencies int) (central map[string]string, agency func(id int) map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	p := startProcess(t, "certs", serverBin, t.TempDir(), nil, "certs", "-dir", dir, "-agencies", strconv.Itoa(agencies))
	if code := p.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("server certs exited %d:\n%s%s", code, p.Log(), p.Stderr())
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	central = map[string]string{
		"SERVER_TLS_CERT": file("central.crt"), "SERVER_TLS_KEY": file("central.key"),
		"SERVER_TLS_CLIENT_CA":  file("ca.crt"),
		"SERVER_TLS_PROBE_CERT": file("probe.crt"), "SERVER_TLS_PROBE_KEY": file("probe.key"),
	}
	agency = func(id int) map[string]string {
		n := "agency-" + strconv.Itoa(id)
		return map[string]string{"CLI_TLS_CA": file("ca.crt"), "CLI_TLS_CERT": file(n + ".crt"), "CLI_TLS_KEY": file(n + ".key")}
	}
	return central, agency
}

// TestCourseDatasetTLS runs the course's lottery over mutual TLS with the
// real binaries and certificates made by server certs: the same winners
// and digests as in plaintext, no fail line, and the health check (the
// probe's certificate) answers.
func TestCourseDatasetTLS(t *testing.T) {
	data := extractDataset(t)
	centralEnv, agencyEnv := lotteryTLS(t, len(courseWinners))
	srv := newCrashServer(t, t.TempDir(), harness.Merge(centralEnv, map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(len(courseWinners))}))
	central := srv.start()
	if !hasLine(central, "tls", "success", "mode", "mutual") {
		t.Fatalf("the central does not say it requires mutual TLS:\n%s", central.Log())
	}
	probe := startProcess(t, "healthcheck", serverBin, srv.dir, srv.env, "healthcheck")
	if code := probe.WaitExit(t, clientTimeout); code != 0 {
		t.Errorf("server healthcheck over mutual TLS exited %d: %s", code, probe.Stderr())
	}
	clients := make([]*harness.Process, len(courseWinners))
	for i := range clients {
		id := i + 1
		clients[i] = startClient(t, "client-"+strconv.Itoa(id), clientEnv(id, srv.addr, harness.Merge(agencyEnv(id), map[string]string{"CLI_DATA_FILE": agencyFile(data, id)})))
	}
	assertAgenciesWon(t, clients, courseWinners)
	srv.kill()
	assertCleanLog(t, "server", central.Log())
	assertDigests(t, central, clients, backend{name: "file"}, srv.dir, data)
}

// TestRevokeSIGHUP: the real `server certs revoke 2` writes a CRL; put in
// place of the central's SERVER_TLS_REVOKED and followed by SIGHUP, it is
// read at once (a reload line), the central goes on serving, and agency
// 2's certificate is refused at its next connection as revoked.
func TestRevokeSIGHUP(t *testing.T) {
	centralEnv, agencyEnv := lotteryTLS(t, 2)
	dir := filepath.Dir(centralEnv["SERVER_TLS_CLIENT_CA"])
	list := filepath.Join(t.TempDir(), "revoked")
	if err := os.WriteFile(list, []byte("# none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newCrashServer(t, t.TempDir(), harness.Merge(centralEnv, map[string]string{"AGENCIES_AMOUNT": "2", "SERVER_TLS_REVOKED": list}))
	central := srv.start()

	p := startProcess(t, "revoke", serverBin, t.TempDir(), nil, "certs", "revoke", "-dir", dir, "2")
	if code := p.WaitExit(t, clientTimeout); code != 0 || !strings.Contains(p.Log(), "wrote "+filepath.Join(dir, "crl.pem")) {
		t.Fatalf("server certs revoke exited %d:\n%s%s", code, p.Log(), p.Stderr())
	}
	crl, err := os.ReadFile(filepath.Join(dir, "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(list, crl, 0o644, true); err != nil {
		t.Fatal(err)
	}
	if err := central.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, clientTimeout, "the reload line", func() bool {
		return hasLine(central, "revocation_reload", "success", "trigger", "reload", "format", "crl", "revoked", "1")
	})
	data := genData(t, 2, "5", "0", 1)
	code, _ := runClient(t, "client-2", clientEnv(2, srv.addr, harness.Merge(agencyEnv(2), map[string]string{"CLI_DATA_FILE": agencyFile(data, 2)})))
	if code == 0 {
		t.Error("agency 2 ran with a revoked certificate")
	}
	// The agency may read the alert before the central logs it.
	eventually(t, clientTimeout, "the central's tls fail line of agency 2's certificate revoked", func() bool {
		for _, l := range harness.Filter(central.Lines(), "tls", "fail") {
			if strings.Contains(l.Raw, "agency 2's certificate") && strings.Contains(l.Raw, "revoked (SERVER_TLS_REVOKED)") {
				return true
			}
		}
		return false
	})
	if central.Exited() {
		t.Fatalf("the central exited at SIGHUP:\n%s", central.Log())
	}
}
