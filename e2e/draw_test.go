package e2e

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestWinnersNotBroadcast runs 3 agencies whose winner counts differ
// (2, 1, 0): a central that sent every agency all the winners would give
// each 3.
func TestWinnersNotBroadcast(t *testing.T) { forEachBackend(t, testWinnersNotBroadcast) }

func testWinnersNotBroadcast(t *testing.T, be backend) {
	winners := []int{2, 1, 0}
	data := genData(t, 3, "500", "2,1,0", 11)

	// The winners' documents, per agency, as the files say.
	wantDocs := make(map[int][]string)
	for id := 1; id <= 3; id++ {
		for _, b := range readAgencyBets(t, agencyFile(data, id), id) {
			if b.Number == winnerNumber {
				wantDocs[id] = append(wantDocs[id], b.Document)
			}
		}
		if len(wantDocs[id]) != winners[id-1] {
			t.Fatalf("gendata wrote %d winners for agency %d, want %d", len(wantDocs[id]), id, winners[id-1])
		}
	}

	srv := startServer(t, be.env(map[string]string{"AGENCIES_AMOUNT": "3"}))
	assertAgenciesWon(t, startAgencies(t, srv.Addr, data, 3), winners)

	srv.Stop(t) // its log is complete once it has exited

	// The central sent each agency its own count.
	sent := harness.Filter(srv.Lines(), "ganadores_enviados", "success")
	for id := 1; id <= 3; id++ {
		lines := harness.With(sent, "agencia", strconv.Itoa(id))
		if len(lines) != 1 {
			t.Errorf("server: %d ganadores_enviados lines for agency %d, want 1", len(lines), id)
			continue
		}
		if got := lines[0].Fields["cant_ganadores"]; got != strconv.Itoa(winners[id-1]) {
			t.Errorf("server sent agency %d %s winners, want %d", id, got, winners[id-1])
		}
	}
	assertCleanLog(t, "server", srv.Log())

	// bets.csv holds each winner under its own agency, and no other.
	gotDocs := make(map[int][]string)
	stored := readStoredBets(t, be.betsFile(t, srv.Dir))
	for _, b := range stored {
		if b.Number == winnerNumber {
			gotDocs[b.Agency] = append(gotDocs[b.Agency], b.Document)
		}
	}
	if len(stored) != 1500 {
		t.Errorf("bets.csv holds %d bets, want 1500", len(stored))
	}
	for id := 1; id <= 3; id++ {
		want, got := slices.Sorted(slices.Values(wantDocs[id])), slices.Sorted(slices.Values(gotDocs[id]))
		if !slices.Equal(want, got) {
			t.Errorf("agency %d: winners' documents in bets.csv %v, want %v", id, got, want)
		}
		delete(gotDocs, id)
	}
	if len(gotDocs) > 0 {
		t.Errorf("bets.csv holds winners of unknown agencies: %v", gotDocs)
	}
}

// TestNoWinnersBeforeLastAgency checks that agencies that are done wait
// for the draw, which waits for the last agency.
func TestNoWinnersBeforeLastAgency(t *testing.T) { forEachBackend(t, testNoWinnersBeforeLastAgency) }

func testNoWinnersBeforeLastAgency(t *testing.T, be backend) {
	winners := []int{1, 2, 0}
	data := genData(t, 3, "200", "1,2,0", 12)
	srv := startServer(t, be.env(map[string]string{"AGENCIES_AMOUNT": "3"}))
	env := func(id int) map[string]string {
		return clientEnv(id, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, id)})
	}
	c1 := startClient(t, "client-1", env(1))
	c2 := startClient(t, "client-2", env(2))

	// Both notify; from then on they wait for the draw.
	eventually(t, clientTimeout, "agencies 1 and 2 to notify", func() bool {
		lines := harness.Filter(srv.Lines(), "notificacion", "success")
		return len(harness.With(lines, "agencia", "1")) == 1 && len(harness.With(lines, "agencia", "2")) == 1
	})

	// For a while, nothing may answer them: no draw, no winners, no exit.
	const window = 1500 * time.Millisecond
	for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(pollInterval) {
		if n := len(harness.Filter(srv.Lines(), "sorteo", "")); n > 0 {
			t.Fatalf("server held the draw with 2 of 3 agencies notified")
		}
		for _, c := range []*harness.Process{c1, c2} {
			if c.Exited() {
				t.Fatalf("%s exited (code %d) before the last agency notified", c.Name(), c.ExitCode())
			}
			if len(harness.Filter(c.Lines(), "consulta_ganadores", "success")) > 0 {
				t.Fatalf("%s got winners before the last agency notified", c.Name())
			}
		}
		if len(harness.Filter(srv.Lines(), "ganadores_enviados", "")) > 0 {
			t.Fatalf("server sent winners before the last agency notified")
		}
	}

	c3 := startClient(t, "client-3", env(3))
	for i, c := range []*harness.Process{c1, c2, c3} {
		if code := c.WaitExit(t, clientTimeout); code != 0 {
			t.Errorf("%s exited with %d, want 0", c.Name(), code)
		}
		if got := winnersOf(t, c.Name(), c.Log()); got != winners[i] {
			t.Errorf("%s: cant_ganadores %d, want %d", c.Name(), got, winners[i])
		}
		assertCleanLog(t, c.Name(), c.Log())
	}
	srv.Stop(t)
	lines := srv.Lines()
	sorteo := harness.Filter(lines, "sorteo", "success")
	if len(sorteo) != 1 {
		t.Fatalf("%d sorteo lines, want 1", len(sorteo))
	}
	// The draw came after every batch, agency 3's included.
	received := harness.Filter(lines, "apuesta_recibida", "success")
	if len(harness.With(received, "agencia", "3")) == 0 {
		t.Errorf("server logged no apuesta_recibida for agency 3")
	}
	for _, l := range received {
		if l.Pos > sorteo[0].Pos {
			t.Errorf("apuesta_recibida after the sorteo: %s", l.Raw)
		}
	}
	assertCleanLog(t, "server", srv.Log())
}
