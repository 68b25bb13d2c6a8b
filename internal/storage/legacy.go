package storage

import (
	"crypto/sha256"
	"fmt"
	"io"
)

// LegacyJournalSuffix names the journal of formats 1 and 2, beside
// bets.csv. Format 3 moved the journal to JournalSuffix so that a release
// before it, started on a store of format 3, finds no journal it knows
// and refuses the store ("bets but no journal") instead of reading the
// new journal as a torn one of its own and cutting every bet.
const LegacyJournalSuffix = ".journal"

// replayLegacy reads a journal of format 1 or 2 and bets.csv as replay
// does, with the rule of those formats (no commit slots: a journal that
// ends in part of a record or in zeroed records has a torn tail), and
// returns the same records in this format, ready to be written as the
// store's journal (see migrate).
func replayLegacy(journal io.ReaderAt, jSize int64, csv io.ReaderAt, csvSize int64, names [2]string) (replayed, error) {
	rp := newReplayer(journal, jSize, csv, csvSize, names)
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(journal, 0, jSize)); err != nil {
		return rp.out, fmt.Errorf("read %s: %w", rp.journalName, err)
	}
	head := make([]byte, recordSizeV1)
	n, _ := journal.ReadAt(head, 0)
	rp.out.legacy, rp.out.migrated = 2, newJournal(&rp.out.state, [32]byte(sum.Sum(nil)))
	size := recordSize
	if isFormat1(head[:n]) {
		rp.out.legacy, size = 1, recordSizeV1
	}
	if err := rp.runLegacy(size); err != nil {
		return rp.out, err
	}
	rp.out.seq = 1
	copy(rp.out.migrated[slotOffset(1):], appendRecord(nil, slotAfter(&rp.out.state, 1).record()))
	return rp.out, nil
}

// runLegacy applies the records of a legacy journal, whose records are
// size bytes, up to a torn tail.
func (rp *replayer) runLegacy(size int) error {
	buf := make([]byte, size)
	var prev [32]byte // format 2: the hash of the last record, in its chain
	for off := int64(0); ; off += int64(size) {
		if _, err := io.ReadFull(rp.journal, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				rp.out.good = off // ends in part of a record: torn
				return nil
			}
			return fmt.Errorf("read %s: %w", rp.journalName, err)
		}
		var rec record
		var fault recordFault
		if size == recordSizeV1 {
			rec, fault = parseRecordV1(buf)
		} else {
			rec, fault = parseRecordFormat(buf, 2)
		}
		switch fault {
		case recordZero:
			torn, err := rp.zeroTail()
			if err != nil || torn {
				rp.out.good = off
				return err
			}
			return rp.corrupt(off, rec, CheckChecksum, "a zeroed record with records after it")
		case recordChecksum:
			return rp.corrupt(off, rec, CheckChecksum, "the record's checksum does not match: it changed after it was written")
		case recordMalformed:
			return rp.corrupt(off, rec, CheckFormat, "a record of a kind or format this central does not write")
		}
		if size == recordSize {
			if err := rp.legacyLink(off, rec, prev); err != nil {
				return err
			}
			prev = sha256.Sum256(buf)
			if rec.kind == recordHeader {
				continue // this format's header stands in for it
			}
		}
		if err := rp.record(off, rec, buf); err != nil {
			return err
		}
	}
}

// legacyLink checks that a format 2 record follows the one before it in
// that format's chain, which the migration replaces by this format's.
func (rp *replayer) legacyLink(off int64, rec record, prev [32]byte) error {
	switch {
	case (off == 0) != (rec.kind == recordHeader):
		return rp.corrupt(off, rec, CheckChain, "the journal's header is not its first record")
	case rec.kind == recordHeader && rec.hash != formatMark(2):
		return rp.corrupt(off, rec, CheckChain, "a header of another format")
	case rec.prev != prev:
		return rp.corrupt(off, rec, CheckChain, "the chain does not link: the record does not follow the one before it")
	}
	return nil
}

// reencode appends rec, of a legacy journal, to the migrated journal in
// this format, linked to this format's chain, and returns it as it is
// now, and its bytes.
func (rp *replayer) reencode(rec record) (record, []byte) {
	st := &rp.out.state
	rec.prev = st.head
	if rp.out.legacy == 1 && rec.kind == recordDone {
		rec.hash = st.digest(int(rec.agency))
	}
	start := len(rp.out.migrated)
	rp.out.migrated = appendRecord(rp.out.migrated, rec)
	return rec, rp.out.migrated[start:]
}

// zeroTail reports whether the rest of the journal is all zero.
func (rp *replayer) zeroTail() (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := rp.journal.Read(buf)
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", rp.journalName, err)
		}
	}
}
