package e2e

import (
	"strconv"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// The course dataset's facts (../shared/data/README.md).
var (
	courseWinners = []int{2, 3, 3, 2, 0} // per agency 1..5
	courseBets    = []int{26936, 25518, 16014, 9238, 991}
)

const courseTotal = 78697

// TestCourseDataset runs a whole lottery: the central and 5 agencies, as
// processes, fed the course dataset.
func TestCourseDataset(t *testing.T) { forEachBackend(t, testCourseDataset) }

func testCourseDataset(t *testing.T, be backend) {
	data := extractDataset(t)
	agencies := len(courseWinners)
	srv := startServer(t, be.env(map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(agencies)}))

	clients := startAgencies(t, srv.Addr, data, agencies)
	assertAgenciesWon(t, clients, courseWinners)

	// Stop the central, so that its log and bets.csv are complete.
	srv.Stop(t)
	bets := be.betsFile(t, srv.Dir)
	assertDigests(t, srv.Process, clients, be, srv.Dir, data)
	lines := srv.Lines()
	assertCleanLog(t, "server", srv.Log())

	// Every bet was received once, and the draw came after all of them.
	received := harness.Filter(lines, "apuesta_recibida", "")
	sum, perAgency := 0, make(map[string]int)
	for _, l := range received {
		n, err := strconv.Atoi(l.Fields["cantidad"])
		if err != nil {
			t.Fatalf("bad cantidad in %q", l.Raw)
		}
		sum += n
		perAgency[l.Fields["agencia"]] += n
	}
	if sum != courseTotal {
		t.Errorf("sum of apuesta_recibida cantidad = %d, want %d", sum, courseTotal)
	}
	for i, want := range courseBets {
		if got := perAgency[strconv.Itoa(i+1)]; got != want {
			t.Errorf("agency %d: apuesta_recibida cantidad sums to %d, want %d", i+1, got, want)
		}
	}
	sorteo := harness.Filter(lines, "sorteo", "")
	if len(sorteo) != 1 {
		t.Fatalf("%d sorteo lines, want exactly 1: %v", len(sorteo), sorteo)
	}
	if sorteo[0].Result != "success" {
		t.Errorf("sorteo line is not a success: %s", sorteo[0].Raw)
	}
	for _, l := range received {
		if l.Pos > sorteo[0].Pos {
			t.Errorf("apuesta_recibida after the sorteo (line %d > %d): %s", l.Pos+1, sorteo[0].Pos+1, l.Raw)
			break
		}
	}
	for _, res := range []string{"listener", "storage"} {
		if len(harness.With(harness.Filter(lines, "close", "success"), "resource", res)) != 1 {
			t.Errorf("server did not log the close of its %s once", res)
		}
	}
	if len(harness.Filter(lines, "exit", "success")) != 1 {
		t.Errorf("server did not log action: exit | result: success")
	}

	// bets.csv holds every bet of every file exactly once.
	assertStoredBets(t, bets, data, courseBets)
}
