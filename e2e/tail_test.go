package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// journalName is the journal's name beside bets.csv.
const journalName = "bets.csv" + storage.JournalSuffix

// TestJournalTailCourse: on the course's finished store (78,697 bets,
// the draw recorded), a journal cut or zeroed inside what its commit
// slots say was acknowledged is corruption: server verify fails with one
// line and the central refuses to start, with the same reason, and
// neither changes a byte. A real torn tail (a row half appended to
// bets.csv, a record half appended to the journal) is cut, at WARNING,
// into .torn- copies holding exactly the cut bytes, and the agencies run
// again get their winners.
func TestJournalTailCourse(t *testing.T) {
	data := extractDataset(t)
	env := map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(len(courseWinners))}
	srv := newCrashServer(t, t.TempDir(), env)
	srv.start()
	runLottery(t, srv, data, courseWinners)
	if err := srv.cur().Terminate(exitTimeout); err != nil {
		t.Fatalf("stop the central: %v", err)
	}
	clean := readFiles(t, srv.dir)
	t.Logf("finished store: bets.csv %d bytes, journal %d bytes", len(clean["bets.csv"]), len(clean[journalName]))

	cases := []struct {
		name string
		edit func(j []byte) []byte
	}{
		{"journal cut to its first 128 bytes", func(j []byte) []byte { return j[:128] }},
		{"journal cut to 4096 bytes", func(j []byte) []byte { return j[:4096] }},
		{"last KiB of the journal zeroed", func(j []byte) []byte {
			clear(j[len(j)-1024:])
			return j
		}},
		{"the draw record zeroed", func(j []byte) []byte {
			clear(j[len(j)-128:]) // a group of its own, named by the newer commit slot
			return j
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string][]byte{"bets.csv": clean["bets.csv"], journalName: tt.edit(bytes.Clone(clean[journalName]))}
			writeFiles(t, dir, files)
			verifyReason := refusedVerify(t, dir)
			startReason := refusedStart(t, newCrashServer(t, dir, env)).Fields["error"]
			t.Logf("refused: %s", startReason)
			// The central opens ./bets.csv, as verify was told to, and
			// says what it was doing before the store's reason.
			if verifyReason == "" || !strings.HasSuffix(startReason, ": "+verifyReason) {
				t.Errorf("server verify and the central give different reasons:\nverify: %s\ncentral: %s", verifyReason, startReason)
			}
			if after := readFiles(t, dir); !equalFiles(files, after) {
				t.Error("server verify or a refused start changed the files")
			}
			if torn := tornFiles(t, dir); len(torn) != 0 {
				t.Errorf("a refused store left torn copies: %v", torn)
			}
		})
	}
	t.Run("torn tail", func(t *testing.T) {
		testTornTail(t, clean, data, env)
	})
}

// testTornTail appends what a central killed in the middle of a group
// commit leaves, a partial row and half a record, to a copy of the
// finished store, and checks that the start cuts exactly that, saying so
// at WARNING, and that the lottery is whole.
func testTornTail(t *testing.T, clean map[string][]byte, data string, env map[string]string) {
	dir := t.TempDir()
	j := clean[journalName]
	tails := map[string][]byte{
		"bets.csv":  []byte("3,Santiago,Álvarez,301"), // a row cut short, no newline
		journalName: bytes.Clone(j[len(j)-128 : len(j)-64]),
	}
	writeFiles(t, dir, map[string][]byte{
		"bets.csv":  append(bytes.Clone(clean["bets.csv"]), tails["bets.csv"]...),
		journalName: append(bytes.Clone(j), tails[journalName]...),
	})
	v := startProcess(t, "verify", serverBin, dir, nil, "verify", "./bets.csv")
	if code := v.WaitExit(t, clientTimeout); code != 0 || !hasLine(v, "verify", "success",
		"torn_csv_bytes", strconv.Itoa(len(tails["bets.csv"])), "torn_journal_bytes", strconv.Itoa(len(tails[journalName]))) {
		t.Errorf("server verify of the torn store: exit %d, want success naming the torn bytes; log:\n%s", code, harness.Tail(v.Log(), 3))
	}
	srv := newCrashServer(t, dir, env)
	p := srv.start()
	for name, tail := range tails {
		cuts := harness.With(harness.Filter(p.Lines(), "recovery", "in_progress"), "cut_bytes", strconv.Itoa(len(tail)))
		cuts = withFileNamed(cuts, name)
		if len(cuts) != 1 {
			t.Errorf("%s: want one recovery line cutting %d bytes; log:\n%s", name, len(tail), p.Log())
			continue
		}
		t.Logf("cut: %s", cuts[0].Raw)
		if cuts[0].Level != "WARNING" {
			t.Errorf("the cut of %s is logged at %q, want WARNING: %s", name, cuts[0].Level, cuts[0].Raw)
		}
		saved := cuts[0].Fields["saved_to"]
		if !strings.HasPrefix(filepath.Base(saved), name+".torn-") {
			t.Errorf("the cut of %s names %q as its copy, want %s.torn-<time>", name, saved, name)
			continue
		}
		if !filepath.IsAbs(saved) {
			saved = filepath.Join(dir, saved)
		}
		if got, err := os.ReadFile(saved); err != nil || !bytes.Equal(got, tail) {
			t.Errorf("%s holds %q (%v), want exactly the cut bytes %q", saved, got, err, tail)
		}
	}
	if n := len(tornFiles(t, dir)); n != 2 {
		t.Errorf("%d torn copies beside the store, want 2: %v", n, tornFiles(t, dir))
	}
	if after := readFiles(t, dir); !equalFiles(clean, after) {
		t.Error("after the cut, the store is not the finished one: more or less than the torn tail was cut")
	}
	runLottery(t, srv, data, courseWinners)
	if fails := harness.Filter(p.Lines(), "", "fail"); len(fails) != 0 {
		t.Errorf("the central logged failures: %v", fails)
	}
}

// withFileNamed returns the lines whose file field names a file called
// name, whatever its directory.
func withFileNamed(lines []harness.Line, name string) []harness.Line {
	var out []harness.Line
	for _, l := range lines {
		if filepath.Base(l.Fields["file"]) == name {
			out = append(out, l)
		}
	}
	return out
}

// refusedVerify runs server verify on the store in dir, which must fail
// with exit 1 and one fail line, and returns that line's error.
func refusedVerify(t *testing.T, dir string) string {
	t.Helper()
	p := startProcess(t, "verify", serverBin, dir, nil, "verify", "./bets.csv")
	code := p.WaitExit(t, clientTimeout)
	fails := harness.Filter(p.Lines(), "", "fail")
	if code != 1 || len(fails) != 1 || fails[0].Action != "verify" {
		t.Fatalf("server verify: exit %d, want 1 with one verify fail line; log:\n%s%s", code, p.Log(), p.Stderr())
	}
	return fails[0].Fields["error"]
}

// writeFiles writes files, by name, into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tornFiles lists the .torn- copies in dir.
func tornFiles(t *testing.T, dir string) []string {
	t.Helper()
	torn, err := filepath.Glob(filepath.Join(dir, "*.torn-*"))
	if err != nil {
		t.Fatal(err)
	}
	return torn
}
