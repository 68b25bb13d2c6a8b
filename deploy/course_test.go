package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// courseConfigINI is the course's own server/config.ini, byte for byte: its
// SERVER_IP = server is a host name that resolves to the container's
// address on the compose network, not to a loopback address, and its
// backlog is the course's 5.
const courseConfigINI = `[DEFAULT]
SERVER_PORT = 12345
SERVER_IP = server
SERVER_LISTEN_BACKLOG = 5
LOGGING_LEVEL = INFO
`

// courseConfigYAML is the course's own client/config.yaml, byte for byte:
// no id key (each container's CLI_ID gives it) and the legacy loop keys.
const courseConfigYAML = `server:
  address: "server:12345"
loop:
  amount: 5
  period: "5s"
log:
  level: "info"
`

// newCourseDeployment prepares, in a temporary copy of the deployment's
// layout, what a course user has: the course's config.ini (with
// LOGGING_LEVEL = level) and config.yaml, and the compose file that
// `./generar-compose.sh docker-compose-dev.yaml agencies` writes there.
// The caller writes .data. Unlike newDeployment it copies none of our own
// configuration files.
//
// The course user runs plain `docker compose -f docker-compose-dev.yaml`,
// whose project name is the directory's. The tests pass -p with a name of
// their own prefix instead, so that a run never collides with another
// project (or a user's deployment) and a killed run's leftovers are found
// and removed by the next (see setupDocker).
func newCourseDeployment(t *testing.T, agencies int, level string) *deployment {
	t.Helper()
	requireDocker(t)
	dir := t.TempDir()
	ini := strings.Replace(courseConfigINI, "LOGGING_LEVEL = INFO", "LOGGING_LEVEL = "+level, 1)
	files := map[string]string{"server/config.ini": ini, "client/config.yaml": courseConfigYAML}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, ".data"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(repoRoot, "generar-compose.sh"), filepath.Join(dir, "generar-compose.sh"))
	if err := os.Chmod(filepath.Join(dir, "generar-compose.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dir, cmdTimeout, "./generar-compose.sh", "docker-compose-dev.yaml", strconv.Itoa(agencies)); err != nil {
		t.Fatalf("./generar-compose.sh: %v\n%s", err, out)
	}
	d := &deployment{t: t, dir: dir, project: testPrefix + randomSuffix(t), files: []string{"docker-compose-dev.yaml"}}
	t.Logf("compose project %s in %s", d.project, dir)
	t.Cleanup(d.teardown)
	return d
}

// buildLikeACourseUser builds the binaries and both images with the
// commands the course's instructions give, and no other make target.
// They run in the repository, whose sources and Dockerfiles they need;
// only the binaries and the images change (both are built already by
// setupDocker, so this is quick).
func buildLikeACourseUser(t *testing.T) {
	t.Helper()
	for _, cmd := range [][]string{
		{"make", "build"},
		{"docker", "build", "-f", "./server/Dockerfile", "-t", "server:latest", "."},
		{"docker", "build", "-f", "./client/Dockerfile", "-t", "client:latest", "."},
	} {
		if out, err := run(repoRoot, buildTimeout, cmd[0], cmd[1:]...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
}

// TestComposeCourseConfig deploys with the course's original config.ini
// and config.yaml, unchanged, as a course user would: make build, the
// generated docker-compose-dev.yaml, docker build of both images, and
// plain compose up -d. The lottery of the course dataset completes
// (winners 2, 3, 3, 2, 0, one draw, no fail line), the central stops with
// exit code 0, and after a plain down (no -v, as the course's scripts do)
// a second up holds a fresh lottery with the same results, not one over
// the first one's bets as well.
func TestComposeCourseConfig(t *testing.T) {
	zipPath := requireCourseDataset(t)
	d := newCourseDeployment(t, 5, "INFO")
	bets := extractCourseDataset(t, zipPath, filepath.Join(d.dir, ".data"))
	buildLikeACourseUser(t)
	clients := clientNames(5)

	var firstWinners string
	for round := 1; round <= 2; round++ {
		start := time.Now()
		d.up()
		exitedZero(t, fmt.Sprintf("round %d: ", round), clients...)
		t.Logf("round %d: %v from up to the last agency's exit", round, time.Since(start).Round(time.Millisecond))
		byName := d.composeLogs()
		assertWinners(t, byName, []int{2, 3, 3, 2, 0})
		for i, c := range clients {
			if got := mustField(t, c, byName[c], "notificacion", "apuestas"); got != strconv.Itoa(bets[i]) {
				t.Errorf("round %d: %s notified %s bets, want the %d of agency-%d.csv", round, c, got, bets[i], i+1)
			}
		}
		for name, lines := range byName {
			assertNoFail(t, name, lines)
		}
		server := byName["server"]
		assertDrawAfterBets(t, server)
		// A fresh lottery: the central starts from no bets, and its draw
		// finds the same winners, not twice as many.
		if got := mustField(t, "server", server, "recovery", "bets"); got != "0" {
			t.Errorf("round %d: server recovered %s bets, want 0 (a fresh lottery)", round, got)
		}
		winners := mustField(t, "server", server, "sorteo", "ganadores")
		if round == 1 {
			firstWinners = winners
		} else if winners != firstWinners {
			t.Errorf("round 2: sorteo ganadores %s, want %s as in round 1", winners, firstWinners)
		}

		if s := inspect(t, "server"); !s.Running {
			t.Fatalf("round %d: server is %s (exit code %d) after the agencies left, want running", round, s.Status, s.ExitCode)
		}
		d.mustCompose("stop", "-t", "10")
		if code := exitCode(t, "server"); code != 0 {
			t.Errorf("round %d: server exited with code %d after compose stop -t 10, want 0", round, code)
		}
		assertClosedGracefully(t, logs(t, "server"))
		if round == 1 {
			d.mustCompose("down")
		}
	}
}

// drawOrderRuns is how many lotteries TestComposeDrawLoggedBeforeWinners
// holds: before the draw's release was ordered, 3 in 12 showed an agency's
// winners before the draw in the merged log.
const drawOrderRuns = 20

// TestComposeDrawLoggedBeforeWinners holds drawOrderRuns lotteries of 3
// agencies (100 bets each, winners 2, 1, 0) with the course's files at
// LOGGING_LEVEL = DEBUG, and checks in each that the engine read the
// central's sorteo line before any agency's line with its winners: by the
// timestamps of `logs --timestamps`, which are the times the engine read
// each line, the order in which a merged log shows them.
func TestComposeDrawLoggedBeforeWinners(t *testing.T) {
	d := newCourseDeployment(t, 3, "DEBUG")
	d.genData("-agencies", "3", "-bets", "100,100,100", "-winners", "2,1,0", "-seed", "17")
	clients := clientNames(3)
	var disorders []string
	var margins []time.Duration // from the sorteo line to the first winners line, per run
	start := time.Now()
	for i := 1; i <= drawOrderRuns; i++ {
		d.up()
		if !exitedZero(t, fmt.Sprintf("run %d: ", i), clients...) {
			t.FailNow()
		}
		out := d.mustCompose("logs", "--timestamps", "--no-color")
		byName := make(map[string][]string)
		for _, line := range nonEmptyLines(out) {
			if m := composePrefix.FindStringSubmatch(line); m != nil {
				byName[m[1]] = append(byName[m[1]], m[2])
			}
		}
		assertWinners(t, byName, []int{2, 1, 0})
		msg, margin := drawReadFirst(t, byName, clients)
		if msg != "" {
			disorders = append(disorders, fmt.Sprintf("run %d: %s", i, msg))
		}
		margins = append(margins, margin)
		d.mustCompose("down", "-t", "5")
		if t.Failed() {
			t.FailNow()
		}
	}
	slices.Sort(margins)
	t.Logf("%d lotteries in %v; winners logged before the draw in %d of them; "+
		"sorteo to first winners line: min %v, median %v, max %v",
		drawOrderRuns, time.Since(start).Round(time.Millisecond), len(disorders),
		margins[0], margins[len(margins)/2], margins[len(margins)-1])
	if len(disorders) > 0 {
		t.Errorf("in %d of %d runs the engine read an agency's winners before the central's sorteo line:\n%s",
			len(disorders), drawOrderRuns, strings.Join(disorders, "\n"))
	}
}

// drawReadFirst returns what is out of order when a winners line of an
// agency (consulta_ganadores | result: success) carries a timestamp
// earlier than or equal to the central's sorteo line ("" when none does),
// and the time from the sorteo line to the first winners line (negative
// when out of order).
// An agency's consulta_ganadores | result: in_progress lines (DEBUG: the
// central answered NotYet) come before the draw by nature and are not
// winners.
func drawReadFirst(t *testing.T, byName map[string][]string, clients []string) (string, time.Duration) {
	t.Helper()
	stamp := func(who, line string) time.Time {
		ts, _, _ := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("%s: no timestamp at the start of %q: %v", who, line, err)
		}
		return at
	}
	draws := find(byName["server"], "sorteo", "success")
	if len(draws) != 1 {
		t.Fatalf("server: %d sorteo lines, want 1; log:\n%s", len(draws), strings.Join(byName["server"], "\n"))
	}
	drawLine := byName["server"][draws[0]]
	drawAt := stamp("server", drawLine)
	var bad []string
	margin := time.Duration(1<<63 - 1)
	for _, c := range clients {
		for _, i := range find(byName[c], "consulta_ganadores", "success") {
			at := stamp(c, byName[c][i])
			margin = min(margin, at.Sub(drawAt))
			if !at.After(drawAt) {
				bad = append(bad, fmt.Sprintf("%s read %v before the sorteo", c, drawAt.Sub(at)))
			}
		}
	}
	if len(bad) == 0 {
		return "", margin
	}
	return strings.Join(bad, ", ") + " (sorteo: " + drawLine + ")", margin
}
