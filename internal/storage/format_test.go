package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// format2Journal returns the journal of format 2 of a store holding
// agency 1's bets 0..3 in two batches and agency 2's 0..1 and its done
// notification, with the rows it covers.
func format2Journal() (csv, journal []byte) {
	var prev [32]byte
	add := func(rec record) {
		rec.prev = prev
		start := len(journal)
		journal = appendRecordFormat(journal, rec, 2)
		prev = sha256.Sum256(journal[start:])
	}
	add(record{kind: recordHeader, hash: formatMark(2)})
	digests := map[int]*lottery.Hasher{1: lottery.NewHasher(), 2: lottery.NewHasher()}
	batch := func(agency, from, n int) {
		rows := lottery.AppendRows(nil, agency, makeBets(agency, from, n))
		csv = append(csv, rows...)
		digests[agency].Write(rows)
		add(record{kind: recordBatch, agency: uint32(agency), first: uint64(from), count: uint32(n), csvEnd: int64(len(csv)), hash: sha256.Sum256(rows)})
	}
	batch(1, 0, 2)
	batch(2, 0, 2)
	batch(1, 2, 2)
	add(record{kind: recordDone, agency: 2, first: 2, csvEnd: int64(len(csv)), hash: digests[2].Sum()})
	return csv, journal
}

// TestMigrateFormat2: a store of the release before commit slots opens
// once migrated to this format, the old journal put aside under a name
// no release reads; a second start finds nothing to migrate.
func TestMigrateFormat2(t *testing.T) {
	fs := newFakeFS()
	csv, journal := format2Journal()
	fs.setContents(csvName, csv)
	fs.setContents(legacyName, journal)
	s := openStore(t, csvName, fs)
	r := s.Recovery()
	if !strings.HasPrefix(r.Migrated, legacyName+".migrated-") || string(fs.contents(r.Migrated)) != string(journal) {
		t.Fatalf("Recovery() = %+v; want the format 2 journal put aside as it was", r)
	}
	if ok, _ := fs.Exists(legacyName); ok {
		t.Errorf("%s is still there after the migration", legacyName)
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
}

// TestMigrationInterrupted: a migration that wrote the new journal and
// stopped before putting the old one aside is finished at the next
// start, which tells that old journal, by its hash in the new header,
// from one another release wrote.
func TestMigrationInterrupted(t *testing.T) {
	fs := newFakeFS()
	csv, journal := format2Journal()
	fs.setContents(csvName, csv)
	fs.setContents(legacyName, journal)
	s := openStore(t, csvName, fs)
	kept := s.Recovery().Migrated
	s.Close()
	fs.Rename(kept, legacyName) // as if the start had stopped before it
	s = openStore(t, csvName, fs)
	if r := s.Recovery(); !strings.HasPrefix(r.Migrated, legacyName+".migrated-") {
		t.Errorf("Recovery() = %+v; want the old journal put aside", r)
	}
	s.Close()

	fs.setContents(legacyName, journal[:len(journal)-recordSize]) // another old journal
	if ce := refused(t, fs); ce.Check != CheckJournal || !strings.Contains(ce.Reason, "earlier format") {
		t.Errorf("a second, different old journal: %v, want it refused naming it", ce)
	}
}

// TestEmptyLegacyJournal: the empty journal a release before format 3
// creates before it refuses this store is removed at the next start.
func TestEmptyLegacyJournal(t *testing.T) {
	fs := newFakeFS()
	smallStore(t, fs)
	fs.setContents(legacyName, nil)
	good := fs.contents(journalName)
	fs.setContents(journalName, good[:recordSize]) // a start that is refused removes nothing
	if ce := refused(t, fs); ce.Check != CheckJournal {
		t.Errorf("a journal cut to its header: %v, want the journal check", ce)
	}
	fs.setContents(journalName, good)
	openStore(t, csvName, fs).Close()
	if ok, _ := fs.Exists(legacyName); ok {
		t.Errorf("the empty %s is still there", legacyName)
	}
}

// TestNewerFormatRefused: a journal of a later format is refused, naming
// both formats, with nothing changed; so is bets.csv beside an old
// journal that a release before format 3 wrote after a migration.
func TestNewerFormatRefused(t *testing.T) {
	fs := newFakeFS()
	smallStore(t, fs)
	j := fs.contents(journalName)
	j[1] = journalFormat + 1 // a header of format 4, its checksum good
	fs.setContents(journalName, rechecksum(j))
	before := snapshot(fs)
	_, err := Open(csvName, Options{FS: fs, Logger: quiet})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Format != journalFormat+1 || !strings.Contains(err.Error(), "format 4, newer than this release's format 3") {
		t.Fatalf("Open = %v, want a *FormatError naming formats 4 and 3", err)
	}
	if !maps.Equal(snapshot(fs), before) {
		t.Error("a refused start changed the files")
	}
}

// rechecksum sets the checksum of the journal's first record.
func rechecksum(j []byte) []byte {
	binary.BigEndian.PutUint32(j[124:], crc32.Checksum(j[:124], castagnoli))
	return j
}

// TestSlotsRefused: commit slots that do not name consecutive groups are
// corruption, and so is a journal whose slot names more records than it
// holds.
func TestSlotsRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(j []byte) []byte
	}{
		{"the newer slot's group moved on", func(j []byte) []byte {
			return setSlot(j, 1, func(c *commitSlot) { c.seq += 2 })
		}},
		{"the newer slot names one record more", func(j []byte) []byte {
			return setSlot(j, 1, func(c *commitSlot) { c.records++ })
		}},
		{"the journal cut to its header and slots", func(j []byte) []byte { return j[:recordsStart] }},
		{"the journal's last record cut", func(j []byte) []byte { return j[:len(j)-recordSize] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeFS()
			smallStore(t, fs)
			fs.setContents(journalName, tt.edit(fs.contents(journalName)))
			if ce := refused(t, fs); ce.Check != CheckCommit {
				t.Errorf("refused by %q (%v), want %q", ce.Check, ce, CheckCommit)
			}
		})
	}
}

// setSlot edits the newer (which = 1) or older (0) commit slot of j.
func setSlot(j []byte, which int, edit func(*commitSlot)) []byte {
	sl, err := readSlots(j[:recordsStart])
	if err != nil {
		panic(err)
	}
	c := sl.older
	if which == 1 {
		c = sl.newer
	}
	off := slotOffset(c.seq)
	edit(&c)
	copy(j[off:], appendRecord(nil, c.record()))
	return j
}
