package e2e

import (
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
