package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

var quiet = slog.New(slog.DiscardHandler)

func bet(agency int, first, last, doc string, number int) lottery.Bet {
	return lottery.Bet{Agency: agency, FirstName: first, LastName: last, Document: doc, Birthdate: "1990-05-17", Number: number}
}

// makeBets returns n distinct bets of agency, numbered from start.
func makeBets(agency, start, n int) []lottery.Bet {
	out := make([]lottery.Bet, n)
	for i := range out {
		out[i] = bet(agency, "Nombre", fmt.Sprintf("Apellido%d", start+i), fmt.Sprint(30000000+start+i), (start+i)%10000)
	}
	return out
}

func openStore(t *testing.T, path string, fs FS) *Store {
	t.Helper()
	s, err := Open(path, Options{FS: fs, Logger: quiet})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func loadAll(t *testing.T, s *Store) []lottery.Bet {
	t.Helper()
	var out []lottery.Bet
	for b, err := range s.LoadBets() {
		if err != nil {
			t.Fatalf("LoadBets: %v", err)
		}
		out = append(out, b)
	}
	return out
}

func mustAppend(t *testing.T, s *Store, agency int, first uint64, bets []lottery.Bet) {
	t.Helper()
	if _, err := s.Append(agency, first, bets).Wait(context.Background()); err != nil {
		t.Fatalf("Append(agency %d, first %d, %d bets): %v", agency, first, len(bets), err)
	}
}

// storedBets returns how many bets the journal holds for agency. The test
// calls it when no write is in flight: the writer's last change to its
// state happened before the answer the test waited for.
func storedBets(s *Store, agency int) uint64 { return s.state.bets[agency] }

// nopEvents is a lottery.Events that ignores what it hears.
type nopEvents struct{}

func (nopEvents) Notified(int, uint64)        {}
func (nopEvents) Drawn(lottery.Result, []int) {}
func (nopEvents) DrawFailed(error)            {}

// newCentral returns a lottery.Central over s for agencies.
func newCentral(t *testing.T, s *Store, agencies int) *lottery.Central {
	t.Helper()
	c, err := lottery.NewCentral(context.Background(), s, agencies, nopEvents{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// headedState returns the state of a journal that holds only its header.
func headedState(t *testing.T) journalState {
	t.Helper()
	st := newJournalState()
	header := record{kind: recordHeader, hash: headerMark}
	if err := st.apply(header, nil, appendRecord(nil, header)); err != nil {
		t.Fatal(err)
	}
	return st
}

// digestOf is an agency's digest as its agency computes it: the SHA-256
// of its bets rendered as bets.csv rows.
func digestOf(bets []lottery.Bet) lottery.Digest {
	var rows []byte
	for _, b := range bets {
		rows = betcsv.AppendStoreRow(rows, b)
	}
	return lottery.Digest(sha256.Sum256(rows))
}

func TestStoreBetsLoadBetsOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bets.csv")
	s := openStore(t, path, nil)
	var want []lottery.Bet
	for round := range 3 {
		for agency := 1; agency <= 3; agency++ {
			bets := makeBets(agency, round*10, 10)
			if err := s.StoreBets(bets); err != nil {
				t.Fatal(err)
			}
			want = append(want, bets...)
		}
	}
	winner := bet(2, "Gana", "Dor", "555", lottery.LotteryWinnerNumber)
	if err := s.StoreBets([]lottery.Bet{winner}); err != nil {
		t.Fatal(err)
	}
	want = append(want, winner)
	got := loadAll(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("LoadBets returned %d bets not in storage order", len(got))
	}
	won := 0
	for _, b := range got {
		if lottery.HasWon(b) {
			won++
		}
	}
	if won != 1 {
		t.Errorf("HasWon over stored bets: %d winners, want 1", won)
	}
	if got := storedBets(s, 2); got != 31 {
		t.Errorf("agency 2 committed %d, want 31", got)
	}
}

// TestCentralOverStore: the position rule of lottery.Central, over the
// real store: every bet stored once, whatever is resent.
func TestCentralOverStore(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bets.csv"), nil)
	c := newCentral(t, s, 2)
	bets := makeBets(1, 0, 10)
	submit := func(first int, bets []lottery.Bet) (uint64, int, error) {
		return c.Submit(1, uint64(first), slices.Clone(bets)).Wait(context.Background())
	}
	if st, n, err := submit(0, bets[:4]); err != nil || st != 4 || n != 4 {
		t.Errorf("first batch: stored %d fresh %d err %v, want 4 4", st, n, err)
	}
	if st, n, err := submit(0, bets[:4]); err != nil || st != 4 || n != 0 {
		t.Errorf("same batch again: stored %d fresh %d err %v, want 4 0", st, n, err)
	}
	if st, n, err := submit(2, bets[2:6]); err != nil || st != 6 || n != 2 {
		t.Errorf("overlapping batch: stored %d fresh %d err %v, want 6 2", st, n, err)
	}
	if _, _, err := submit(8, bets[8:]); !errors.Is(err, lottery.ErrOutOfOrder) {
		t.Errorf("batch past a gap: err %v, want ErrOutOfOrder", err)
	}
	if _, err := c.Notify(context.Background(), 1, 5); !errors.Is(err, lottery.ErrIncomplete) {
		t.Errorf("notify with a wrong total: err %v, want ErrIncomplete", err)
	}
	if _, _, err := submit(6, bets[6:]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(context.Background(), 1, 10); err != nil {
		t.Fatalf("notify: %v", err)
	}
	if _, err := c.Notify(context.Background(), 1, 10); err != nil {
		t.Errorf("notify again: %v, want it to be harmless", err)
	}
	if _, _, err := c.Submit(1, 10, makeBets(1, 10, 1)).Wait(context.Background()); !errors.Is(err, lottery.ErrClosed) {
		t.Errorf("new bet after notify: err %v, want ErrClosed", err)
	}
	if st, n, err := submit(0, bets[:4]); err != nil || st != 10 || n != 0 {
		t.Errorf("old batch after notify: stored %d fresh %d err %v, want it acknowledged again", st, n, err)
	}
	if got := loadAll(t, s); !slices.Equal(got, bets) {
		t.Errorf("stored %d bets, want the 10 sent, each once", len(got))
	}
	if got := storedBets(s, 1); got != 10 {
		t.Errorf("journal holds %d bets of agency 1, want 10", got)
	}
}

// TestPlan: the writer refuses, without writing it, a request that does
// not follow from the journal, and writes the rest of its group.
func TestPlan(t *testing.T) {
	batch := func(agency int, from uint64, n int) *request {
		r := newBatch(agency, makeBets(agency, int(from), n))
		r.first = from
		return r
	}
	appendBatch := func(agency, n int) *request {
		r := newBatch(agency, makeBets(agency, 0, n))
		r.append = true
		return r
	}
	done := func(agency int, total uint64) *request {
		return &request{kind: recordDone, agency: agency, total: total}
	}
	tests := []struct {
		name    string
		before  map[int]lottery.Holding // the journal before the group
		group   []*request
		refused []bool   // per request
		bets    []uint64 // agency 1, 2 stored after the group
	}{
		{"in order", nil, []*request{batch(1, 0, 3), batch(2, 0, 2), batch(1, 3, 1)}, []bool{false, false, false}, []uint64{4, 2}},
		{"a gap", nil, []*request{batch(1, 0, 3), batch(1, 4, 1)}, []bool{false, true}, []uint64{3, 0}},
		{"back in the past", nil, []*request{batch(1, 0, 3), batch(1, 1, 1)}, []bool{false, true}, []uint64{3, 0}},
		{"done with its total", nil, []*request{batch(1, 0, 3), done(1, 3)}, []bool{false, false}, []uint64{3, 0}},
		{"done with another total", nil, []*request{batch(1, 0, 3), done(1, 2)}, []bool{false, true}, []uint64{3, 0}},
		{"batch after done", nil, []*request{done(1, 0), batch(1, 0, 1)}, []bool{false, true}, []uint64{0, 0}},
		{"append at the next position", nil, []*request{batch(2, 0, 2), appendBatch(2, 3)}, []bool{false, false}, []uint64{0, 5}},
		{"after a journal", map[int]lottery.Holding{1: {Bets: 3}, 2: {Bets: 2, Done: true}},
			[]*request{batch(1, 3, 2), batch(2, 2, 1), batch(1, 0, 1)}, []bool{false, true, true}, []uint64{5, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := headedState(t)
			for a, h := range tt.before {
				st.bets[a], st.done[a] = h.Bets, h.Done
			}
			before := st.holdings()
			p := st.plan(tt.group, nil, nil)
			if got := st.holdings(); !maps.Equal(got, before) || st.size != 0 || st.records != 1 {
				t.Errorf("plan changed the journal's state: %v, size %d; want %v, 0", got, st.size, before)
			}
			var rows, records int
			for i, r := range tt.group {
				if refused := p.errs[i] != nil; refused != tt.refused[i] {
					t.Errorf("request %d: refused %v (%v), want %v", i, refused, p.errs[i], tt.refused[i])
				}
				if p.errs[i] == nil {
					rows += len(r.rows)
					records++
				} else if !errors.Is(p.errs[i], lottery.ErrUnavailable) {
					t.Errorf("request %d: %v does not wrap ErrUnavailable", i, p.errs[i])
				}
			}
			if len(p.rows) != rows || len(p.records) != records*recordSize {
				t.Errorf("plan writes %d row bytes and %d journal bytes, want %d and %d", len(p.rows), len(p.records), rows, records*recordSize)
			}
			st.merge(p.next)
			if st.size != int64(rows) {
				t.Errorf("state ends bets.csv at %d, want %d", st.size, rows)
			}
			for i, want := range tt.bets {
				if got := st.bets[i+1]; got != want {
					t.Errorf("agency %d: %d bets, want %d", i+1, got, want)
				}
			}
		})
	}
}

func TestReopenRecoversProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bets.csv")
	s, err := Open(path, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, 1, 0, makeBets(1, 0, 3))
	mustAppend(t, s, 2, 0, makeBets(2, 0, 5))
	if _, err := s.Notify(2, 5).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, nil)
	want := map[int]lottery.Holding{
		1: {Bets: 3, Digest: digestOf(makeBets(1, 0, 3))},
		2: {Bets: 5, Done: true, Digest: digestOf(makeBets(2, 0, 5))},
	}
	if got := s.Holdings(); !maps.Equal(got, want) {
		t.Errorf("Holdings() after reopen = %v, want %v", got, want)
	}
	if r := s.Recovery(); r.Batches != 2 || r.Bets != 8 || r.CutCSVBytes != 0 || r.CutJournalBytes != 0 {
		t.Errorf("Recovery() = %+v", r)
	}
}

// TestTornTail covers what a crash leaves at the end of the files.
func TestTornTail(t *testing.T) {
	committed := makeBets(1, 0, 4)
	var committedRows []byte
	for _, b := range committed {
		committedRows = betcsv.AppendStoreRow(committedRows, b)
	}
	unacked := betcsv.AppendStoreRow(nil, makeBets(1, 4, 1)[0])
	unacked = betcsv.AppendStoreRow(unacked, makeBets(1, 5, 1)[0])
	tests := []struct {
		name        string
		csvTail     []byte
		journalTail []byte
		cutCSV      int64
		cutJournal  int64
	}{
		{name: "clean"},
		{name: "half a line", csvTail: unacked[:7], cutCSV: 7},
		{name: "unacknowledged batch", csvTail: unacked, cutCSV: int64(len(unacked))},
		{name: "unacknowledged batch with half its record", csvTail: unacked,
			journalTail: appendRecord(nil, record{kind: recordBatch, agency: 1, first: 4, count: 2, csvEnd: int64(len(committedRows) + len(unacked))})[:20],
			cutCSV:      int64(len(unacked)), cutJournal: 20},
		{name: "zeroed records", csvTail: unacked,
			journalTail: make([]byte, 2*recordSize),
			cutCSV:      int64(len(unacked)), cutJournal: 2 * recordSize},
		{name: "zeroed record after half a record", csvTail: unacked,
			journalTail: append(appendRecord(nil, record{kind: recordBatch, agency: 1, first: 4, count: 2})[:100], make([]byte, 156)...),
			cutCSV:      int64(len(unacked)), cutJournal: 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeFS()
			s := openStore(t, "bets.csv", fs)
			mustAppend(t, s, 1, 0, committed[:2])
			mustAppend(t, s, 1, 2, committed[2:])
			s.Close()
			fs.setContents("bets.csv", append(fs.contents("bets.csv"), tt.csvTail...))
			fs.setContents("bets.csv"+JournalSuffix, append(fs.contents("bets.csv"+JournalSuffix), tt.journalTail...))

			s = openStore(t, "bets.csv", fs)
			r := s.Recovery()
			if r.CutCSVBytes != tt.cutCSV || r.CutJournalBytes != tt.cutJournal {
				t.Errorf("cut %d csv / %d journal bytes, want %d / %d", r.CutCSVBytes, r.CutJournalBytes, tt.cutCSV, tt.cutJournal)
			}
			// What was cut is kept beside the file it was cut from.
			var saved []byte
			for _, name := range r.Saved {
				saved = append(saved, fs.contents(name)...)
			}
			if want := append(slices.Clip(tt.journalTail), tt.csvTail...); !bytes.Equal(saved, want) {
				t.Errorf("saved %q (%v), want the cut bytes %q", saved, r.Saved, want)
			}
			if got := fs.contents("bets.csv"); !bytes.Equal(got, committedRows) {
				t.Errorf("bets.csv after recovery:\n%s\nwant:\n%s", got, committedRows)
			}
			if got := storedBets(s, 1); got != 4 {
				t.Errorf("committed %d, want 4", got)
			}
			// The agency resumes where the central's storage ends.
			mustAppend(t, s, 1, 4, makeBets(1, 4, 2))
			if got := loadAll(t, s); len(got) != 6 {
				t.Errorf("after resuming: %d bets, want 6", len(got))
			}
		})
	}
}

func TestOpenRefusesUnaccountedBets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bets.csv")
	if err := os.WriteFile(path, betcsv.AppendStoreRow(nil, bet(1, "a", "b", "1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "no journal") {
		t.Errorf("Open of bets.csv without journal: err %v, want a refusal that names the journal", err)
	}
}

func TestOpenRefusesShortenedCSV(t *testing.T) {
	fs := newFakeFS()
	s := openStore(t, "bets.csv", fs)
	mustAppend(t, s, 1, 0, makeBets(1, 0, 3))
	s.Close()
	rows := fs.contents("bets.csv")
	fs.setContents("bets.csv", rows[:len(rows)-5])
	if _, err := Open("bets.csv", Options{FS: fs, Logger: quiet}); err == nil {
		t.Error("Open accepted a bets.csv shorter than its journal commits")
	}
}

// TestSyncFailureStopsAcks: an fsync error is never followed by an ack,
// and the store takes nothing more.
func TestSyncFailureStopsAcks(t *testing.T) {
	for _, file := range []string{"bets.csv", "bets.csv" + JournalSuffix} {
		t.Run(file, func(t *testing.T) {
			fs := newFakeFS()
			s := openStore(t, "bets.csv", fs)
			mustAppend(t, s, 1, 0, makeBets(1, 0, 2))
			fs.syncFails = func(name string) error {
				if name == file {
					return errors.New("injected EIO")
				}
				return nil
			}
			if _, err := s.Append(1, 2, makeBets(1, 2, 2)).Wait(context.Background()); !errors.Is(err, lottery.ErrUnavailable) {
				t.Fatalf("append whose sync fails: err %v, want ErrUnavailable", err)
			}
			fs.syncFails = nil
			if _, err := s.Append(2, 0, makeBets(2, 0, 1)).Wait(context.Background()); !errors.Is(err, lottery.ErrUnavailable) || !strings.Contains(err.Error(), "injected EIO") {
				t.Errorf("append after a failed sync: err %v, want ErrUnavailable naming the cause", err)
			}
		})
	}
}

func TestClosedStoreRefuses(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bets.csv"), nil)
	s.Close()
	if _, err := s.Append(1, 0, makeBets(1, 0, 1)).Wait(context.Background()); !errors.Is(err, lottery.ErrUnavailable) {
		t.Errorf("append after Close: err %v, want ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPowerLoss checks, over random histories, that after a power loss at
// any point recovery keeps every acknowledged batch, in order, once, and
// nothing but acknowledged batches and those of the group in flight when
// the power went (which no agency was told were stored, so it resends
// them and they are recognised by their position).
func TestPowerLoss(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fs := newFakeFS()
		seed := rapid.Uint64().Draw(rt, "seed")
		rng := rand.New(rand.NewPCG(seed, 1))
		s, err := Open("bets.csv", Options{FS: fs, Logger: quiet})
		if err != nil {
			rt.Fatal(err)
		}
		const agencies = 3
		c, err := lottery.NewCentral(context.Background(), s, agencies, nopEvents{})
		if err != nil {
			rt.Fatal(err)
		}
		acked := make(map[int][]lottery.Bet)   // acknowledged, per agency
		inDoubt := make(map[int][]lottery.Bet) // sent when the power went
		next := make(map[int]int)
		failAt := rapid.IntRange(1, 60).Draw(rt, "failAt") // the sync that never returns
		syncs := 0
		fs.syncFails = func(string) error {
			syncs++
			if syncs >= failAt {
				return errors.New("power lost")
			}
			return nil
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for range steps {
			a := rapid.IntRange(1, agencies).Draw(rt, "agency")
			n := rapid.IntRange(1, 5).Draw(rt, "n")
			bets := makeBets(a, next[a], n)
			_, stored, err := c.Submit(a, uint64(next[a]), slices.Clone(bets)).Wait(context.Background())
			if err != nil {
				inDoubt[a] = append(inDoubt[a], bets...)
				break
			}
			if stored != n {
				rt.Fatalf("stored %d of %d fresh bets", stored, n)
			}
			acked[a] = append(acked[a], bets...)
			next[a] += n
		}
		s.Close()
		fs.syncFails = nil
		fs.crash(rng)

		s, err = Open("bets.csv", Options{FS: fs, Logger: quiet})
		if err != nil {
			rt.Fatalf("recovery after power loss: %v", err)
		}
		defer s.Close()
		got := make(map[int][]lottery.Bet)
		for b, err := range s.LoadBets() {
			if err != nil {
				rt.Fatalf("LoadBets after recovery: %v", err)
			}
			got[b.Agency] = append(got[b.Agency], b)
		}
		for a := 1; a <= agencies; a++ {
			g, want := got[a], acked[a]
			if len(g) < len(want) || !slices.Equal(g[:len(want)], want) {
				rt.Fatalf("agency %d: recovered %d bets, lost some of the %d acknowledged", a, len(g), len(want))
			}
			extra := g[len(want):]
			if len(extra) > len(inDoubt[a]) || !slices.Equal(extra, inDoubt[a][:len(extra)]) {
				rt.Fatalf("agency %d: recovered %d bets that were never sent or acknowledged", a, len(extra))
			}
			if h := s.Holdings()[a]; h.Bets != uint64(len(g)) {
				rt.Fatalf("agency %d: journal holds %d bets but %d are in bets.csv", a, h.Bets, len(g))
			}
		}
	})
}

// TestPythonLoadBets checks that the course's Python load_bets still reads
// bets.csv.
func TestPythonLoadBets(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot run the course's load_bets")
	}
	path := filepath.Join(t.TempDir(), "bets.csv")
	s := openStore(t, path, nil)
	bets := []lottery.Bet{
		bet(1, "Santiago", "Álvarez", "12345678", 7574),
		bet(2, "Juan, Jr", `O"Brien`, "1", 0),
		bet(3, " Espacio", "Normal", "3", 9999),
	}
	if err := s.StoreBets(bets); err != nil {
		t.Fatal(err)
	}
	const script = `
import csv, datetime, sys
for row in csv.reader(open(sys.argv[1], encoding="utf-8")):
    agency, first, last, doc, birth, number = row
    datetime.date.fromisoformat(birth)
    print(int(agency), first, last, doc, birth, int(number), sep="|")
`
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python load_bets: %v\n%s", err, out)
	}
	var want strings.Builder
	for _, b := range bets {
		fmt.Fprintf(&want, "%d|%s|%s|%s|%s|%d\n", b.Agency, b.FirstName, b.LastName, b.Document, b.Birthdate, b.Number)
	}
	if string(out) != want.String() {
		t.Errorf("python read:\n%s\nwant:\n%s", out, want.String())
	}
}

// TestSecondOpenRefused: a second central on the same storage is refused
// while the first lives, before its recovery could cut anything.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bets.csv")
	s := openStore(t, path, nil)
	mustAppend(t, s, 1, 0, makeBets(1, 0, 3))
	if _, err := Open(path, Options{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "another central") {
		t.Fatalf("second Open: err %v, want a refusal naming the other central", err)
	}
	if got := storedBets(s, 1); got != 3 {
		t.Errorf("first store's agency 1 committed %d after the refused open, want 3", got)
	}
	s.Close()
	s2 := openStore(t, path, nil)
	if got := len(loadAll(t, s2)); got != 3 {
		t.Errorf("reopened after close: %d bets, want 3", got)
	}
}
