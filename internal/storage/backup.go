package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/loteria-nacional/quiniela/internal/atomicfile"
)

// Copy is what Backup wrote: bets.csv and its journal, in Dir.
type Copy struct {
	Path    string // the copy of bets.csv; its journal is Path+JournalSuffix
	Group   uint64 // the last group commit it holds
	Records int64  // its journal's records, the header included
	Bytes   int64  // its bets.csv's size
}

// Backup copies the store at path into the directory dir (made if
// missing; a copy already there is never replaced), while a central
// writes it or not. It takes what the newer commit slot names, read
// first: the journal up to that group's last record, with the slots as
// read, and bets.csv up to the bytes those records cover. All of that
// was synced before the slot was written (see Store.write) and is never
// written again, so the copy is consistent whatever the central does
// meanwhile; what came after is the next backup's. The copy is a store
// as a central leaves it, without a torn tail, to be checked by Inspect
// and restored by copying both files back.
func Backup(path, dir string) (Copy, error) {
	jpath := path + JournalSuffix
	if _, err := os.Stat(jpath); errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Stat(path + LegacyJournalSuffix); lerr == nil {
			return Copy{}, fmt.Errorf("%s is a journal of an earlier format: start the central of this release once, which migrates it, then back it up", path+LegacyJournalSuffix)
		}
	}
	csv, err := os.Open(path)
	if err != nil {
		return Copy{}, err
	}
	defer csv.Close()
	journal, err := os.Open(jpath)
	if err != nil {
		return Copy{}, err
	}
	defer journal.Close()
	head, slot, err := committedHead(journal, jpath)
	if err != nil {
		return Copy{}, err
	}
	c := Copy{Path: filepath.Join(dir, filepath.Base(path)), Group: slot.seq, Records: slot.records, Bytes: slot.csvEnd}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Copy{}, err
	}
	for _, name := range []string{c.Path, c.Path + JournalSuffix} {
		if _, err := os.Lstat(name); err == nil {
			return Copy{}, fmt.Errorf("%s exists: a backup is never written over another", name)
		}
	}
	if err := atomicfile.WriteFrom(c.Path, io.NewSectionReader(csv, 0, slot.csvEnd), 0o644, false); err != nil {
		return Copy{}, err
	}
	records := io.NewSectionReader(journal, recordsStart, slot.end()-recordsStart)
	if err := atomicfile.WriteFrom(c.Path+JournalSuffix, io.MultiReader(bytes.NewReader(head), records), 0o644, false); err != nil {
		os.Remove(c.Path)
		return Copy{}, err
	}
	return c, nil
}

// committedHead reads the journal's header and commit slots, and the
// newer slot. A slot being written as it is read does not check: it is
// read again, for a while, before that is taken for corruption.
func committedHead(journal *os.File, name string) ([]byte, commitSlot, error) {
	head := make([]byte, recordsStart)
	var err error
	for try := 0; try < 100; try++ {
		if try > 0 {
			time.Sleep(time.Millisecond)
		}
		if _, err = journal.ReadAt(head, 0); err != nil {
			return nil, commitSlot{}, fmt.Errorf("read %s: %w", name, err)
		}
		rp := &replayer{journalName: name, jSize: recordsStart}
		header, err := rp.checkFormat(head)
		if err != nil {
			return nil, commitSlot{}, err
		}
		if header == nil {
			return nil, commitSlot{}, &CorruptError{File: name, Check: CheckJournal, Reason: "the journal has no header: a store being created"}
		}
		var sl slots
		if sl, err = readSlots(head); err == nil {
			return head, sl.newer, nil
		}
	}
	return nil, commitSlot{}, &CorruptError{File: name, Offset: recordSize, Check: CheckCommit, Reason: err.Error()}
}
