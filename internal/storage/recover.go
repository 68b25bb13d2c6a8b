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
	CheckChecksum Check = "checksum" // a record's CRC, not a torn write
	CheckFormat   Check = "format"   // a record of a kind or format not written
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

// replayed is what replay found: the journal's state, and what recovery
// must do to the files before the store is used. Nothing is done to them
// until every check has passed.
type replayed struct {
	state    journalState
	good     int64 // bytes of the journal that hold whole, good records
	batches  int
	bets     int64
	format1  bool   // the journal is format 1: migrate it
	migrated []byte // format 1: the same records in format 2, from good
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

// replay reads the journal (of jSize bytes) and bets.csv (of csvSize)
// from the start and returns their state, or a *CorruptError.
//
// The rule that tells a torn tail from corruption: a torn write leaves the
// end of a file short, or zeroed (a file system that extended the file but
// had not written all of its blocks). So the journal may end in part of a
// record, or in a record whose last 36 bytes are zero (see tornZeros)
// followed only by zeros: that tail was never acknowledged, and is cut. A record that fails its checksum and is not
// all zero, a record that does not follow from the ones before, rows that
// do not hash to what their record says, or a journal that commits more
// of bets.csv than there is: each is corruption, wherever it is, the last
// record included. Rows of bets.csv past the last record are a torn tail:
// rows are synced before their record is written.
func replay(journal io.ReaderAt, jSize int64, csv io.ReaderAt, csvSize int64, names [2]string) (replayed, error) {
	rp := &replayer{
		csvName:     names[0],
		journalName: names[1],
		journal:     bufio.NewReaderSize(io.NewSectionReader(journal, 0, jSize), 64<<10),
		jSize:       jSize,
		csv:         bufio.NewReaderSize(io.NewSectionReader(csv, 0, csvSize), 256<<10),
		csvSize:     csvSize,
		out:         replayed{state: newJournalState()},
	}
	head := make([]byte, recordSizeV1)
	if n, _ := journal.ReadAt(head, 0); n == recordSizeV1 && isFormat1(head) {
		rp.out.format1 = true
		return rp.out, rp.run(recordSizeV1)
	}
	return rp.out, rp.run(recordSize)
}

func (rp *replayer) run(size int) error {
	buf := make([]byte, size)
	if rp.out.format1 {
		rp.upgradeHeader()
	}
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
		if rp.out.format1 {
			rec, fault = parseRecordV1(buf)
		} else {
			rec, fault = parseRecord(buf)
		}
		switch fault {
		case recordZero:
			torn, err := rp.zeroTail()
			if err != nil {
				return err
			}
			if torn {
				rp.out.good = off
				return nil
			}
			return rp.corrupt(off, rec, CheckChecksum, "a zeroed record with records after it")
		case recordChecksum:
			return rp.corrupt(off, rec, CheckChecksum, "the record's checksum does not match: it changed after it was written")
		case recordMalformed:
			return rp.corrupt(off, rec, CheckFormat, "a record of a kind or format this central does not write")
		}
		if err := rp.record(off, rec, buf); err != nil {
			return err
		}
	}
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
		if rp.out.format1 {
			rec.hash = sha256.Sum256(rows)
		} else if sha256.Sum256(rows) != rec.hash {
			return rp.corruptCSV(rec, "the rows of this batch do not hash to what its journal record says: bets.csv was changed")
		}
	}
	if rp.out.format1 {
		rec.prev = st.head
		if rec.kind == recordDone {
			rec.hash = st.digest(int(rec.agency))
		}
		start := len(rp.out.migrated)
		rp.out.migrated = appendRecord(rp.out.migrated, rec)
		raw = rp.out.migrated[start:]
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

// upgradeHeader starts a format 2 journal for a format 1 one.
func (rp *replayer) upgradeHeader() {
	rec := record{kind: recordHeader, hash: headerMark}
	rp.out.migrated = appendRecord(nil, rec)
	if err := rp.out.state.apply(rec, nil, rp.out.migrated); err != nil {
		panic("storage: a new journal refuses its header: " + err.Error())
	}
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
