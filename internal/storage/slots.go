package storage

import (
	"encoding/binary"
	"fmt"
)

// commitSlot says where a group commit left the journal: the records it
// holds (the header included), the bytes of bets.csv they cover and the
// hash of the last one. Two slots sit after the header (see the journal's
// format); group seq is written to slot seq%2, over the slot of group
// seq-2, once its records and rows are on disk.
type commitSlot struct {
	seq     uint64
	records int64
	csvEnd  int64
	head    [32]byte
}

// slotOffset is where slot i (0 or 1) sits in the journal.
func slotOffset(i uint64) int64 { return recordSize * int64(1+i%2) }

// record returns the slot as a record: kind recordCommit, seq in first,
// csvEnd, head in hash, the number of records in aux's first 8 bytes.
func (c commitSlot) record() record {
	r := record{kind: recordCommit, first: c.seq, csvEnd: c.csvEnd, hash: c.head}
	binary.BigEndian.PutUint64(r.aux[:8], uint64(c.records))
	return r
}

// slotOf reads a commit slot from r, a record of kind recordCommit.
func slotOf(r record) commitSlot {
	return commitSlot{seq: r.first, records: int64(binary.BigEndian.Uint64(r.aux[:8])), csvEnd: r.csvEnd, head: r.hash}
}

// slotAfter returns the slot that names the journal st describes, for
// group seq.
func slotAfter(st *journalState, seq uint64) commitSlot {
	return commitSlot{seq: seq, records: st.records, csvEnd: st.size, head: st.head}
}

// end returns the size of the journal that holds the slot's records.
func (c commitSlot) end() int64 { return recordsStart + (c.records-1)*recordSize }

// newJournal returns a new journal's bytes: the header, naming the
// journal it was migrated from (zero for none), and both slots naming it
// alone. st is set to the new journal's state.
func newJournal(st *journalState, migratedFrom [32]byte) []byte {
	*st = newJournalState()
	header := record{kind: recordHeader, hash: headerMark, aux: migratedFrom}
	raw := appendRecord(nil, header)
	if err := st.apply(header, nil, raw); err != nil {
		panic("storage: a new journal refuses its header: " + err.Error())
	}
	raw = appendRecord(raw, slotAfter(st, 0).record())
	return appendRecord(raw, slotAfter(st, 1).record())
}

// slots is what the two commit slots of a journal say: the last group
// committed (newer), and the one before it.
type slots struct {
	newer, older commitSlot
}

// readSlots reads the slots from the journal's first recordsStart bytes.
// Both must be whole: the header and both slots share the journal's first
// 512-byte sector, which a disk writes whole or not at all (the
// assumption PostgreSQL makes of pg_control, kept under 512 bytes for
// it), so a slot that is not whole was changed, not torn. They must name
// consecutive groups, the newer no more than one group past the older.
func readSlots(head []byte) (slots, error) {
	var got [2]commitSlot
	for i := range uint64(2) {
		off := slotOffset(i)
		rec, fault := parseRecord(head[off : off+recordSize])
		if fault != recordOK || rec.kind != recordCommit {
			return slots{}, fmt.Errorf("commit slot %d is not whole: it changed after it was written", i)
		}
		got[i] = slotOf(rec)
	}
	a, b := got[0], got[1]
	if a.seq > b.seq {
		a, b = b, a
	}
	switch {
	case b.seq != a.seq+1 || slotOffset(b.seq) == slotOffset(a.seq):
		return slots{}, fmt.Errorf("the commit slots do not name consecutive groups (%d and %d)", a.seq, b.seq)
	case b.records < a.records || b.csvEnd < a.csvEnd || (b.records-a.records)*recordSize > maxTail:
		return slots{}, fmt.Errorf("the commit slots name groups %d and %d that do not follow one another", a.seq, b.seq)
	}
	return slots{newer: b, older: a}, nil
}
