package storage

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrCorrupt is wrapped by every *CorruptError.
var ErrCorrupt = errors.New("store corrupt")

// CorruptError says where a store is corrupt: Open refuses it and changes
// nothing on disk. What is corrupt is not a torn tail (see replay) but
// acknowledged data that changed after it was written.
type CorruptError struct {
	File     string // the file at fault: bets.csv or its journal
	Offset   int64  // the byte of File where the fault is
	Agency   int    // the agency of the record at fault; 0 for none
	Position uint64 // the record's first bet (a batch) or total (a done)
	Check    Check  // the check that failed
	Reason   string
}

// Check names the check that found a store corrupt.
type Check string

// The checks of recovery, in the order a record meets them.
const (
	CheckJournal  Check = "journal"  // a bets.csv with rows has no journal
	CheckFormat   Check = "format"   // a record of a kind or format not written
	CheckCommit   Check = "commit"   // the journal does not hold what its commit slots say was acknowledged
	CheckChecksum Check = "checksum" // a record's CRC, not a torn write
	CheckSize     Check = "size"     // a record covers more of bets.csv than there is
	CheckRows     Check = "rows"     // rows do not hash to their record's hash
	CheckChain    Check = "chain"    // a record does not follow from the ones before
)

func (e *CorruptError) Error() string {
	where := fmt.Sprintf("%s at byte %d", e.File, e.Offset)
	if e.Agency != 0 {
		where += fmt.Sprintf(" (agency %d, bet %d)", e.Agency, e.Position)
	}
	return fmt.Sprintf("%s: %s; nothing was changed on disk: restore bets.csv and its journal from a copy, "+
		"or move them away to start a new lottery (server verify says more)", where, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// FormatError refuses a journal of a format this release does not know:
// one written by a newer release. Nothing is changed on disk.
type FormatError struct {
	File   string
	Format int // the journal's
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s is of journal format %d, newer than this release's format %d: run the release that wrote it, "+
		"or a newer one; nothing was changed on disk (docs/OPERATIONS.md, Upgrades)", e.File, e.Format, journalFormat)
}

// maxTail bounds what one group commit writes to either file: the largest
// group (maxGroupBytes) and the request that may cross that bound. It is
// all that recovery may cut.
const maxTail = maxGroupBytes + maxRequestBytes

// replayed is what replay found: the journal's state, and what recovery
// must do to the files before the store is used. Nothing is done to them
// until every check has passed.
type replayed struct {
	state   journalState
	good    int64  // bytes of the journal that hold committed records
	seq     uint64 // the last committed group, which the newer slot names
	batches int
	bets    int64
	// migratedFrom is what the header names as the journal of an
	// earlier format this one was migrated from (see leftover).
	migratedFrom [32]byte
	// legacy is the format (1 or 2) of a journal to migrate; migrated is
	// that journal in this format, from the header on.
	legacy   int
	migrated []byte
}

// replayer reads a journal and bets.csv side by side, checking each
// record against the rows it covers and against the records before it.
type replayer struct {
	csvName, journalName string
	journal              *bufio.Reader
	jSize                int64
	csv                  *bufio.Reader
	csvSize              int64
	rows                 []byte // the current batch's rows
	out                  replayed
}

func newReplayer(journal io.ReaderAt, jSize int64, csv io.ReaderAt, csvSize int64, names [2]string) *replayer {
	return &replayer{
		csvName:     names[0],
		journalName: names[1],
		journal:     bufio.NewReaderSize(io.NewSectionReader(journal, 0, jSize), 64<<10),
		jSize:       jSize,
		csv:         bufio.NewReaderSize(io.NewSectionReader(csv, 0, csvSize), 256<<10),
		csvSize:     csvSize,
		out:         replayed{state: newJournalState()},
	}
}

// replay reads the journal (of jSize bytes) and bets.csv (of csvSize)
// from the start and returns their state, or a *CorruptError, or a
// *FormatError.
//
// The rule that tells a torn tail from corruption: the newer commit slot
// names every record that was acknowledged, and nothing it names can be
// missing after a crash, for a slot is written only once what it names is
// on disk (see Store.write). Every record up to there must be whole,
// chained and cover rows that hash to it; anything else there (a cut, a
// zeroed block, a changed byte) is corruption. Past it lies at most what
// one unfinished group commit writes, in either file, whole or not: a
// torn tail, never acknowledged, and cut. More than one group can write
// (maxTail) is corruption.
func replay(journal io.ReaderAt, jSize int64, csv io.ReaderAt, csvSize int64, names [2]string) (replayed, error) {
	rp := newReplayer(journal, jSize, csv, csvSize, names)
	head := make([]byte, min(jSize, recordsStart))
	if _, err := io.ReadFull(rp.journal, head); err != nil {
		return rp.out, fmt.Errorf("read %s: %w", rp.journalName, err)
	}
	header, err := rp.checkFormat(head)
	if err != nil {
		return rp.out, err
	}
	if header == nil || jSize < recordsStart {
		return rp.out, nil // a journal being created: no record yet
	}
	rp.out.migratedFrom = header.aux
	if err := rp.record(0, *header, head[:recordSize]); err != nil {
		return rp.out, err
	}
	sl, err := readSlots(head)
	if err != nil {
		return rp.out, rp.corrupt(recordSize, record{}, CheckCommit, err.Error())
	}
	if err := rp.run(sl.newer.records); err != nil {
		return rp.out, err
	}
	return rp.out, rp.settle(sl.newer)
}

// checkFormat checks the header, the first thing read, and returns it:
// a journal of a newer format is refused as such, before anything else
// is looked at. A header cut short or ending in zeros, in a journal no
// longer than a new one, belongs to a journal being created: nil. Any
// other first record is corruption.
func (rp *replayer) checkFormat(head []byte) (*record, error) {
	if len(head) < recordSize {
		return nil, nil
	}
	rec, fault := parseRecord(head[:recordSize])
	switch {
	case fault == recordMalformed && head[0] == recordHeader && int(head[1]) > journalFormat:
		return nil, &FormatError{File: rp.journalName, Format: int(head[1])}
	case fault == recordOK && rec.kind == recordHeader:
		return &rec, nil
	case fault == recordZero && rp.jSize <= recordsStart:
		return nil, nil
	}
	return nil, rp.corrupt(0, record{}, CheckFormat, "the journal's first record is not a header of this format")
}

// run applies the records that follow the header until the journal
// holds limit records, each of which must be whole and check.
func (rp *replayer) run(limit int64) error {
	buf := make([]byte, recordSize)
	for st := &rp.out.state; st.records < limit; {
		off := recordsStart + (st.records-1)*recordSize
		if _, err := io.ReadFull(rp.journal, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return rp.corrupt(off, record{}, CheckCommit, fmt.Sprintf(
					"the journal ends at byte %d, but its commit slot says %d records were acknowledged: it was cut", rp.jSize, limit))
			}
			return fmt.Errorf("read %s: %w", rp.journalName, err)
		}
		rec, fault := parseRecord(buf)
		switch {
		case fault == recordZero || (fault == recordChecksum && allZero(buf)):
			return rp.corrupt(off, rec, CheckCommit, fmt.Sprintf(
				"a zeroed record, where the journal's commit slot says %d records were acknowledged", limit))
		case fault == recordChecksum:
			return rp.corrupt(off, rec, CheckChecksum, "the record's checksum does not match: it changed after it was written")
		case fault == recordMalformed || rec.kind == recordCommit || rec.kind == recordHeader:
			return rp.corrupt(off, rec, CheckFormat, "a record of a kind or format this central does not write")
		}
		if err := rp.record(off, rec, buf); err != nil {
			return err
		}
	}
	return nil
}

// settle checks that the records replayed end where the committed slot
// says, and that what lies past them in either file is no more than one
// group commit writes.
func (rp *replayer) settle(c commitSlot) error {
	st := &rp.out.state
	if st.head != c.head || st.size != c.csvEnd {
		return rp.corrupt(c.end(), record{}, CheckCommit, fmt.Sprintf(
			"the journal's records do not end as its commit slot says (group %d: %d records, bets.csv up to byte %d)", c.seq, c.records, c.csvEnd))
	}
	rp.out.good, rp.out.seq = c.end(), c.seq
	if tail := rp.jSize - rp.out.good; tail > maxTail {
		return rp.corrupt(rp.out.good, record{}, CheckSize, fmt.Sprintf(
			"%d bytes past the last acknowledged record, more than one group commit writes (%d): the journal was changed", tail, maxTail))
	}
	if tail := rp.csvSize - st.size; tail > maxTail {
		return &CorruptError{File: rp.csvName, Offset: st.size, Check: CheckSize, Reason: fmt.Sprintf(
			"%d bytes past the last acknowledged row, more than one group commit writes (%d): bets.csv was changed, or its journal cut", tail, maxTail)}
	}
	return nil
}

// record applies one whole record, reading the rows it covers.
func (rp *replayer) record(off int64, rec record, raw []byte) error {
	st := &rp.out.state
	var rows []byte
	if rec.kind == recordBatch {
		if rec.csvEnd < st.size || rec.csvEnd > rp.csvSize {
			return rp.corrupt(off, rec, CheckSize, fmt.Sprintf("the record covers bets.csv up to byte %d, but the file has %d bytes", rec.csvEnd, rp.csvSize))
		}
		n := int(rec.csvEnd - st.size)
		if cap(rp.rows) < n {
			rp.rows = make([]byte, n)
		}
		rows = rp.rows[:n]
		if _, err := io.ReadFull(rp.csv, rows); err != nil {
			return fmt.Errorf("read %s: %w", rp.csvName, err)
		}
		if rp.out.legacy == 1 {
			rec.hash = sha256.Sum256(rows)
		} else if sha256.Sum256(rows) != rec.hash {
			return rp.corruptCSV(rec, "the rows of this batch do not hash to what its journal record says: bets.csv was changed")
		}
	}
	if rp.out.legacy != 0 {
		rec, raw = rp.reencode(rec)
	}
	if err := st.apply(rec, rows, raw); err != nil {
		return rp.corrupt(off, rec, CheckChain, err.Error())
	}
	if rec.kind == recordBatch {
		rp.out.batches++
		rp.out.bets += int64(rec.count)
	}
	return nil
}

func (rp *replayer) corrupt(off int64, rec record, check Check, reason string) error {
	e := &CorruptError{File: rp.journalName, Offset: off, Check: check, Reason: reason}
	if rec.kind == recordBatch || rec.kind == recordDone {
		e.Agency, e.Position = int(rec.agency), rec.first
	}
	return e
}

func (rp *replayer) corruptCSV(rec record, reason string) error {
	return &CorruptError{File: rp.csvName, Offset: rp.out.state.size, Agency: int(rec.agency), Position: rec.first, Check: CheckRows, Reason: reason}
}

// tornName names the file that keeps the bytes cut from name: beside it,
// stamped with the time, never overwriting an earlier one.
func tornName(name string, now time.Time) string {
	return name + ".torn-" + now.UTC().Format("20060102T150405.000000000Z")
}
