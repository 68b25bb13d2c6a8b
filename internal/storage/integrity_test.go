package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

const (
	csvName     = "bets.csv"
	journalName = csvName + JournalSuffix
	legacyName  = csvName + LegacyJournalSuffix
)

// recordOffset is where the journal's record i is, the header being 0.
func recordOffset(i int) int {
	if i == 0 {
		return 0
	}
	return recordsStart + (i-1)*recordSize
}

// smallStore writes, through fs, a store of a few batches of three
// agencies, interleaved, and agency 2's done notification, and closes it
// cleanly. It returns the bets it holds in storage order.
func smallStore(t *testing.T, fs FS) []lottery.Bet {
	t.Helper()
	s, err := Open(csvName, Options{FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var stored []lottery.Bet
	for _, b := range []struct {
		agency, from, n int
	}{{1, 0, 2}, {2, 0, 3}, {1, 2, 1}, {3, 0, 2}, {2, 3, 1}} {
		bets := makeBets(b.agency, b.from, b.n)
		mustAppend(t, s, b.agency, uint64(b.from), bets)
		stored = append(stored, bets...)
	}
	if _, err := s.Notify(2, 4).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return stored
}

// snapshot is every file of a fake disk.
func snapshot(fs *fakeFS) map[string]string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[string]string, len(fs.files))
	for name, f := range fs.files {
		out[name] = string(f.data)
	}
	return out
}

// refused opens the store on fs, which must be refused as corrupt and
// leave every file as it was; it returns the refusal.
func refused(t *testing.T, fs *fakeFS) *CorruptError {
	t.Helper()
	before := snapshot(fs)
	s, err := Open(csvName, Options{FS: fs, Logger: quiet})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a corrupt store")
	}
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want a *CorruptError", err)
	}
	if after := snapshot(fs); !maps.Equal(after, before) {
		t.Fatalf("a refused Open changed the disk: files %v, were %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
	}
	return ce
}

// TestEveryBitFlipIsRefused flips every bit of the journal and of
// bets.csv of a cleanly closed store, one at a time: each flip is refused
// as corruption and changes nothing on disk. (A flip never makes a whole
// record look torn: a torn record ends in 36 zero bytes, see tornZeros;
// TestTornTail covers the torn side of that rule.)
func TestEveryBitFlipIsRefused(t *testing.T) {
	fs := newFakeFS()
	smallStore(t, fs)
	classes := make(map[string]int)
	for _, name := range []string{journalName, csvName} {
		orig := fs.contents(name)
		for bit := range len(orig) * 8 {
			flipped := bytes.Clone(orig)
			flipped[bit/8] ^= 1 << (bit % 8)
			fs.setContents(name, flipped)
			ce := refused(t, fs)
			if ce.File != name {
				t.Errorf("bit %d of %s: blamed %s", bit, name, ce.File)
			}
			classes[fmt.Sprintf("%s: %s", name, ce.Check)]++
		}
		fs.setContents(name, orig)
	}
	keys := slices.Sorted(maps.Keys(classes))
	var report []string
	for _, k := range keys {
		report = append(report, fmt.Sprintf("%s %d", k, classes[k]))
	}
	t.Logf("flips refused, by file and check: %s", strings.Join(report, ", "))
	// The store is untouched: it opens as it was.
	openStore(t, csvName, fs)
}

// TestEditsAreRefused: edits that keep bets.csv a well-formed CSV, and a
// batch cut out with its record, are each refused, twice, with nothing
// changed on disk.
func TestEditsAreRefused(t *testing.T) {
	lines := func(b []byte) [][]byte { return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) }
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	tests := []struct {
		name  string
		check Check
		edit  func(csv, journal []byte) ([]byte, []byte)
	}{
		{"a number changed to 7574", CheckRows, func(csv, j []byte) ([]byte, []byte) {
			ls := lines(csv)
			ls[3] = append(bytes.TrimRight(ls[3], "0123456789\n"), "7574\n"...)
			return join(ls), j
		}},
		{"two rows swapped", CheckRows, func(csv, j []byte) ([]byte, []byte) {
			ls := lines(csv)
			ls[2], ls[3] = ls[3], ls[2]
			return join(ls), j
		}},
		{"a row deleted", CheckRows, func(csv, j []byte) ([]byte, []byte) {
			ls := lines(csv)
			return join(slices.Delete(ls, 1, 2)), j
		}},
		{"a row added", CheckRows, func(csv, j []byte) ([]byte, []byte) {
			ls := lines(csv)
			return join(slices.Insert(ls, 1, betcsv.AppendStoreRow(nil, bet(1, "Ana", "Otra", "1", 7574)))), j
		}},
		{"re-saved with CRLF", CheckRows, func(csv, j []byte) ([]byte, []byte) {
			return bytes.ReplaceAll(csv, []byte("\n"), []byte("\r\n")), j
		}},
		{"a batch cut out with its record", CheckSize, func(csv, j []byte) ([]byte, []byte) {
			// The second batch (agency 2, 3 rows) and its record, the
			// third: the next record's bets.csv end is past the file's,
			// before its link to the record cut out is looked at.
			ls := lines(csv)
			return join(slices.Delete(ls, 2, 5)), slices.Delete(j, recordOffset(2), recordOffset(3))
		}},
		{"a batch cut out, the records after it rewritten to fit", CheckChain, func(csv, j []byte) ([]byte, []byte) {
			ls := lines(csv)
			cut := int64(len(join(ls[2:5])))
			j = slices.Delete(j, recordOffset(2), recordOffset(3))
			for off := recordOffset(2); off < len(j); off += recordSize {
				rec := j[off : off+recordSize]
				binary.BigEndian.PutUint64(rec[20:], binary.BigEndian.Uint64(rec[20:])-uint64(cut))
				binary.BigEndian.PutUint32(rec[124:], crc32.Checksum(rec[:124], castagnoli))
			}
			return join(slices.Delete(ls, 2, 5)), j
		}},
		{"bets.csv cut short", CheckSize, func(csv, j []byte) ([]byte, []byte) {
			return csv[:len(csv)-5], j
		}},
		{"the last record changed", CheckChecksum, func(csv, j []byte) ([]byte, []byte) {
			j[len(j)-recordSize+9] ^= 0x40
			return csv, j
		}},
		{"the last record rewritten with its checksum", CheckChain, func(csv, j []byte) ([]byte, []byte) {
			rec := j[len(j)-recordSize:]
			rec[15]++ // the done's total
			binary.BigEndian.PutUint32(rec[124:], crc32.Checksum(rec[:124], castagnoli))
			return csv, j
		}},
		{"the journal's records deleted", CheckJournal, func(csv, j []byte) ([]byte, []byte) {
			return csv, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeFS()
			smallStore(t, fs)
			csv, journal := tt.edit(fs.contents(csvName), fs.contents(journalName))
			fs.setContents(csvName, csv)
			fs.setContents(journalName, journal)
			for range 2 { // a supervisor starts it again: still refused
				if ce := refused(t, fs); ce.Check != tt.check {
					t.Errorf("refused by the %q check (%v), want %q", ce.Check, ce, tt.check)
				}
			}
		})
	}
}

// TestRefusedStartChangesNothing: a bets.csv of the course's Python
// server, which keeps no journal, is refused at every start, and no start
// leaves a journal behind (a next start would have taken it for an empty
// store's and cut bets.csv).
func TestRefusedStartChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, csvName)
	var rows []byte
	for _, b := range makeBets(1, 0, 1000) {
		rows = betcsv.AppendStoreRow(rows, b)
	}
	if err := os.WriteFile(path, rows, 0o644); err != nil {
		t.Fatal(err)
	}
	for start := range 2 {
		if _, err := Open(path, Options{Logger: quiet}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no journal") {
			t.Fatalf("start %d: Open = %v, want a refusal that names the journal", start, err)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, rows) {
			t.Fatalf("start %d changed bets.csv (%d bytes, %v)", start, len(got), err)
		}
		if _, err := os.Stat(path + JournalSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("start %d left a journal behind: %v", start, err)
		}
	}
}

// appendRecordV1 writes a record as the journal of format 1 did.
func appendRecordV1(dst []byte, r record) []byte {
	start := len(dst)
	dst = append(dst, r.kind, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, r.agency)
	dst = binary.BigEndian.AppendUint64(dst, r.first)
	dst = binary.BigEndian.AppendUint32(dst, r.count)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.csvEnd))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// TestMigrateFormat1: a store written before hashes opens once migrated,
// with the old journal kept beside it; its digests are those of its rows,
// and a second start finds nothing to migrate.
func TestMigrateFormat1(t *testing.T) {
	fs := newFakeFS()
	var csv, journal []byte
	add := func(agency, from, n int) {
		for _, b := range makeBets(agency, from, n) {
			csv = betcsv.AppendStoreRow(csv, b)
		}
		journal = appendRecordV1(journal, record{kind: recordBatch, agency: uint32(agency), first: uint64(from), count: uint32(n), csvEnd: int64(len(csv))})
	}
	add(1, 0, 3)
	add(2, 0, 2)
	add(1, 3, 1)
	journal = appendRecordV1(journal, record{kind: recordDone, agency: 2, first: 2, csvEnd: int64(len(csv))})
	fs.setContents(csvName, csv)
	fs.setContents(legacyName, append(slices.Clip(journal), 1, 2, 3)) // and a torn tail

	s := openStore(t, csvName, fs)
	r := s.Recovery()
	if r.Migrated == "" || string(fs.contents(r.Migrated)) != string(journal)+"\x01\x02\x03" {
		t.Fatalf("Recovery() = %+v; want the format 1 journal kept as it was", r)
	}
	want := map[int]lottery.Holding{
		1: {Bets: 4, Digest: digestOf(makeBets(1, 0, 4))},
		2: {Bets: 2, Done: true, Digest: digestOf(makeBets(2, 0, 2))},
	}
	if got := s.Holdings(); !maps.Equal(got, want) {
		t.Errorf("Holdings() = %v, want %v", got, want)
	}
	mustAppend(t, s, 1, 4, makeBets(1, 4, 1))
	s.Close()

	s = openStore(t, csvName, fs)
	if r := s.Recovery(); r.Migrated != "" || r.Batches != 4 || r.CutJournalBytes != 0 {
		t.Errorf("second start: Recovery() = %+v, want 4 batches and no migration", r)
	}
	if got := s.Holdings()[1].Digest; got != digestOf(makeBets(1, 0, 5)) {
		t.Errorf("agency 1's digest after the migration and a batch: %s", got)
	}
}

// TestDigestsIgnoreBatching: the same bets give the same digests however
// they were cut into batches and however agencies interleaved, and each is
// the SHA-256 of the agency's rows, as the agency computes it.
func TestDigestsIgnoreBatching(t *testing.T) {
	bets := map[int][]lottery.Bet{1: makeBets(1, 0, 50), 2: makeBets(2, 0, 30)}
	for _, size := range []int{1, 7, 50} {
		t.Run(fmt.Sprint("batches of ", size), func(t *testing.T) {
			s := openStore(t, csvName, newFakeFS())
			next := map[int]int{}
			for next[1] < 50 || next[2] < 30 {
				for _, a := range []int{2, 1} { // agency 2 first: another interleaving
					n := min(size, len(bets[a])-next[a])
					if n > 0 {
						mustAppend(t, s, a, uint64(next[a]), bets[a][next[a]:next[a]+n])
						next[a] += n
					}
				}
			}
			for a, bs := range bets {
				d, err := s.Notify(a, uint64(len(bs))).Wait(context.Background())
				if err != nil || d != digestOf(bs) {
					t.Errorf("agency %d: Notify digest %s, %v; want %s", a, d, err, digestOf(bs))
				}
			}
		})
	}
}

// TestDrawIsRecorded: the draw's result survives a restart, and nothing
// is written after it.
func TestDrawIsRecorded(t *testing.T) {
	fs := newFakeFS()
	s := openStore(t, csvName, fs)
	c := newCentral(t, s, 2)
	for a := 1; a <= 2; a++ {
		if _, _, err := c.Submit(a, 0, makeBets(a, 7570, 6)).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Notify(context.Background(), a, 6); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(1, 6, makeBets(1, 6, 1)).Wait(context.Background()); err == nil {
		t.Error("the store took a batch after the draw")
	}
	s.Close()

	s = openStore(t, csvName, fs)
	r, ok := s.Recorded()
	if !ok || r.Agencies != 2 || r.Bets != 12 || r.Winners != 2 {
		t.Fatalf("Drawn() = %+v, %v; want 2 agencies, 12 bets, 2 winners", r, ok)
	}
	digests := []lottery.Digest{digestOf(makeBets(1, 7570, 6)), digestOf(makeBets(2, 7570, 6))}
	if r.Digest != lottery.DrawDigest(digests) {
		t.Errorf("recorded digest %s, want %s", r.Digest, lottery.DrawDigest(digests))
	}
	c = newCentral(t, s, 5) // the setting changed after the draw
	if c.Agencies() != 2 || !c.Drawn() {
		t.Errorf("after the draw, a central for 5 agencies covers %d (drawn %v), want the recorded 2", c.Agencies(), c.Drawn())
	}
}
