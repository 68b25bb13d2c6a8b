package deploy

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// certsIn is where generar-compose.sh mounts the certificates in a
// container.
const certsIn = "/run/certs"

// newTLSDeployment is newDeployment with mutual TLS, made as
// make docker-compose-up makes it: the real `bin/server certs` writes the
// operator's certificates into dir/certs (with ca.key),
// scripts/deploy-certs.sh copies them for the containers into
// dir/certs-deploy (no ca.key; keys owned by the images' user), and
// ./generar-compose.sh OUTPUT N certs-deploy writes the compose file.
func newTLSDeployment(t *testing.T, agencies int) *deployment {
	t.Helper()
	requireDocker(t)
	if os.Geteuid() != 0 {
		t.Skip("scripts/deploy-certs.sh gives the containers' keys to 10001:10001, which takes root; this test runs as another user")
	}
	d := newDeployment(t, agencies)
	d.makeCerts(agencies)
	if out, err := run(repoRoot, cmdTimeout, "./generar-compose.sh",
		filepath.Join(d.dir, "docker-compose.yaml"), strconv.Itoa(agencies), "certs-deploy"); err != nil {
		t.Fatalf("generar-compose.sh: %v\n%s", err, out)
	}
	return d
}

// makeCerts runs `bin/server certs -dir certs -agencies N` and
// scripts/deploy-certs.sh certs certs-deploy in the deployment's directory,
// and returns what server certs printed.
func (d *deployment) makeCerts(agencies int) string {
	d.t.Helper()
	out, err := run(d.dir, cmdTimeout, filepath.Join(repoRoot, "bin", "server"), "certs",
		"-dir", "certs", "-agencies", strconv.Itoa(agencies))
	if err != nil {
		d.t.Fatalf("server certs: %v\n%s", err, out)
	}
	if o, err := run(d.dir, cmdTimeout, filepath.Join(repoRoot, "scripts", "deploy-certs.sh"), "certs", "certs-deploy"); err != nil {
		d.t.Fatalf("deploy-certs.sh: %v\n%s", err, o)
	}
	return out
}

// runAgency runs, on the deployment's network, a one-off client:latest
// container that says it is agency id and holds agency certOf's
// certificate and key (from certs-deploy), with agency id's data file. It
// returns the container's output and its error (its exit status).
func (d *deployment) runAgency(id, certOf int) (string, error) {
	d.t.Helper()
	deployed := filepath.Join(d.dir, "certs-deploy")
	data := "agency-" + strconv.Itoa(id) + ".csv"
	crt, key := "agency-"+strconv.Itoa(certOf)+".crt", "agency-"+strconv.Itoa(certOf)+".key"
	args := []string{"run", "--rm", "--network", d.network(),
		// The project's label: a container left by a killed run is removed
		// with the project.
		"--label", "com.docker.compose.project=" + d.project,
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
		"--volume", filepath.Join(d.dir, "client", "config.yaml") + ":/app/config.yaml:ro",
		"--volume", filepath.Join(d.dir, ".data", data) + ":/app/.data/" + data + ":ro",
		"--volume", filepath.Join(deployed, "ca.crt") + ":" + certsIn + "/ca.crt:ro",
		"--volume", filepath.Join(deployed, crt) + ":" + certsIn + "/" + crt + ":ro",
		"--volume", filepath.Join(deployed, key) + ":" + certsIn + "/" + key + ":ro",
		"--env", "CLI_ID=" + strconv.Itoa(id),
		"--env", "CLI_TLS_CA=" + certsIn + "/ca.crt",
		"--env", "CLI_TLS_CERT=" + certsIn + "/" + crt,
		"--env", "CLI_TLS_KEY=" + certsIn + "/" + key,
		"--env", "CLI_RETRY_TIMEOUT=10s",
		"client:latest"}
	return run("", cmdTimeout, "docker", args...)
}

// assertMounts checks the certificate mounts of a container: the keys it
// holds are exactly keys, and nothing it mounts is ca.key.
func assertMounts(t *testing.T, name string, keys ...string) {
	t.Helper()
	var got []string
	for _, m := range inspectConfig(t, name).Mounts {
		for _, p := range []string{m.Source, m.Destination} {
			if path.Base(p) == "ca.key" {
				t.Errorf("%s mounts the CA's key: %s -> %s", name, m.Source, m.Destination)
			}
		}
		if strings.HasSuffix(m.Destination, ".key") {
			got = append(got, path.Base(m.Destination))
			if path.Base(m.Source) != path.Base(m.Destination) {
				t.Errorf("%s: %s mounted at %s", name, m.Source, m.Destination)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Errorf("%s mounts the keys %v, want %v", name, got, keys)
	}
}

var serialOf = regexp.MustCompile(`(?m)^\S+ \S*agency-2\.crt identity=agency-2 serial=([0-9a-f]+) `)

// TestComposeTLS runs the deployment with mutual TLS as
// make docker-compose-up does (certificates from the real server certs,
// the containers' copy, generar-compose.sh with a certificate directory):
// the central is healthy through its probe certificate,
// validar-servidor.sh succeeds, a container holding agency 2's key
// cannot act as agency 1 (refused forbidden; nothing stored for it), and
// the lottery completes. No container mounts ca.key; each agency mounts
// only its own key. Then, the central running on, agency 2's certificate
// is revoked as docs/DEPLOY.md says (server certs revoke, make
// docker-certs) and refused at its next handshake once the central has
// looked at its list again; then agency 1's, announced with SIGHUP
// (docker kill -s HUP). The central is never restarted.
func TestComposeTLS(t *testing.T) {
	d := newTLSDeployment(t, 2)
	d.genData("-agencies", "2", "-bets", "400,300", "-winners", "2,1", "-seed", "13")
	clients := clientNames(2)

	// Agency 2 uploads and waits for the draw; agency 1 has not started.
	d.up("server", "client2")
	if s := inspect(t, "server"); s.Health == nil || s.Health.Status != "healthy" {
		t.Fatalf("server health %+v, want healthy (server healthcheck with the probe's certificate)", s.Health)
	}
	server := logs(t, "server")
	if got := mustField(t, "server", server, "tls", "mode"); got != "mutual" {
		t.Errorf("server: action: tls mode %s, want mutual", got)
	}
	out, err := run(repoRoot, cmdTimeout, "./validar-servidor.sh", d.network())
	if err != nil || strings.TrimSpace(lastLines(out, 1)) != "action: test_server | result: success" {
		t.Errorf("validar-servidor.sh %s: %v\n%s", d.network(), err, out)
	}
	waitLog(t, "server", "agency 2's notificacion", func(lines []string) bool {
		return len(find(lines, "notificacion", "success")) == 1
	})

	// The impostor: agency 2's certificate, saying agency 1.
	start := time.Now()
	out, err = d.runAgency(1, 2)
	t.Logf("impostor (agency 2's certificate, CLI_ID=1): exit error %v after %v; its last line: %s",
		err != nil, time.Since(start).Round(time.Millisecond), lastLines(out, 1))
	if err == nil {
		t.Errorf("a container with agency 2's certificate acting as agency 1 exited 0; output:\n%s", out)
	}
	if !strings.Contains(out, "forbidden") {
		t.Errorf("impostor's output does not say forbidden:\n%s", lastLines(out, 10))
	}
	server = logs(t, "server")
	fails := failLines(server)
	if len(fails) != 1 || !strings.Contains(fails[0], "the certificate of agency 2 cannot speak for agency 1") {
		t.Errorf("server: fail lines %q, want one naming \"the certificate of agency 2 cannot speak for agency 1\"", fails)
	} else {
		t.Logf("server: %s", fails[0])
	}
	if n := len(find(server, "apuesta_recibida", "")); n == 0 {
		t.Error("server: no apuesta_recibida line of agency 2")
	}
	for _, i := range find(server, "apuesta_recibida", "") {
		if !strings.Contains(server[i], "agencia: 2") {
			t.Errorf("server stored bets for another agency than 2 before agency 1 started: %s", server[i])
		}
	}

	// The real agency 1: the lottery completes with only its bets.
	d.up()
	exitedZero(t, "", clients...)
	byName := d.composeLogs()
	assertWinners(t, byName, []int{2, 1})
	for _, c := range clients {
		assertNoFail(t, c, byName[c])
	}
	assertWinnersFiles(t, d, byName, []int{2, 1})
	server = logs(t, "server")
	assertAdminInNetwork(t, server)
	if got := mustField(t, "server", server, "sorteo", "bets"); got != "700" {
		t.Errorf("server: sorteo over %s bets, want 700 (400 of agency 1, 300 of agency 2)", got)
	}
	if fails := failLines(server); len(fails) != 1 {
		t.Errorf("server: %d fail lines, want only the impostor's: %q", len(fails), fails)
	}
	assertDrawAfterBets(t, server)

	// Mounts: no ca.key anywhere; the central the central's key and the
	// probe's, each agency its own key only; and least privilege as in
	// plaintext.
	assertMounts(t, "server", "central.key", "probe.key")
	assertLeastPrivilege(t, "server", storageDir)
	for i, c := range clients {
		assertMounts(t, c, "agency-"+strconv.Itoa(i+1)+".key")
		assertLeastPrivilege(t, c, winnersIn)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "certs-deploy", "ca.key")); err == nil {
		t.Error("certs-deploy holds ca.key")
	}
	if t.Failed() {
		t.FailNow()
	}

	// Revocation with no restart, as docs/DEPLOY.md says: server certs
	// revoke (certs/crl.pem), make docker-certs (here deploy-certs.sh),
	// then the central's next look at the list, or SIGHUP.
	started := inspect(t, "server").StartedAt
	m := serialOf.FindStringSubmatch(d.makeCerts(2))
	if m == nil {
		t.Fatal("server certs printed no serial for agency-2.crt")
	}
	d.revoke(2)
	waitReload(t, "file_changed", 1)
	assertRevoked(t, d, 2, "serial "+m[1])
	d.revoke(1)
	if out, err := run("", cmdTimeout, "docker", "kill", "-s", "HUP", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	waitReload(t, "reload", 2)
	assertRevoked(t, d, 1, "agency 1's certificate")
	server = logs(t, "server")
	if s := inspect(t, "server"); !s.Running || s.StartedAt != started || len(find(server, "recovery", "success")) != 1 {
		t.Errorf("server: running %v, started at %s (before the revocations: %s), %d recovery lines: want it never restarted",
			s.Running, s.StartedAt, started, len(find(server, "recovery", "success")))
	}
}

// revoke revokes agencies as an operator does: the real
// `bin/server certs revoke -dir certs` (certs/crl.pem), then
// scripts/deploy-certs.sh certs certs-deploy (make docker-certs).
func (d *deployment) revoke(agencies ...int) {
	d.t.Helper()
	args := []string{"certs", "revoke", "-dir", "certs"}
	for _, a := range agencies {
		args = append(args, strconv.Itoa(a))
	}
	if out, err := run(d.dir, cmdTimeout, filepath.Join(repoRoot, "bin", "server"), args...); err != nil {
		d.t.Fatalf("server certs revoke: %v\n%s", err, out)
	}
	if out, err := run(d.dir, cmdTimeout, filepath.Join(repoRoot, "scripts", "deploy-certs.sh"), "certs", "certs-deploy"); err != nil {
		d.t.Fatalf("deploy-certs.sh: %v\n%s", err, out)
	}
}

// waitReload waits for the central's line of a reload of its revocation
// list by trigger (file_changed: its look every 2 s; reload: SIGHUP) that
// put in force a CRL revoking revoked certificates.
func waitReload(t *testing.T, trigger string, revoked int) {
	t.Helper()
	want := []string{"trigger: " + trigger + " |", "format: crl |", "revoked: " + strconv.Itoa(revoked) + " |"}
	lines := waitLog(t, "server", "revocation_reload line ("+strings.Join(want, " ")+")", func(lines []string) bool {
		for _, i := range find(lines, "revocation_reload", "success") {
			if containsAll(lines[i], want...) {
				return true
			}
		}
		return false
	})
	for _, i := range find(lines, "revocation_reload", "") {
		t.Logf("server: %s", lines[i])
	}
}

// assertRevoked runs a one-off agency with agency id's certificate and
// checks that the central refuses it at the handshake as revoked, naming
// cert.
func assertRevoked(t *testing.T, d *deployment, id int, cert string) {
	t.Helper()
	refused := func(lines []string) []int {
		var out []int
		for _, i := range find(lines, "tls", "fail") {
			if containsAll(lines[i], cert, "revoked (SERVER_TLS_REVOKED)") {
				out = append(out, i)
			}
		}
		return out
	}
	before := len(refused(logs(t, "server")))
	if out, err := d.runAgency(id, id); err == nil {
		t.Errorf("agency %d with its revoked certificate exited 0:\n%s", id, out)
	}
	lines := waitLog(t, "server", "the tls fail line of "+cert+", revoked", func(lines []string) bool {
		return len(refused(lines)) > before
	})
	t.Logf("server: %s", lines[refused(lines)[before]])
}

// containsAll says whether s holds every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
