package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// clientNames returns client1 .. clientN.
func clientNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "client" + strconv.Itoa(i+1)
	}
	return names
}

// assertWinners checks each agency's cant_ganadores in compose logs.
func assertWinners(t *testing.T, byName map[string][]string, want []int) {
	t.Helper()
	for i, w := range want {
		name := "client" + strconv.Itoa(i+1)
		got := mustField(t, name, byName[name], "consulta_ganadores", "cant_ganadores")
		if got != strconv.Itoa(w) {
			t.Errorf("%s: cant_ganadores %s, want %d", name, got, w)
		}
	}
}

// assertDrawAfterBets checks that the central held exactly one draw, and
// only after it had received every batch.
func assertDrawAfterBets(t *testing.T, server []string) {
	t.Helper()
	draws := find(server, "sorteo", "success")
	if len(draws) != 1 {
		t.Fatalf("server: %d action: sorteo | result: success lines, want 1", len(draws))
	}
	received := find(server, "apuesta_recibida", "")
	if len(received) == 0 {
		t.Fatal("server: no apuesta_recibida line")
	}
	if last := received[len(received)-1]; last > draws[0] {
		t.Errorf("server: apuesta_recibida at line %d after the sorteo at line %d: %s", last, draws[0], server[last])
	}
}

// TestComposeCourseDataset is the course's lottery: 5 agencies with the
// course dataset. Every agency exits 0 with its winners, the draw comes
// once after every bet, nothing fails, the central stays up after the
// agencies are gone and stops with exit code 0.
func TestComposeCourseDataset(t *testing.T) {
	zipPath := requireCourseDataset(t)
	d := newDeployment(t, 5)
	bets := extractCourseDataset(t, zipPath, filepath.Join(d.dir, ".data"))
	start := time.Now()
	d.up()
	clients := clientNames(5)
	exitedZero(t, "", clients...)
	t.Logf("lottery of %d bets: %v from up to the last agency's exit", sum(bets), time.Since(start).Round(time.Millisecond))

	byName := d.composeLogs()
	assertWinners(t, byName, []int{2, 3, 3, 2, 0})
	for i, c := range clients {
		if got := mustField(t, c, byName[c], "notificacion", "apuestas"); got != strconv.Itoa(bets[i]) {
			t.Errorf("%s: notified %s bets, want the %d of agency-%d.csv", c, got, bets[i], i+1)
		}
	}
	for name, lines := range byName {
		assertNoFail(t, name, lines)
	}
	assertDrawAfterBets(t, byName["server"])

	if s := inspect(t, "server"); !s.Running {
		t.Fatalf("server is %s (exit code %d) after the agencies left, want running", s.Status, s.ExitCode)
	}
	d.mustCompose("stop", "-t", "10")
	if code := exitCode(t, "server"); code != 0 {
		t.Errorf("server exited with code %d after compose stop -t 10, want 0", code)
	}
	assertClosedGracefully(t, logs(t, "server"))
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestComposeDrawWaitsForAllAgencies runs 3 agencies whose winner counts
// differ (2, 1, 0). With 2 of them done the central holds no draw and they
// wait; the third one's notification brings the draw, and each agency gets
// its own count.
func TestComposeDrawWaitsForAllAgencies(t *testing.T) {
	d := newDeployment(t, 3)
	d.genData("-agencies", "3", "-bets", "3000,2000,1000", "-winners", "2,1,0", "-seed", "11")

	d.up("server", "client1", "client2")
	if got := mustField(t, "server", logs(t, "server"), "config", "agencies_amount"); got != "3" {
		t.Fatalf("server: agencies_amount %s, want 3 (AGENCIES_AMOUNT of the compose file)", got)
	}
	waitLog(t, "server", "2 notificacion lines", func(lines []string) bool {
		return len(find(lines, "notificacion", "success")) == 2
	})
	// The central answers a winners query after the draw, or NotYet after
	// holding it 5 s; give a premature draw time to show.
	time.Sleep(2 * time.Second)
	if draws := find(logs(t, "server"), "sorteo", ""); len(draws) != 0 {
		t.Fatal("server: draw held with 2 of 3 agencies notified")
	}
	for _, c := range []string{"client1", "client2"} {
		if s := inspect(t, c); !s.Running {
			t.Fatalf("%s is %s (exit code %d) before the draw, want running (waiting for its winners)", c, s.Status, s.ExitCode)
		}
	}

	d.up()
	exitedZero(t, "", clientNames(3)...)
	byName := d.composeLogs()
	assertWinners(t, byName, []int{2, 1, 0})
	for name, lines := range byName {
		assertNoFail(t, name, lines)
	}
	server := byName["server"]
	assertDrawAfterBets(t, server)
	if got := mustField(t, "server", server, "sorteo", "ganadores"); got != "3" {
		t.Errorf("server: sorteo ganadores %s, want 3", got)
	}
	if n := len(find(server, "notificacion", "success")); n != 3 {
		t.Errorf("server: %d notificacion lines, want 3", n)
	}
}

// TestComposeGracefulStop stops an agency in the middle of its upload, and
// then the central while agencies upload or wait for the draw: each exits
// 0 after logging its close lines, and so do the agencies left retrying
// when compose stops them.
func TestComposeGracefulStop(t *testing.T) {
	d := newDeployment(t, 3)
	// An agency uploads a million bets in about a second and a half here.
	// To stop agency 1 surely in the middle of its upload, the central is
	// paused (docker pause) once agency 1's first batches are in: agency 1
	// then waits, with batches in flight, for acknowledgements.
	d.genData("-agencies", "3", "-bets", "1000000,1000000,500", "-winners", "2,1,0", "-seed", "5")
	d.up()

	waitLog(t, "server", "apuesta_recibida of agency 1", func(lines []string) bool {
		return len(agencyLines(lines, "apuesta_recibida", "1")) > 0
	})
	if out, err := run("", cmdTimeout, "docker", "pause", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	paused := true
	defer func() {
		if paused {
			run("", cmdTimeout, "docker", "unpause", "server")
		}
	}()
	if s := inspect(t, "client1"); !s.Running {
		t.Fatalf("client1 is %s (exit code %d) before it was stopped: the test needs a bigger file", s.Status, s.ExitCode)
	}
	if code := stopContainer(t, "client1"); code != 0 {
		t.Errorf("client1 stopped mid-upload exited with code %d, want 0", code)
	}
	client1 := logs(t, "client1")
	if _, done := field(client1, "notificacion", "apuestas"); done {
		t.Fatal("client1 finished its upload before docker stop: the test needs a bigger file")
	}
	if len(find(client1, "shutdown", "success")) == 0 {
		t.Errorf("client1: no action: shutdown | result: success line; log:\n%s", strings.Join(client1, "\n"))
	}
	if len(find(client1, "close", "success")) == 0 {
		t.Errorf("client1: no close line for its connection; log:\n%s", strings.Join(client1, "\n"))
	}
	assertNoFail(t, "client1", client1)

	// Agency 2 is in the middle of its upload too, and agency 3 (500 bets)
	// has notified and waits for a draw that agency 1 will never complete.
	if out, err := run("", cmdTimeout, "docker", "unpause", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	paused = false
	waitLog(t, "server", "notificacion of agency 3", func(lines []string) bool {
		return len(agencyLines(lines, "notificacion", "3")) > 0
	})
	_, client2Done := field(logs(t, "client2"), "notificacion", "apuestas")
	t.Logf("stopping the central with agency 2 %s and agency 3 waiting for the draw",
		map[bool]string{true: "waiting for the draw", false: "uploading"}[client2Done])
	if code := stopContainer(t, "server"); code != 0 {
		t.Errorf("server stopped with agencies connected exited with code %d, want 0", code)
	}
	server := logs(t, "server")
	assertClosedGracefully(t, server)
	assertNoFail(t, "server", server)
	if draws := find(server, "sorteo", ""); len(draws) != 0 {
		t.Errorf("server: draw held without agency 1: %s", server[draws[0]])
	}
	if s := inspect(t, "server"); s.Status != "exited" {
		t.Errorf("server is %s after docker stop: restart: on-failure must not restart a clean exit", s.Status)
	}

	// The agencies left retry their connection; compose stop ends them.
	d.mustCompose("stop", "-t", "10")
	for _, c := range []string{"client2", "client3"} {
		if code := exitCode(t, c); code != 0 {
			t.Errorf("%s exited with code %d after compose stop, want 0", c, code)
		}
	}
}

// agencyLines returns the indexes of the successful lines of action about
// agency.
func agencyLines(lines []string, action, agency string) []int {
	var idx []int
	for _, i := range find(lines, action, "success") {
		if l, _ := logging.Parse(lines[i]); l.Fields["agencia"] == agency {
			idx = append(idx, i)
		}
	}
	return idx
}

// TestComposeConfigInjection edits config.ini and config.yaml and runs up
// again: the containers read the new values, and no image is rebuilt.
// stop + up keeps the lottery (the storage is the container's own); down +
// up starts a new one.
func TestComposeConfigInjection(t *testing.T) {
	d := newDeployment(t, 2)
	d.genData("-agencies", "2", "-bets", "1000", "-winners", "2,1", "-seed", "3")
	images := imageIDs(t)

	// lottery runs the deployment until its agencies are done and returns
	// the central's log; rerun first stops it (stop or down) as an
	// operator would.
	lottery := func() []string {
		t.Helper()
		d.up()
		waitExited(t, exitTimeout, clientNames(2)...)
		return logs(t, "server")
	}
	rerun := func(how ...string) []string {
		t.Helper()
		d.mustCompose(how...)
		return lottery()
	}

	server := lottery()
	if got := mustField(t, "server", server, "config", "logging_level"); got != "INFO" {
		t.Fatalf("server: logging_level %s before the edit, want INFO", got)
	}
	if got := mustField(t, "client1", logs(t, "client1"), "config", "batch_max_amount"); got != "200" {
		t.Fatalf("client1: batch_max_amount %s before the edit, want 200", got)
	}
	assertBatchSize(t, server, "200")

	ini := d.readFile("server/config.ini")
	yaml := d.readFile("client/config.yaml")
	newIni := strings.Replace(ini, "LOGGING_LEVEL = INFO", "LOGGING_LEVEL = DEBUG", 1)
	newYaml := strings.Replace(yaml, "maxAmount: 200", "maxAmount: 37", 1)
	if newIni == ini || newYaml == yaml {
		t.Fatal("server/config.ini or client/config.yaml no longer holds LOGGING_LEVEL = INFO or maxAmount: 200")
	}
	d.writeFile("server/config.ini", newIni)
	d.writeFile("client/config.yaml", newYaml)

	// stop + up: the same containers read the new files; the central
	// recovers its 2000 bets and the lottery goes on where it was.
	server = rerun("stop", "-t", "10")
	if got := mustField(t, "server", server, "config", "logging_level"); got != "DEBUG" {
		t.Errorf("server: logging_level %s after the edit and up, want DEBUG", got)
	}
	if got := mustField(t, "server", server, "recovery", "bets"); got != "2000" {
		t.Errorf("server: recovered %s bets after stop + up, want 2000", got)
	}
	for _, c := range clientNames(2) {
		lines := logs(t, c)
		if got := mustField(t, c, lines, "config", "batch_max_amount"); got != "37" {
			t.Errorf("%s: batch_max_amount %s after the edit and up, want 37", c, got)
		}
		if code := exitCode(t, c); code != 0 {
			t.Errorf("%s exited with code %d after stop + up, want 0", c, code)
		}
	}
	assertWinners(t, d.composeLogs(), []int{2, 1})

	// down + up: a new lottery, uploaded in batches of 37.
	server = rerun("down")
	if got := mustField(t, "server", server, "recovery", "bets"); got != "0" {
		t.Errorf("server: recovered %s bets after down + up, want 0 (a new lottery)", got)
	}
	if got := mustField(t, "server", server, "config", "logging_level"); got != "DEBUG" {
		t.Errorf("server: logging_level %s after down + up, want DEBUG", got)
	}
	if !hasLevel(server, "DEBUG") {
		t.Error("server: no DEBUG line with LOGGING_LEVEL = DEBUG")
	}
	assertBatchSize(t, server, "37")
	byName := d.composeLogs()
	assertWinners(t, byName, []int{2, 1})
	for name, lines := range byName {
		assertNoFail(t, name, lines)
	}

	if after := imageIDs(t); after != images {
		t.Errorf("images changed during the test: %s, then %s", images, after)
	}
}

// assertBatchSize checks that the largest batch the central received holds
// want bets.
func assertBatchSize(t *testing.T, server []string, want string) {
	t.Helper()
	largest := 0
	for _, i := range find(server, "apuesta_recibida", "success") {
		l, _ := logging.Parse(server[i])
		n, _ := strconv.Atoi(l.Fields["cantidad"])
		largest = max(largest, n)
	}
	if strconv.Itoa(largest) != want {
		t.Errorf("server: largest batch received %d bets, want %s (batch.maxAmount)", largest, want)
	}
}

func hasLevel(lines []string, level string) bool {
	for _, s := range lines {
		if l, ok := logging.Parse(s); ok && l.Level == level {
			return true
		}
	}
	return false
}

func imageIDs(t *testing.T) string {
	t.Helper()
	out, err := run("", cmdTimeout, "docker", "image", "inspect", "--format", "{{.Id}}", "server:latest", "client:latest")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return strings.Join(strings.Fields(out), " ")
}

// TestComposeStorageOverride runs with docker-compose.storage.yaml: the
// bets live on a named volume, so down + up keeps the lottery, and
// down --volumes ends it.
func TestComposeStorageOverride(t *testing.T) {
	d := newDeployment(t, 1)
	copyFile(t, filepath.Join(repoRoot, "docker-compose.storage.yaml"), filepath.Join(d.dir, "docker-compose.storage.yaml"))
	d.files = append(d.files, "docker-compose.storage.yaml")
	d.genData("-agencies", "1", "-bets", "700", "-winners", "3", "-seed", "9")

	d.up()
	waitExited(t, exitTimeout, "client1")
	server := logs(t, "server")
	if got := mustField(t, "server", server, "config", "storage_filepath"); !strings.HasPrefix(got, "/app/storage/") {
		t.Fatalf("server: storage_filepath %s, want one in /app/storage/ (the override's volume)", got)
	}
	volume := d.project + "_bets"
	if out, err := run("", cmdTimeout, "docker", "volume", "inspect", volume); err != nil {
		t.Fatalf("volume %s: %v\n%s", volume, err, out)
	}

	d.mustCompose("down")
	if out, err := run("", cmdTimeout, "docker", "volume", "inspect", volume); err != nil {
		t.Fatalf("volume %s gone after down (without --volumes): %v\n%s", volume, err, out)
	}
	d.up()
	waitExited(t, exitTimeout, "client1")
	server = logs(t, "server")
	if got := mustField(t, "server", server, "recovery", "bets"); got != "700" {
		t.Errorf("server: recovered %s bets after down + up on the volume, want 700", got)
	}
	if code := exitCode(t, "client1"); code != 0 {
		t.Errorf("client1 exited with code %d, want 0", code)
	}
	assertWinners(t, d.composeLogs(), []int{3})
}

// TestValidarServidor runs validar-servidor.sh against a running
// deployment, a stopped central and no deployment at all.
func TestValidarServidor(t *testing.T) {
	const (
		success = "action: test_server | result: success\n"
		fail    = "action: test_server | result: fail\n"
	)
	d := newDeployment(t, 1)
	d.genData("-agencies", "1", "-bets", "100", "-seed", "2")

	check := func(when, want string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(repoRoot, "validar-servidor.sh"), args...)
		cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+d.project)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("validar-servidor.sh: %v", err)
			}
			code = ee.ExitCode()
		}
		wantCode := 0
		if want == fail {
			wantCode = 1
		}
		t.Logf("validar-servidor.sh %s %s: %v: %q, exit %d", strings.Join(args, " "), when,
			time.Since(start).Round(time.Millisecond), out, code)
		if string(out) != want || code != wantCode {
			t.Errorf("validar-servidor.sh %s %s: printed %q and exited %d, want %q and %d; stderr:\n%s",
				strings.Join(args, " "), when, out, code, want, wantCode, stderr.String())
		}
	}

	check("before up", fail)
	d.up()
	check("with the deployment up", success)
	check("with the deployment up", success, d.network())
	d.mustCompose("stop", "-t", "10", "server")
	check("with the server stopped", fail)
	d.mustCompose("down")
	check("after down", fail)
}

// TestComposeFileAccepted has compose itself read the generated files
// (plaintext and mutual TLS) and the storage override: compose refuses an
// unknown key or version.
func TestComposeFileAccepted(t *testing.T) {
	compose := composeCommand()
	if compose == nil {
		t.Skip("needs `docker compose` (v2 plugin) or `docker-compose` (v1.29): neither is installed")
	}
	dir := t.TempDir()
	// N, and CERTDIR for mutual TLS.
	for i, gen := range [][]string{{"0"}, {"3"}, {"3", "certs-deploy"}} {
		file := filepath.Join(dir, fmt.Sprintf("compose-%d.yaml", i))
		generate(t, file, gen[0], gen[1:]...)
		for _, files := range [][]string{{file}, {file, filepath.Join(repoRoot, "docker-compose.storage.yaml")}} {
			args := append([]string{}, compose[1:]...)
			args = append(args, "-p", testPrefix+"config")
			for _, f := range files {
				args = append(args, "-f", f)
			}
			args = append(args, "config", "--quiet")
			if out, err := run(dir, cmdTimeout, compose[0], args...); err != nil {
				t.Errorf("%s rejects %v: %v\n%s", strings.Join(compose, " "), files, err, out)
			}
		}
	}
}
