package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// runLottery runs agencies 1..len(winners) against srv until each has
// its winners, and checks their counts.
func runLottery(t *testing.T, srv *crashServer, data string, winners []int) []*harness.Process {
	t.Helper()
	clients := startAgencies(t, srv.addr, data, len(winners))
	assertAgenciesWon(t, clients, winners)
	return clients
}

// refusedStart starts a central in srv's directory that must refuse to
// start: it exits non-zero with one fail line, which it returns.
func refusedStart(t *testing.T, srv *crashServer) harness.Line {
	t.Helper()
	p := srv.launch()
	if code := p.WaitExit(t, exitTimeout); code == 0 {
		t.Fatalf("%s started (exit 0), want it refused; log:\n%s", p.Name(), p.Log())
	}
	fails := harness.Filter(p.Lines(), "server", "fail")
	if len(fails) != 1 || len(harness.Filter(p.Lines(), "", "fail")) != 1 {
		t.Fatalf("%s: want exactly one fail line; log:\n%s", p.Name(), p.Log())
	}
	return fails[0]
}

// TestAgenciesAmountChanged: the draw is a durable decision. After it, a
// central started with another AGENCIES_AMOUNT answers from the recorded
// draw and says so; before it, a setting that would leave out an agency
// that stored bets is refused at start, naming both numbers.
func TestAgenciesAmountChanged(t *testing.T) {
	data := genData(t, 3, "300", "1,2,0", 43)
	t.Run("after the draw", func(t *testing.T) {
		srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "3"})
		srv.start()
		runLottery(t, srv, data, []int{1, 2, 0})
		for _, amount := range []string{"4", "2"} {
			srv.kill()
			srv.env["AGENCIES_AMOUNT"] = amount
			p := srv.start()
			noted := harness.Filter(p.Lines(), "sorteo_registrado", "success")
			t.Logf("AGENCIES_AMOUNT=%s: %v", amount, noted)
			if len(noted) != 1 || noted[0].Fields["agencias"] != "3" || noted[0].Fields["agencies_amount"] != amount {
				t.Errorf("AGENCIES_AMOUNT=%s after the draw: %v, want one sorteo_registrado line naming 3 and %s", amount, noted, amount)
			}
			// Every agency of the draw gets its winners again at once.
			runLottery(t, srv, data, []int{1, 2, 0})
			if n := len(harness.Filter(p.Lines(), "", "fail")); n != 0 {
				t.Errorf("AGENCIES_AMOUNT=%s: %d fail lines:\n%s", amount, n, p.Log())
			}
		}
		// An agency the draw did not cover is not one.
		code, out := runClient(t, "client-4", clientEnv(4, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
		if code == 0 || !strings.Contains(out, "bad_agency") {
			t.Errorf("agency 4 after a draw of 3: exit %d, want a bad_agency refusal; log:\n%s", code, out)
		}
	})
	t.Run("before the draw", func(t *testing.T) {
		srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "4"})
		srv.start()
		clients := startAgencies(t, srv.addr, data, 3)
		eventually(t, clientTimeout, "3 agencies notified", func() bool { return notified(clients) == 3 })
		srv.kill()
		for _, c := range clients {
			c.Kill()
		}
		before := readFiles(t, srv.dir)
		srv.env["AGENCIES_AMOUNT"] = "2"
		line := refusedStart(t, srv)
		t.Logf("refused: %s", line.Raw)
		for _, want := range []string{"AGENCIES_AMOUNT=2", "agency 3", "1..2"} {
			if !strings.Contains(line.Raw, want) {
				t.Errorf("the refusal does not name %q: %s", want, line.Raw)
			}
		}
		if after := readFiles(t, srv.dir); !equalFiles(before, after) {
			t.Errorf("a refused start changed the store")
		}
	})
}

// TestRefusedStartTwice: a bets.csv without its journal (the course's
// Python central keeps none) is refused at every start, and no start
// changes a byte of it or leaves a journal behind: under the compose
// file's restart: on-failure the second start used to take the empty
// journal left by the first for a new store's and cut bets.csv to nothing.
func TestRefusedStartTwice(t *testing.T) {
	dir := t.TempDir()
	data := genData(t, 1, "1000", "0", 44)
	rows, err := os.ReadFile(agencyFile(data, 1))
	if err != nil {
		t.Fatal(err)
	}
	var csv []byte
	for line := range strings.Lines(string(rows)) {
		csv = append(csv, "1,"+line...) // agency,first_name,...: the course's row
	}
	if err := os.WriteFile(harness.BetsPath(dir), csv, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newCrashServer(t, dir, map[string]string{"AGENCIES_AMOUNT": "1"})
	for range 2 {
		line := refusedStart(t, srv)
		if !strings.Contains(line.Raw, "no journal") {
			t.Errorf("the refusal does not say the journal is missing: %s", line.Raw)
		}
		if got, err := os.ReadFile(harness.BetsPath(dir)); err != nil || !bytes.Equal(got, csv) {
			t.Fatalf("a refused start changed bets.csv (%d of %d bytes, %v)", len(got), len(csv), err)
		}
		if _, err := os.Stat(harness.BetsPath(dir) + ".journal"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused start left a journal behind (%v)", err)
		}
	}
}

// readFiles returns the contents of the store's files in dir.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	for _, name := range []string{"bets.csv", "bets.csv.journal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

