package deploy

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// The replicated deployment of docker-compose-replicas.yaml: its file, its
// centrals and its database servers, named as the file names them.
const replicasFile = "docker-compose-replicas.yaml"

var (
	replicaNames = []string{"server1", "server2", "server3"}
	dbPrimary    = "db-primary"
	dbStandby    = "db-standby"
)

// replicaBatch is the agencies' batch size in the replica tests. The course
// dataset uploads in well under a second in the configuration's batches of
// 200, before a test could kill anything; batches of 5 make the upload
// last several seconds (as e2e's fault tests do), so the kill lands in it.
const replicaBatch = 5

// replicaWinners is what each agency of the course dataset, or of gendata's
// files with its default winners, must be told.
var replicaWinners = []int{2, 3, 3, 2, 0}

// replicaGenBets is each agency's bets where the course dataset is absent:
// as many as the course's largest files, so that the upload still runs
// when the kill lands (at 4,000 the lottery could end first: CI, seed
// 1796698411946012878).
const replicaGenBets = 16000

// newReplicaDeployment prepares docker-compose-replicas.yaml in a
// temporary directory: copies of the compose file and both config files,
// a .env with a random POSTGRES_PASSWORD, an override that makes the
// agencies upload in batches of replicaBatch, and the five agencies' files
// (the course dataset where present, else bin/gendata's with the course's
// winners). It returns the deployment and each agency's bet count.
func newReplicaDeployment(t *testing.T) (*deployment, []int) {
	t.Helper()
	requireDocker(t)
	requirePostgresImage(t)
	dir := t.TempDir()
	for _, f := range []string{"server/config.ini", "client/config.yaml", replicasFile} {
		copyFile(t, filepath.Join(repoRoot, f), filepath.Join(dir, f))
	}
	d := &deployment{t: t, dir: dir, project: testPrefix + randomSuffix(t),
		files: []string{replicasFile, "replicas-test.yaml"}}
	d.writeFile(".env", "POSTGRES_PASSWORD="+randomSuffix(t)+randomSuffix(t)+"\n")
	var override strings.Builder
	override.WriteString("version: \"2.4\"\nservices:\n")
	for _, c := range clientNames(len(replicaWinners)) {
		fmt.Fprintf(&override, "  %s:\n    environment:\n      - CLI_BATCH_MAXAMOUNT=%d\n", c, replicaBatch)
	}
	d.writeFile("replicas-test.yaml", override.String())
	data := filepath.Join(dir, ".data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("compose project %s in %s", d.project, dir)
	t.Cleanup(d.teardown)
	if _, err := os.Stat(courseDataset()); err == nil {
		t.Logf("data: the course dataset, %s", courseDataset())
		return d, extractCourseDataset(t, courseDataset(), data)
	}
	t.Logf("data: bin/gendata (the course dataset is absent)")
	d.genData("-agencies", strconv.Itoa(len(replicaWinners)), "-bets", strconv.Itoa(replicaGenBets))
	counts := make([]int, len(replicaWinners))
	for i := range counts {
		b := d.readFile(filepath.Join(".data", "agency-"+strconv.Itoa(i+1)+".csv"))
		counts[i] = bytes.Count([]byte(b), []byte("\n"))
	}
	return d, counts
}

// replicaSeed returns the seed of the test's random choices, from
// REPLICAS_SEED or the clock, and logs it.
func replicaSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("REPLICAS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("REPLICAS_SEED=%q: not a seed: %v", v, err)
		}
		seed = s
	}
	t.Logf("seed %d (run again with REPLICAS_SEED=%d)", seed, seed)
	return seed
}

// waitUploading waits until the central named has stored a batch: the
// agencies are uploading through it.
func waitUploading(t *testing.T, central string) {
	t.Helper()
	waitLog(t, central, "action: apuesta_recibida line", func(lines []string) bool {
		return len(find(lines, "apuesta_recibida", "success")) > 0
	})
}

// killContainer runs docker kill (SIGKILL: restart: on-failure leaves the
// container down, as after a manual stop).
func killContainer(t *testing.T, name string) {
	t.Helper()
	if out, err := run("", cmdTimeout, "docker", "kill", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("docker kill %s", name)
}

// finishLottery waits for every agency to exit and checks what each must
// have done: exit 0, notify its file's bet count (or find it notified)
// and be told its winners.
// It returns the compose logs by container.
func finishLottery(t *testing.T, d *deployment, bets []int) map[string][]string {
	t.Helper()
	clients := clientNames(len(bets))
	exitedZero(t, "", clients...)
	byName := d.composeLogs()
	assertWinners(t, byName, replicaWinners)
	for i, c := range clients {
		// An agency whose Done the killed central stored, but whose answer
		// died with it, learns on its next connection that it is done,
		// and checks what the central holds: verificacion, not
		// notificacion, says its count then.
		got, ok := field(byName[c], "notificacion", "apuestas")
		if !ok {
			got = mustField(t, c, byName[c], "verificacion", "apuestas")
		}
		if got != strconv.Itoa(bets[i]) {
			t.Errorf("%s: notified %s bets, want the %d of agency-%d.csv", c, got, bets[i], i+1)
		}
	}
	return byName
}

// assertOneDraw checks the centrals' sorteo lines: the draw is recorded
// once in the database, and every central that answered a winners query
// logs it, held or learnt, so each sorteo line must be a success over
// every bet with one and the same digest, and at least one central must
// have logged one.
func assertOneDraw(t *testing.T, byName map[string][]string, total int) {
	t.Helper()
	digests := make(map[string][]string) // digest -> centrals
	for _, s := range replicaNames {
		for _, i := range find(byName[s], "sorteo", "") {
			l, _ := logging.Parse(byName[s][i])
			if l.Result != "success" || l.Fields["bets"] != strconv.Itoa(total) {
				t.Errorf("%s: %s, want a success over the %d bets", s, byName[s][i], total)
			}
			digests[l.Fields["digest"]] = append(digests[l.Fields["digest"]], s)
		}
	}
	switch len(digests) {
	case 0:
		t.Errorf("no central logged action: sorteo")
	case 1:
		for d, who := range digests {
			t.Logf("sorteo digest %s logged by %s", d, strings.Join(who, ", "))
		}
	default:
		t.Errorf("the centrals logged different draws: %v", digests)
	}
}

// assertStoredCounts checks, on one database server, the agencies' bet
// counts that the centrals committed: each agency's file, once. A
// synchronous commit returns once the standby has it on disk, and a read
// there sees it once replayed, so it asks again for a while.
func assertStoredCounts(t *testing.T, server string, bets []int) {
	t.Helper()
	var want []string
	for i, n := range bets {
		want = append(want, strconv.Itoa(i+1)+" "+strconv.Itoa(n))
	}
	deadline := time.Now().Add(replicationTimeout)
	for {
		out, err := psql(server, "lottery", "SELECT agency || ' ' || bets FROM agencies ORDER BY agency")
		got := nonEmptyLines(out)
		if err == nil && slices.Equal(got, want) {
			t.Logf("%s holds every agency's bets: %v", server, got)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: agencies' bets %v (%v), want %v", server, got, err, want)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// assertMovedFrom checks that some agency logged a move from the central
// named to another replica.
func assertMovedFrom(t *testing.T, byName map[string][]string, central string) {
	t.Helper()
	for _, c := range clientNames(len(replicaWinners)) {
		for _, i := range find(byName[c], "conectar", "success") {
			if strings.Contains(byName[c][i], "| previous: "+central+":12345") {
				t.Logf("%s: %s", c, byName[c][i])
				return
			}
		}
	}
	t.Errorf("no agency logged action: conectar with previous: %s:12345 after its kill", central)
}

// stopAll stops the deployment with compose stop, checks that every
// container still running exited 0 (the killed ones are left out), and
// runs down, which must succeed.
func stopAll(t *testing.T, d *deployment, killed ...string) {
	t.Helper()
	d.mustCompose("stop", "-t", "10")
	for _, name := range append([]string{dbPrimary, dbStandby}, replicaNames...) {
		if slices.Contains(killed, name) {
			continue
		}
		if code := exitCode(t, name); code != 0 {
			lines := logs(t, name)
			t.Errorf("%s: exit code %d after compose stop, want 0; its last lines:\n%s", name, code,
				strings.Join(lines[max(0, len(lines)-80):], "\n"))
		}
	}
	d.mustCompose("down", "--volumes")
}

// TestComposeReplicas runs docker-compose-replicas.yaml: three centrals
// over a primary and a synchronous standby, and the course's five
// agencies, each given the three replicas. While the agencies upload, one
// central, picked at random (seeded), is killed. Every agency exits 0 with
// its own winners after notifying its file's count, some agency moved
// from the killed central to another, the draw is one (every sorteo line
// has the same digest, over every bet), the primary and the standby both
// hold each agency's count, no container logged a fail line, and the rest
// stops with exit code 0 and goes with down.
func TestComposeReplicas(t *testing.T) {
	d, bets := newReplicaDeployment(t)
	rng := rand.New(rand.NewPCG(replicaSeed(t), 0x7265706c))
	victim := replicaNames[rng.IntN(len(replicaNames))]
	start := time.Now()
	d.up()
	waitUploading(t, victim)
	killContainer(t, victim)
	byName := finishLottery(t, d, bets)
	t.Logf("lottery of %d bets with %s killed: %v from up to the last agency's exit",
		sum(bets), victim, time.Since(start).Round(time.Millisecond))
	assertOneDraw(t, byName, sum(bets))
	assertMovedFrom(t, byName, victim)
	for name, lines := range byName {
		assertNoFail(t, name, lines)
	}
	if s := inspect(t, victim); s.Running {
		t.Errorf("%s is running again after docker kill: restart: on-failure should leave it down", victim)
	}
	assertStoredCounts(t, dbPrimary, bets)
	assertStoredCounts(t, dbStandby, bets)
	stopAll(t, d, victim)
}

// TestComposeReplicasPrimaryLoss is the database failover drill of
// docs/DEPLOY.md: while the agencies upload, the primary is killed, and a
// moment later the standby is promoted with pg_ctl promote. The centrals'
// writes fail until then (the agencies retry, moving between replicas);
// then each central finds the new primary by itself (STORAGE_URL's second
// host, target_session_attrs=read-write), and the lottery ends as without
// the loss: every agency exits 0 with its own winners, one draw over
// every bet, and the promoted server holds each agency's count exactly.
func TestComposeReplicasPrimaryLoss(t *testing.T) {
	d, bets := newReplicaDeployment(t)
	start := time.Now()
	d.up()
	waitUploading(t, replicaNames[0])
	killContainer(t, dbPrimary)
	// An outage the agencies see: their batches are refused meanwhile.
	time.Sleep(2 * time.Second)
	if out, err := run("", cmdTimeout, "docker", "exec", dbStandby, "pg_ctl", "promote"); err != nil {
		t.Fatalf("promoting %s: %v\n%s", dbStandby, err, out)
	}
	if got, err := psql(dbStandby, "postgres", "SELECT pg_is_in_recovery()"); err != nil || got != "f" {
		t.Fatalf("%s after pg_ctl promote: pg_is_in_recovery() = %q, %v; want f", dbStandby, got, err)
	}
	t.Logf("%s promoted %v after up", dbStandby, time.Since(start).Round(time.Millisecond))
	byName := finishLottery(t, d, bets)
	t.Logf("lottery of %d bets with the primary lost: %v from up to the last agency's exit",
		sum(bets), time.Since(start).Round(time.Millisecond))
	assertOneDraw(t, byName, sum(bets))
	for _, c := range clientNames(len(bets)) {
		assertNoFail(t, c, byName[c])
	}
	assertStoredCounts(t, dbStandby, bets)
	stopAll(t, d, dbPrimary)
}

// TestComposeReplicasFileAccepted checks, without a Docker engine, that
// compose accepts docker-compose-replicas.yaml when POSTGRES_PASSWORD is
// set, and refuses it, naming the variable, when it is not: no deployment
// starts with an empty database password.
func TestComposeReplicasFileAccepted(t *testing.T) {
	compose := composeCommand()
	if compose == nil {
		t.Skip("needs `docker compose` (v2 plugin) or `docker-compose` (v1.29): neither is installed")
	}
	dir := t.TempDir() // no .env here
	copyFile(t, filepath.Join(repoRoot, replicasFile), filepath.Join(dir, replicasFile))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTGRES_PASSWORD=") {
			env = append(env, kv)
		}
	}
	for _, tc := range []struct {
		name   string
		env    []string
		accept bool
	}{
		{"with the password", append(slices.Clone(env), "POSTGRES_PASSWORD=0123abcd"), true},
		{"without it", env, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(slices.Clone(compose[1:]), "-p", testPrefix+"config", "-f", replicasFile, "config", "--quiet")
			cmd := exec.Command(compose[0], args...)
			cmd.Dir, cmd.Env = dir, tc.env
			out, err := cmd.CombinedOutput()
			switch {
			case tc.accept && err != nil:
				t.Errorf("rejected: %v\n%s", err, out)
			case !tc.accept && err == nil:
				t.Errorf("accepted without POSTGRES_PASSWORD")
			case !tc.accept && !strings.Contains(string(out), "POSTGRES_PASSWORD"):
				t.Errorf("refused without naming POSTGRES_PASSWORD: %s", out)
			}
		})
	}
}
