package client

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// TestWinnersFile runs agency 3 with winners.file against a fake central
// that answers with winners frames: the file holds the documents in the
// order the frames carried them, one per line, written through a
// temporary file that is gone afterwards, mode 0600 (an earlier run's file
// of mode 0644 included); the consulta_ganadores line is
// the one an agency without winners.file logs, and comes first.
func TestWinnersFile(t *testing.T) {
	draw := digestOf("draw")
	tests := []struct {
		name    string
		winners []protocol.Winners
		want    string
	}{
		{
			name: "documents in the central's order",
			winners: []protocol.Winners{
				{Documents: []string{"30904465", "1"}, More: true, Digest: draw},
				{Documents: []string{"99"}, More: true, Digest: draw},
				{Documents: []string{"12345678"}, Digest: draw},
			},
			want: "30904465\n1\n99\n12345678\n",
		},
		{
			name:    "no winners: an empty file",
			winners: []protocol.Winners{{Digest: draw}},
			want:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ganadores.txt")
			// A temporary file an earlier run, killed mid-write, left,
			// and the file of an earlier run: the one is removed, the
			// other replaced.
			stale := filepath.Join(dir, tempPrefix(path)+"123")
			writeTestFile(t, stale, "30904465\n")
			writeTestFile(t, path, "old\n")

			f := &fakeCentral{
				welcome: protocol.Welcome{Digest: lottery.EmptyDigest},
				doneAck: protocol.DoneAck{Total: 3, Digest: digestOf(agencyLines...)},
				winners: tt.winners,
			}
			f.start(t)
			log := &harness.Buffer{}
			a := newTestAgency(t, f.addr, agencyLines, log)
			a.cfg.WinnersFile = path
			res, err := a.Run(context.Background())
			f.wait(t)
			if err != nil {
				t.Fatalf("Run: %v; log:\n%s", err, log)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != tt.want {
				t.Fatalf("winners file %q (%v), want %q", got, err, tt.want)
			}
			if n := strings.Count(tt.want, "\n"); len(res.Winners) != n {
				t.Errorf("Run returned %d winners, want %d", len(res.Winners), n)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("winners file mode %v (%v), want 0600", fi.Mode().Perm(), err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) != 1 {
				t.Errorf("the directory holds %v (%v), want the winners file alone", entries, err)
			}

			lines := harness.ParseLog(log.String())
			n := strings.Count(tt.want, "\n")
			consulta := harness.Filter(lines, "consulta_ganadores", logging.ResultSuccess)
			wantConsulta := "action: consulta_ganadores | result: success | cant_ganadores: " + itoa(n) + " | digest: " + draw.String()
			if len(consulta) != 1 || !strings.HasSuffix(consulta[0].Raw, wantConsulta) {
				t.Errorf("consulta_ganadores lines %v, want one ending in %q", consulta, wantConsulta)
			}
			saved := harness.Filter(lines, "ganadores_guardados", logging.ResultSuccess)
			wantSaved := "action: ganadores_guardados | result: success | file: " + path + " | cant_ganadores: " + itoa(n)
			if len(saved) != 1 || !strings.HasSuffix(saved[0].Raw, wantSaved) {
				t.Errorf("ganadores_guardados lines %v, want one ending in %q", saved, wantSaved)
			}
			if idx(lines, "consulta_ganadores") > idx(lines, "ganadores_guardados") {
				t.Errorf("ganadores_guardados logged before consulta_ganadores:\n%s", log)
			}
		})
	}
}

// TestWinnersFileRefusedAtStart: a winners.file the agency could not
// write once it has its winners (the data file, by its path or a hard
// link; in a directory that does not exist or is read-only; a directory)
// stops it before its first connection, naming winners.file, and leaves
// the data file as it was and no directory made. (Before, a missing
// directory failed only after the draw, at the write.)
func TestWinnersFileRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "agency.csv")
	const bets = "Juan,Pérez,30904465,1990-05-17,1234\n"
	writeTestFile(t, data, bets)
	link := filepath.Join(dir, "link.txt")
	if err := os.Link(data, link); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"the data file", data, "data.file"},
		{"the data file, another spelling", filepath.Join(dir, ".", "agency.csv"), "data.file"},
		{"a hard link to the data file", link, "a link to it"},
		{"a missing directory", filepath.Join(dir, "missing", "ganadores.txt"), "cannot be created"},
		{"a directory", dir, "a directory"},
		{"a read-only directory", filepath.Join(readOnly, "ganadores.txt"), "cannot be created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "a read-only directory" && os.Geteuid() == 0 {
				t.Skip("root writes in a read-only directory")
			}
			addr, accepted := countingListener(t)
			cfg := config.DefaultClient()
			cfg.ID, cfg.ServerAddress, cfg.DataFile, cfg.WinnersFile = 1, addr, data, tt.path
			cfg.RetryTimeout, cfg.ServerTimeout = 200*time.Millisecond, time.Second
			_, err := New(cfg, logging.New(io.Discard, logging.LevelWarning)).Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), "winners.file") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: %v, want an error naming winners.file and %q", err, tt.want)
			}
			if n := accepted.Load(); n != 0 {
				t.Errorf("Run connected %d times before refusing to start", n)
			}
			if b, err := os.ReadFile(data); err != nil || string(b) != bets {
				t.Errorf("the data file is now %q (%v), want it unchanged", b, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the missing directory was made (%v)", err)
			}
		})
	}
}

// TestWinnersFileWriteFails: a winners.file that passed the check at
// start but cannot be written once the winners came (its directory
// removed meanwhile) is one fail line naming the file, after the
// consulta_ganadores line, and the run's error, with no second attempt.
func TestWinnersFileWriteFails(t *testing.T) {
	draw := digestOf("draw")
	dir := filepath.Join(t.TempDir(), "winners")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ganadores.txt")
	f := &fakeCentral{
		welcome:  protocol.Welcome{Digest: lottery.EmptyDigest},
		doneAck:  protocol.DoneAck{Total: 3, Digest: digestOf(agencyLines...)},
		winners:  []protocol.Winners{{Documents: []string{"1"}, Digest: draw}},
		onAccept: func() { os.RemoveAll(dir) },
	}
	f.start(t)
	log := &harness.Buffer{}
	a := newTestAgency(t, f.addr, agencyLines, log)
	a.cfg.WinnersFile = path
	_, err := a.Run(context.Background())
	conns, _ := f.wait(t)
	if !errors.Is(err, ErrWinnersFile) {
		t.Fatalf("Run error %v, want ErrWinnersFile; log:\n%s", err, log)
	}
	if conns != 1 {
		t.Errorf("the agency connected %d times, want once: a write that failed is not retried", conns)
	}
	lines := harness.ParseLog(log.String())
	fails := harness.Filter(lines, "", logging.ResultFail)
	if len(fails) != 1 || fails[0].Action != "ganadores_guardados" || fails[0].Fields["file"] != path {
		t.Fatalf("fail lines %v, want one ganadores_guardados line with file: %s", fails, path)
	}
	if len(harness.Filter(lines, "consulta_ganadores", logging.ResultSuccess)) != 1 ||
		idx(lines, "consulta_ganadores") > idx(lines, "ganadores_guardados") {
		t.Errorf("want the consulta_ganadores line before the fail line:\n%s", log)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed directory was made again (%v)", err)
	}
}

// TestNoWinnersFile: without winners.file the agency writes nothing and
// logs no ganadores_guardados line.
func TestNoWinnersFile(t *testing.T) {
	f := &fakeCentral{
		welcome: protocol.Welcome{Digest: lottery.EmptyDigest},
		doneAck: protocol.DoneAck{Total: 3, Digest: digestOf(agencyLines...)},
		winners: []protocol.Winners{{Documents: []string{"1"}, Digest: digestOf("draw")}},
	}
	f.start(t)
	log := &harness.Buffer{}
	if _, err := newTestAgency(t, f.addr, agencyLines, log).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.wait(t)
	if n := len(harness.Filter(harness.ParseLog(log.String()), "ganadores_guardados", "")); n != 0 {
		t.Errorf("%d ganadores_guardados lines without winners.file", n)
	}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// idx is the index of the first line of action whose result is not
// in_progress, or -1.
func idx(lines []harness.Line, action string) int {
	for i, l := range lines {
		if l.Action == action && l.Result != logging.ResultInProgress {
			return i
		}
	}
	return -1
}

func itoa(n int) string { return strconv.Itoa(n) }
