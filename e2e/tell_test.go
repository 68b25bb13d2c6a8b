package e2e

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestAgencyTellsWaiting runs a lottery of 3 agencies, the first started
// before the central and the others late: agency 1 says the central is
// unreachable (attempt, next try), then, once done, that it waits for the
// draw with 1 of 3 agencies notified and the deadline, and says it again
// when agency 2 notifies. Each agency declared its total, which the
// central logged.
func TestAgencyTellsWaiting(t *testing.T) {
	data := genData(t, 3, "200", "1,0,2", 41)
	srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "3", "DRAW_DEADLINE": "1h", "SERVER_ADMIN_ADDRESS": "127.0.0.1:0"})
	env := func(id int) map[string]string {
		return clientEnv(id, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, id), "CLI_RETRY_TIMEOUT": "30s"})
	}
	c1 := startClient(t, "client-1", env(1))
	eventually(t, clientTimeout, "agency 1 to say the central is unreachable", func() bool {
		return hasLine(c1, "central_inalcanzable", "in_progress", "intento", "1", "direccion", srv.addr)
	})
	line := harness.Filter(c1.Lines(), "central_inalcanzable", "in_progress")[0]
	if line.Fields["proximo_intento"] == "" || line.Fields["espera"] == "" {
		t.Errorf("unreachable line without its next try: %s", line.Raw)
	}
	srv.start()

	eventually(t, clientTimeout, "agency 1 to wait for the draw, 1 of 3 notified", func() bool {
		return hasLine(c1, "esperando_sorteo", "in_progress", "agencia", "1", "notificadas", "1", "esperadas", "3")
	})
	first := harness.With(harness.Filter(c1.Lines(), "esperando_sorteo", "in_progress"), "notificadas", "1")[0]
	if first.Fields["cierre_apuestas"] == "" || first.Fields["restante"] == "" {
		t.Errorf("waiting line without the deadline (DRAW_DEADLINE=1h): %s", first.Raw)
	}
	c2 := startClient(t, "client-2", env(2))
	eventually(t, clientTimeout, "agency 1 to say 2 of 3 notified", func() bool {
		return hasLine(c1, "esperando_sorteo", "in_progress", "agencia", "1", "notificadas", "2", "esperadas", "3")
	})
	checkDeclared(t, srv.cur(), []uint64{200, 200, 0}) // agency 3 has not started
	c3 := startClient(t, "client-3", env(3))
	assertAgenciesWon(t, []*harness.Process{c1, c2, c3}, []int{1, 0, 2})

	declared := harness.Filter(srv.cur().Lines(), "declaracion", "success")
	for id := 1; id <= 3; id++ {
		if l := harness.With(declared, "agencia", strconv.Itoa(id)); len(l) == 0 || l[0].Fields["apuestas"] != "200" {
			t.Errorf("agency %d: declaracion lines %v, want one of 200 bets", id, l)
		}
	}
}

// checkDeclared checks each agency's declared total in the central's
// /status, where the teammates' page reads it for progress in %.
func checkDeclared(t *testing.T, central *harness.Process, want []uint64) {
	t.Helper()
	admin := harness.Filter(central.Lines(), "admin", "in_progress")
	if len(admin) != 1 {
		t.Fatalf("%d admin lines, want 1", len(admin))
	}
	code, body := adminGet(t, admin[0].Fields["address"], "/status")
	var st struct {
		Agencies []struct {
			Agency   int    `json:"agency"`
			Declared uint64 `json:"declared"`
		} `json:"agencies"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || len(st.Agencies) != len(want) {
		t.Fatalf("/status = %d, %v:\n%s", code, err, body)
	}
	for i, a := range st.Agencies {
		if a.Declared != want[i] {
			t.Errorf("/status: agency %d declared %d, want %d", a.Agency, a.Declared, want[i])
		}
	}
}

// TestAgencyTellsResume kills the central in the middle of an agency's
// upload and starts it again: the agency says from which bet it resumes,
// how many the central stores, of its total.
func TestAgencyTellsResume(t *testing.T) {
	const bets = 20000
	data := genData(t, 1, strconv.Itoa(bets), "2", 42)
	srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "1"})
	srv.start()
	c := startClient(t, "client-1", faultClientEnv(1, srv.addr, data, 5*time.Second))
	eventually(t, clientTimeout, "the central to store some of agency 1's bets", func() bool {
		return len(harness.Filter(srv.cur().Lines(), "apuesta_recibida", "success")) > 0
	})
	srv.kill()
	srv.start()
	if code := c.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("client-1 exited %d; log:\n%s", code, c.Log())
	}
	resumed := harness.Filter(c.Lines(), "reanudacion", "in_progress")
	if len(resumed) == 0 {
		t.Fatalf("no reanudacion line after the central's restart; log:\n%s", harness.Tail(c.Log(), 20))
	}
	f := resumed[0].Fields
	from, err := strconv.Atoi(f["desde_apuesta"])
	if err != nil || from >= bets || f["almacenadas"] != f["desde_apuesta"] || f["total"] != strconv.Itoa(bets) {
		t.Errorf("resume line %s: want from a bet below %d, as many stored, of total %d", resumed[0].Raw, bets, bets)
	}
	assertCleanLog(t, c.Name(), c.Log())
}
