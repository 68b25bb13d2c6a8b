package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// exitCutOff is cmd/client's status of an agency that sales closed on
// before it notified: its winners reported for the bets the draw took.
const exitCutOff = 3

// TestDrawDeadline: with DRAW_DEADLINE, three agencies of which the third
// never connects: at the deadline the draw is held with the bets stored
// by then and logs agency 3 absent, agencies 1 and 2 get their winners,
// agency 3, coming later, learns that the draw took none of its bets and
// exits exitCutOff, and a central killed and started again keeps the
// outcome.
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
		cut := harness.Filter(harness.ParseLog(out), "corte_sorteo", "success")
		if code != exitCutOff || winnersOf(t, name, out) != 0 || len(cut) != 1 ||
			cut[0].Fields["apuestas_incluidas"] != "0" || cut[0].Fields["apuestas_excluidas"] != "300" {
			t.Errorf("%s after the deadline draw: exit %d, want %d, 0 winners, 0 of its 300 bets drawn; log:\n%s", name, code, exitCutOff, out)
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

// TestDrawDeadlineCutsAgencies: with DRAW_DEADLINE, agency 1 notifies
// before it, agency 2 is in the middle of its upload when it passes (it is
// paused, SIGSTOP, from its 20th stored batch until the draw), and agency
// 3 connects after the draw. Agency 1 exits 0; agencies 2 and 3 exit
// exitCutOff, each having logged how many of its bets the draw took and
// how many it did not, and reported and written as its winners those of
// the bets the central stored for it; agency 2 run again says the same.
func TestDrawDeadlineCutsAgencies(t *testing.T) { forEachBackend(t, testDrawDeadlineCutsAgencies) }

func testDrawDeadlineCutsAgencies(t *testing.T, be backend) {
	data := genData(t, 3, "300,40000,300", "2,4000,3", 46)
	const deadline = 4 * time.Second
	srv := newCrashServer(t, t.TempDir(), be.env(map[string]string{"AGENCIES_AMOUNT": "3", "DRAW_DEADLINE": deadline.String()}))
	central := srv.start()
	out := t.TempDir()
	agency := func(name string, id int) *harness.Process {
		return startClient(t, name, clientEnv(id, srv.addr, map[string]string{
			"CLI_DATA_FILE": agencyFile(data, id), "CLI_BATCH_MAXAMOUNT": "10",
			"CLI_WINNERS_FILE": filepath.Join(out, name+".txt"),
		}))
	}
	first, slow := agency("client-1", 1), agency("client-2", 2)
	eventually(t, deadline, "20 batches of agency 2 stored", func() bool {
		return len(harness.With(harness.Filter(central.Lines(), "apuesta_recibida", "success"), "agencia", "2")) >= 20
	})
	if err := slow.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*deadline, "the draw at the deadline", func() bool { return hasLine(central, "sorteo", "success") })
	if err := slow.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	assertAgenciesWon(t, []*harness.Process{first}, []int{2})
	late := agency("client-3", 3)
	for _, p := range []*harness.Process{slow, late} {
		if code := p.WaitExit(t, clientTimeout); code != exitCutOff {
			t.Errorf("%s exited %d, want %d; log tail:\n%s", p.Name(), code, exitCutOff, harness.Tail(p.Log(), 10))
		}
	}

	stored := map[int][]bet{}
	for _, b := range readStoredBets(t, be.betsFile(t, srv.dir)) {
		stored[b.Agency] = append(stored[b.Agency], b)
	}
	sorteo := harness.Filter(central.Lines(), "sorteo", "success")
	if want := strconv.Itoa(300 + len(stored[2])); len(sorteo) != 1 || sorteo[0].Fields["ausentes"] != "2,3" || sorteo[0].Fields["bets"] != want {
		t.Fatalf("sorteo lines %v, want one with ausentes: 2,3 and bets: %s", sorteo, want)
	}
	if n := len(stored[2]); n == 0 || n >= 40000 || len(stored[3]) != 0 {
		t.Fatalf("the central holds %d of agency 2's 40000 bets and %d of agency 3's: not a cut in the middle of 2's upload and before 3's", n, len(stored[3]))
	}
	assertCutOff(t, slow, agencyFile(data, 2), 2, stored[2], filepath.Join(out, "client-2.txt"), sorteo[0].Fields["digest"])
	assertCutOff(t, late, agencyFile(data, 3), 3, nil, filepath.Join(out, "client-3.txt"), sorteo[0].Fields["digest"])
	again := agency("client-2-again", 2)
	if code := again.WaitExit(t, clientTimeout); code != exitCutOff {
		t.Errorf("agency 2 run again exited %d, want %d", code, exitCutOff)
	}
	assertCutOff(t, again, agencyFile(data, 2), 2, stored[2], filepath.Join(out, "client-2-again.txt"), sorteo[0].Fields["digest"])
}

// assertCutOff checks what an agency that sales closed on said: the bets
// the central stored for it are the first of its file (path, agency's), the
// corte_sorteo line counts them and the rest of the file, and its winners
// (the consulta_ganadores line, with the draw's digest, and the winners
// file) are the winning bets among them, in file order; its log has no
// failure.
func assertCutOff(t *testing.T, p *harness.Process, path string, agency int, stored []bet, winnersFile, draw string) {
	t.Helper()
	lines := p.Lines()
	file := readAgencyBets(t, path, agency)
	n := len(stored)
	if diff := diffMultisets(multiset(file[:n]), multiset(stored), 5); len(diff) != 0 {
		t.Errorf("%s: the central's %d bets are not the first of its file: %v", p.Name(), n, diff)
	}
	var want string
	count := 0
	for _, b := range file[:n] {
		if b.Number == winnerNumber {
			want += b.Document + "\n"
			count++
		}
	}
	if n > 0 && count == 0 {
		t.Fatalf("%s: no winner among the %d bets the draw took: the test proves nothing", p.Name(), n)
	}
	cut := harness.Filter(lines, "corte_sorteo", "success")
	if len(cut) != 1 || cut[0].Fields["apuestas_incluidas"] != strconv.Itoa(n) || cut[0].Fields["apuestas_excluidas"] != strconv.Itoa(len(file)-n) {
		t.Errorf("%s: corte_sorteo lines %v, want one with apuestas_incluidas: %d, apuestas_excluidas: %d", p.Name(), cut, n, len(file)-n)
	}
	consulta := harness.Filter(lines, "consulta_ganadores", "success")
	if len(consulta) != 1 || consulta[0].Fields["cant_ganadores"] != strconv.Itoa(count) || consulta[0].Fields["digest"] != draw {
		t.Errorf("%s: consulta_ganadores lines %v, want one with %d winners and the draw's digest %s", p.Name(), consulta, count, draw)
	}
	if got, err := os.ReadFile(winnersFile); err != nil || string(got) != want {
		t.Errorf("%s: winners file %q (%v), want %q", p.Name(), got, err, want)
	}
	assertCleanLog(t, p.Name(), p.Log())
}
