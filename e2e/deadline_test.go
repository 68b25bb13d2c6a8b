package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestDrawDeadline: with DRAW_DEADLINE, three agencies of which the third
// never connects: at the deadline the draw is held with the bets stored
// by then and logs agency 3 absent, agencies 1 and 2 get their winners,
// agency 3 is refused with draw_closed, and a central killed and started
// again keeps the outcome.
func TestDrawDeadline(t *testing.T) { forEachBackend(t, testDrawDeadline) }

func testDrawDeadline(t *testing.T, be backend) {
	winners := []int{1, 2}
	data := genData(t, 3, "300", "1,2,0", 45)
	const deadline = 5 * time.Second
	srv := newCrashServer(t, t.TempDir(), be.env(map[string]string{"AGENCIES_AMOUNT": "3", "DRAW_DEADLINE": deadline.String()}))
	started := time.Now()
	first := srv.start()
	clients := startAgencies(t, srv.addr, data, 2)
	eventually(t, deadline, "agencies 1 and 2 notified", func() bool { return notified(clients) == 2 })
	if hasLine(first, "sorteo", "success") {
		t.Fatal("the draw was held before the deadline")
	}
	assertAgenciesWon(t, clients, winners)
	if took := time.Since(started); took < deadline {
		t.Errorf("agencies 1 and 2 had their winners %v after the central started, before the deadline %v", took, deadline)
	}
	sorteo := harness.Filter(first.Lines(), "sorteo", "success")
	if len(sorteo) != 1 || sorteo[0].Fields["ausentes"] != "3" || sorteo[0].Fields["ganadores"] != "3" || sorteo[0].Fields["bets"] != "600" {
		t.Fatalf("sorteo lines %v, want one with ausentes: 3, ganadores: 3, bets: 600", sorteo)
	}
	digest := sorteo[0].Fields["digest"]
	for _, c := range clients {
		if l := harness.Filter(c.Lines(), "consulta_ganadores", "success"); len(l) != 1 || l[0].Fields["digest"] != digest {
			t.Errorf("%s: %v, want the draw's digest %s", c.Name(), l, digest)
		}
	}
	refused := func(name string) {
		t.Helper()
		code, out := runClient(t, name, clientEnv(3, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 3)}))
		t.Logf("%s: exit %d; %s", name, code, harness.Tail(out, 2))
		if code == 0 || !strings.Contains(out, "draw_closed") {
			t.Errorf("%s after the deadline draw: exit %d, want a draw_closed refusal; log:\n%s", name, code, out)
		}
	}
	refused("client-3")

	srv.kill()
	again := srv.start()
	sorteo = harness.Filter(again.Lines(), "sorteo", "success")
	if len(sorteo) != 1 || sorteo[0].Fields["ausentes"] != "3" || sorteo[0].Fields["digest"] != digest {
		t.Fatalf("the restarted central logged %v, want one sorteo line with ausentes: 3 and digest %s", sorteo, digest)
	}
	refused("client-3-again")
	code, out := runClient(t, "client-1-again", clientEnv(1, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
	if code != 0 || winnersOf(t, "client-1-again", out) != winners[0] {
		t.Errorf("agency 1 run again after the restart: exit %d, want 0 with %d winners; log:\n%s", code, winners[0], out)
	}
	(&harness.Central{Process: srv.cur()}).Stop(t)
	if n := len(harness.Filter(srv.cur().Lines(), "sorteo", "fail")); n != 0 {
		t.Errorf("the restarted central logged %d failed draws", n)
	}
}
