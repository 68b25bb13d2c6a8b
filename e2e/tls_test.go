package e2e

import (
	"path/filepath"
	"strconv"
	"testing"

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
