package e2e

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// replicas is how many centrals share the database in the replica tests.
const replicas = 3

// startReplicas starts n centrals over the database at url, each on its
// own address, and returns them with their addresses joined by commas, as
// an agency's CLI_SERVER_ADDRESS lists them.
func startReplicas(t *testing.T, n int, url string, env map[string]string) ([]*crashServer, string) {
	t.Helper()
	env = harness.Merge(env, map[string]string{"STORAGE_URL": url})
	var servers []*crashServer
	var addrs []string
	for range n {
		s := newCrashServer(t, t.TempDir(), env)
		s.start()
		servers = append(servers, s)
		addrs = append(addrs, s.addr)
	}
	return servers, strings.Join(addrs, ",")
}

// TestReplicaCrash runs the course's lottery through three centrals over
// one PostgreSQL database, each agency given all three addresses, while
// the centrals are killed with SIGKILL at random moments (seeded; the
// seed is logged) and started again. At the end every agency has exited
// 0 with its own winners, the database holds each agency's file exactly,
// the draw was held once, and its digest is the one the files give, the
// same as the file store's.
func TestReplicaCrash(t *testing.T) {
	url := pgtest.Database(t)
	seed := testSeed(t, "REPLICA_SEED")
	rng := rand.New(rand.NewPCG(seed, 0x7265706c))
	data := faultData(t)
	servers, addrs := startReplicas(t, replicas, url, map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(len(courseBets))})
	clients := make([]*harness.Process, len(courseBets))
	for i := range clients {
		clients[i] = startClient(t, "client-"+strconv.Itoa(i+1), faultClientEnv(i+1, addrs, data, crashClientTimeout))
	}
	kills, midUpload := 0, 0
	for kills < 8 || (notified(clients) < len(clients) && kills < 30) {
		time.Sleep(randDuration(rng, 5*time.Millisecond, 150*time.Millisecond))
		s := servers[rng.IntN(len(servers))]
		s.kill()
		kills++
		if notified(clients) < len(clients) {
			midUpload++
		}
		t.Logf("kill %d: %s of %s, %d agencies notified", kills, s.cur().Name(), s.addr, notified(clients))
		time.Sleep(randDuration(rng, 0, 100*time.Millisecond))
		s.start()
	}
	finishClients(t, clients, courseWinners)
	if midUpload < 3 {
		t.Errorf("%d of %d kills landed before every agency had notified, want at least 3", midUpload, kills)
	}
	for _, s := range servers {
		(&harness.Central{Process: s.cur()}).Stop(t)
	}
	be := backend{name: "postgres", url: url}
	agencyDigests, draw := expectedDigests(t, data, len(courseBets))
	for _, s := range servers {
		for _, r := range s.runs {
			for _, l := range harness.Filter(r.Lines(), "sorteo", "") {
				if l.Result != "success" || l.Fields["digest"] != draw.String() {
					t.Errorf("%s of %s: %s, want the draw's digest %s", r.Name(), s.addr, l.Raw, draw)
				}
			}
		}
	}
	assertStoredBets(t, be.betsFile(t, t.TempDir()), data, courseBets)
	assertVerified(t, runVerify(t, be, "verify"), agencyDigests, draw, "recorded")
}

// TestMachineLoss runs the course's lottery through two centrals over a
// PostgreSQL primary with a synchronous standby, both given as the
// centrals' STORAGE_URL. Mid-upload the primary's machine is lost
// (pg_ctl stop -m immediate) and the standby promoted; nothing is
// restarted. The centrals find the new primary by themselves, the
// agencies resume, and the lottery ends as one without the failure
// does: every acknowledged bet is there (each agency's file exactly),
// with the right winners and the same digest.
func TestMachineLoss(t *testing.T) {
	primary := startCluster(t, pgtest.Start)
	standby := startCluster(t, func() (*pgtest.Cluster, error) { return primary.StartStandby("standby1") })
	if err := primary.SyncStandby("standby1"); err != nil {
		t.Fatal(err)
	}
	if err := primary.CreateDatabase("lottery"); err != nil {
		t.Fatal(err)
	}
	url := pgtest.HostsURL("lottery", primary, standby)
	data := faultData(t)
	servers, addrs := startReplicas(t, 2, url, map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(len(courseBets))})
	clients := make([]*harness.Process, len(courseBets))
	for i := range clients {
		clients[i] = startClient(t, "client-"+strconv.Itoa(i+1), faultClientEnv(i+1, addrs, data, crashClientTimeout))
	}
	stored := func() bool {
		for _, s := range servers {
			if strings.Contains(s.cur().Log(), "action: apuesta_recibida | result: success") {
				return true
			}
		}
		return false
	}
	if !waitFor(clientTimeout, stored) {
		t.Fatal("no central stored a batch")
	}
	if err := primary.Crash(); err != nil {
		t.Fatal(err)
	}
	t.Logf("primary lost with %d agencies notified", notified(clients))
	time.Sleep(300 * time.Millisecond) // the centrals and agencies meet the loss
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	finishClients(t, clients, courseWinners)
	for _, s := range servers {
		(&harness.Central{Process: s.cur()}).Stop(t)
	}
	lost := 0
	for _, s := range servers {
		lost += len(harness.Filter(s.cur().Lines(), "storage", "fail"))
	}
	if lost == 0 {
		t.Error("no central's write failed: the primary was lost after the upload, not during it")
	}
	t.Logf("%d groups of writes failed while the standby was promoted", lost)
	be := backend{name: "postgres", url: url}
	agencyDigests, draw := expectedDigests(t, data, len(courseBets))
	for _, s := range servers {
		for _, l := range harness.Filter(s.cur().Lines(), "sorteo", "success") {
			if l.Fields["digest"] != draw.String() {
				t.Errorf("%s: %s, want the draw's digest %s", s.addr, l.Raw, draw)
			}
		}
	}
	assertStoredBets(t, be.betsFile(t, t.TempDir()), data, courseBets)
	assertVerified(t, runVerify(t, be, "verify"), agencyDigests, draw, "recorded")
}

// startCluster starts a PostgreSQL cluster with start, stopped when the
// test ends; it skips the test where PostgreSQL is not installed.
func startCluster(t *testing.T, start func() (*pgtest.Cluster, error)) *pgtest.Cluster {
	t.Helper()
	c, err := start()
	if errors.Is(err, pgtest.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return c
}
