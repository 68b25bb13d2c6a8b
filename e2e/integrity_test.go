package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/storage"
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
		if _, err := os.Stat(harness.BetsPath(dir) + storage.JournalSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused start left a journal behind (%v)", err)
		}
	}
}

// readFiles returns the contents of the store's files in dir.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	for _, name := range []string{"bets.csv", "bets.csv" + storage.JournalSuffix} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func equalFiles(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }

// expectedDigests computes, from the agencies' files in data alone, each
// agency's digest (agency 1 first) and the draw's: what any central that
// stored exactly these bets must announce.
func expectedDigests(t *testing.T, data string, agencies int) ([]lottery.Digest, lottery.Digest) {
	t.Helper()
	digests := make([]lottery.Digest, agencies)
	for a := 1; a <= agencies; a++ {
		f, err := os.Open(agencyFile(data, a))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var row []byte
		for b, err := range betcsv.ReadAgencyFile(f, f.Name(), a) {
			if err != nil {
				t.Fatal(err)
			}
			b.Agency = a
			row = betcsv.AppendStoreRow(row[:0], b)
			h.Write(row)
		}
		f.Close()
		h.Sum(digests[a-1][:0])
	}
	return digests, lottery.DrawDigest(digests)
}

// assertDigests checks that the central's sorteo line, every agency's
// verificacion and consulta_ganadores lines, and server verify run on the
// central's files all give the digests that the agencies' files give.
func assertDigests(t *testing.T, central *harness.Process, clients []*harness.Process, be backend, dir, data string) {
	t.Helper()
	agencyDigests, draw := expectedDigests(t, data, len(clients))
	sorteo := harness.Filter(central.Lines(), "sorteo", "success")
	if len(sorteo) != 1 || sorteo[0].Fields["digest"] != draw.String() {
		t.Errorf("sorteo lines %v, want one with digest %s", sorteo, draw)
	}
	for i, c := range clients {
		if !hasLine(c, "verificacion", "success", "digest", agencyDigests[i].String()) {
			t.Errorf("%s did not log verificacion success with its digest %s; log tail:\n%s", c.Name(), agencyDigests[i], harness.Tail(c.Log(), 6))
		}
		if !hasLine(c, "consulta_ganadores", "success", "digest", draw.String()) {
			t.Errorf("%s's consulta_ganadores does not carry the draw's digest %s", c.Name(), draw)
		}
	}
	if be.url == "" {
		assertVerified(t, runVerify(t, be, "verify", harness.BetsPath(dir)), agencyDigests, draw, "recorded")
		return
	}
	assertVerified(t, runVerify(t, be, "verify"), agencyDigests, draw, "recorded")
	assertVerified(t, runVerify(t, be, "verify", "-export", be.betsFile(t, dir)), agencyDigests, draw, "unknown")
}

// runVerify runs server with args (a verify command) against be's store.
func runVerify(t *testing.T, be backend, args ...string) *harness.Process {
	t.Helper()
	p := startProcess(t, "verify", serverBin, t.TempDir(), be.env(nil), args...)
	if code := p.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("server %s exited %d; log:\n%s%s", strings.Join(args, " "), code, p.Log(), p.Stderr())
	}
	return p
}

// assertVerified checks that a verify run agrees on every digest, and
// says state of the draw.
func assertVerified(t *testing.T, p *harness.Process, agencyDigests []lottery.Digest, draw lottery.Digest, state string) {
	t.Helper()
	if !hasLine(p, "verify", "success", "digest", draw.String(), "sorteo", state) {
		t.Errorf("server verify does not agree on the draw's digest %s (sorteo: %s):\n%s", draw, state, p.Log())
	}
	for i, d := range agencyDigests {
		if !hasLine(p, "verify_agencia", "success", "agencia", strconv.Itoa(i+1), "digest", d.String()) {
			t.Errorf("server verify does not agree on agency %d's digest %s", i+1, d)
		}
	}
}

// TestDigestsAgree: two lotteries over the same files, one with batches
// of 7 bets and one with batches of 200, give the same digests, equal to
// those computed from the files alone, on every line that prints one and
// in server verify; a restart after the draw announces the same digest;
// and server verify refuses a store a central holds.
func TestDigestsAgree(t *testing.T) {
	data := genData(t, 3, "700", "2,1,0", 45)
	for _, batch := range []string{"7", "200"} {
		t.Run("batches of "+batch, func(t *testing.T) {
			srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "3"})
			central := srv.start()
			clients := make([]*harness.Process, 3)
			for i := range clients {
				clients[i] = startClient(t, "client-"+strconv.Itoa(i+1), clientEnv(i+1, srv.addr,
					map[string]string{"CLI_DATA_FILE": agencyFile(data, i+1), "CLI_BATCH_MAXAMOUNT": batch}))
			}
			assertAgenciesWon(t, clients, []int{2, 1, 0})

			p := startProcess(t, "verify-live", serverBin, t.TempDir(), nil, "verify", srv.BetsPath())
			if code := p.WaitExit(t, clientTimeout); code != 1 || !strings.Contains(p.Log(), "locked") {
				t.Errorf("server verify of a store a live central holds: exit %d, want 1 naming the lock:\n%s", code, p.Log())
			}
			srv.kill()
			assertDigests(t, central, clients, backend{name: "file"}, srv.dir, data)

			again := srv.start()
			_, draw := expectedDigests(t, data, 3)
			if !hasLine(again, "sorteo", "success", "digest", draw.String()) {
				t.Errorf("after a restart the draw's digest changed:\n%s", again.Log())
			}
		})
	}
}

// TestAgencyFileChanged: an agency whose file no longer holds what the
// central holds for it fails with one verificacion line and exits
// non-zero, sending nothing: a line turned into a winner before the
// committed position, a file cut short, a line appended after Done; and
// of two agencies started with one id and different files, the one
// whose file is not what the central holds fails.
func TestAgencyFileChanged(t *testing.T) {
	edits := []struct {
		name string
		edit func(rows []string) []string
	}{
		{"a line turned into a winner", func(rows []string) []string {
			fields := strings.Split(rows[3], ",")
			fields[len(fields)-1] = "7574"
			rows[3] = strings.Join(fields, ",")
			return rows
		}},
		{"cut to 10 lines", func(rows []string) []string { return rows[:10] }},
		{"a line appended after done", func(rows []string) []string { return append(rows, rows[0]) }},
	}
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			data := genData(t, 2, "500", "1,1", 46)
			srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "2"})
			srv.start()
			// Agency 1 uploads and notifies; the draw waits for agency 2.
			first := startClient(t, "client-1", clientEnv(1, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
			eventually(t, clientTimeout, "agency 1 notified", func() bool { return notified([]*harness.Process{first}) == 1 })
			first.Kill()
			before := readFiles(t, srv.dir)

			raw, err := os.ReadFile(agencyFile(data, 1))
			if err != nil {
				t.Fatal(err)
			}
			rows := tt.edit(strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n"))
			if err := os.WriteFile(agencyFile(data, 1), []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := runClient(t, "client-1-again", clientEnv(1, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
			fails := harness.Filter(harness.ParseLog(out), "", "fail")
			if code == 0 || len(fails) != 1 || fails[0].Action != "verificacion" ||
				fails[0].Fields["digest_agencia"] == "" || fails[0].Fields["digest_central"] == "" {
				t.Fatalf("agency with a changed file: exit %d, fail lines %v; want exit non-zero and one verificacion fail naming both digests; log:\n%s", code, fails, out)
			}
			t.Logf("refused: %s", fails[0].Raw)
			if after := readFiles(t, srv.dir); !equalFiles(before, after) {
				t.Error("the agency with a changed file stored something")
			}
		})
	}
	t.Run("two agencies with one id", func(t *testing.T) {
		data := genData(t, 2, "3000", "1,1", 47)
		srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "1"})
		srv.start()
		a := startClient(t, "client-1a", clientEnv(1, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1), "CLI_BATCH_MAXAMOUNT": "20"}))
		b := startClient(t, "client-1b", clientEnv(1, srv.addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 2), "CLI_BATCH_MAXAMOUNT": "20"}))
		codes := []int{a.WaitExit(t, clientTimeout), b.WaitExit(t, clientTimeout)}
		t.Logf("exit codes %v; %s: %v; %s: %v", codes, a.Name(), harness.Filter(a.Lines(), "verificacion", ""), b.Name(), harness.Filter(b.Lines(), "verificacion", ""))
		if codes[0] == 0 && codes[1] == 0 {
			t.Fatalf("both agencies with id 1 and different files exited 0")
		}
		for i, p := range []*harness.Process{a, b} {
			if codes[i] == 0 {
				continue
			}
			if !hasLine(p, "verificacion", "fail") {
				t.Errorf("%s exited %d without a verificacion fail line:\n%s", p.Name(), codes[i], harness.Tail(p.Log(), 8))
			}
		}
		// What the central holds is one file, whole, never a mix.
		srv.kill()
		stored := readStoredBets(t, srv.BetsPath())
		mixed := true
		for f := 1; f <= 2; f++ {
			if maps.Equal(multiset(stored), multiset(readAgencyBets(t, agencyFile(data, f), 1))) {
				mixed = false
			}
		}
		if mixed && (codes[0] == 0 || codes[1] == 0) {
			t.Errorf("an agency exited 0, but the central holds %d bets that are neither file", len(stored))
		}
	})
}

// TestEditedStoreRefused: edits of a finished lottery's bets.csv that
// keep it a well-formed CSV, and a batch cut out with its journal record,
// are each found both by server verify (exit 1, one fail line) and by a
// central started on the files (refused, files untouched).
func TestEditedStoreRefused(t *testing.T) {
	data := genData(t, 2, "300", "1,1", 48)
	srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "2"})
	srv.start()
	runLottery(t, srv, data, []int{1, 1})
	srv.kill()
	clean := readFiles(t, srv.dir)
	rows := strings.SplitAfter(string(clean["bets.csv"]), "\n")
	rows = rows[:len(rows)-1] // after the last newline
	const journalRecord = 128
	const firstRecord = 3 * journalRecord // after the header and the commit slots
	edits := []struct {
		name string
		edit func(rows []string, journal []byte) ([]string, []byte)
	}{
		{"a number changed to 7574", func(rows []string, j []byte) ([]string, []byte) {
			rows[5] = rows[5][:strings.LastIndexByte(rows[5], ',')+1] + "7574\n"
			return rows, j
		}},
		{"two rows swapped", func(rows []string, j []byte) ([]string, []byte) {
			rows[5], rows[6] = rows[6], rows[5]
			return rows, j
		}},
		{"a row deleted", func(rows []string, j []byte) ([]string, []byte) {
			return append(rows[:5:5], rows[6:]...), j
		}},
		{"a row added", func(rows []string, j []byte) ([]string, []byte) {
			return append(rows[:5:5], append([]string{rows[5]}, rows[5:]...)...), j
		}},
		{"a batch cut out with its record", func(rows []string, j []byte) ([]string, []byte) {
			// The first batch record follows the header and the commit
			// slots; its rows are the file's first, as many as its count
			// (bytes 16..19) says.
			n := int(binary.BigEndian.Uint32(j[firstRecord+16:]))
			return rows[n:], append(j[:firstRecord:firstRecord], j[firstRecord+journalRecord:]...)
		}},
	}
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			edited, journal := tt.edit(append([]string(nil), rows...), bytes.Clone(clean["bets.csv"+storage.JournalSuffix]))
			files := map[string][]byte{"bets.csv": []byte(strings.Join(edited, "")), "bets.csv" + storage.JournalSuffix: journal}
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := startProcess(t, "verify", serverBin, dir, nil, "verify", "bets.csv")
			if code := p.WaitExit(t, clientTimeout); code != 1 || len(harness.Filter(p.Lines(), "verify", "fail")) != 1 {
				t.Errorf("server verify of an edited store: exit %d, want 1 with one fail line:\n%s", code, p.Log())
			}
			edit := newCrashServer(t, dir, map[string]string{"AGENCIES_AMOUNT": "2"})
			line := refusedStart(t, edit)
			t.Logf("refused: %s", line.Raw[strings.Index(line.Raw, "error: "):])
			if after := readFiles(t, dir); !equalFiles(files, after) {
				t.Error("a refused start changed the edited files")
			}
		})
	}
}
