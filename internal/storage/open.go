package storage

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// open opens the files, creating a new store where there is none, and
// recovers them. Nothing is changed on disk before every check passed.
func (s *Store) open(fsys FS, path string) error {
	jpath := path + JournalSuffix
	var csvSize, jSize int64
	var err error
	if s.csv, csvSize, err = openExisting(fsys, path); err != nil {
		return err
	}
	if s.journal, jSize, err = openExisting(fsys, jpath); err != nil {
		return err
	}
	legacy, lSize, err := openExisting(fsys, path+LegacyJournalSuffix)
	if err != nil {
		return err
	}
	if legacy != nil {
		defer legacy.Close()
	}
	csv := io.ReaderAt(s.csv)
	if s.csv == nil {
		csv = bytes.NewReader(nil)
	}
	var r replayed
	switch {
	case jSize == 0 && lSize > 0:
		r, err = replayLegacy(legacy, lSize, csv, csvSize, [2]string{path, path + LegacyJournalSuffix})
	case jSize == 0:
		// No journal, or one whose header never reached the disk.
		if csvSize > 0 {
			return &CorruptError{File: path, Check: CheckJournal,
				Reason: fmt.Sprintf("%d bytes of bets but no journal %s to say which were acknowledged; move the file away or restore its journal", csvSize, jpath)}
		}
		return s.create(fsys, path, legacy != nil)
	default:
		r, err = replay(s.journal, jSize, csv, csvSize, [2]string{path, jpath})
	}
	if err != nil {
		return err
	}
	return s.recoverAll(fsys, path, r, [3]int64{csvSize, jSize, lSize}, legacy)
}

// recoverAll goes on from a replay that passed: a journal being created is
// created again, and one that holds no record with rows beside it is
// refused; otherwise recover.
func (s *Store) recoverAll(fsys FS, path string, r replayed, sizes [3]int64, legacy File) error {
	csvSize, jSize, lSize := sizes[0], sizes[1], sizes[2]
	tidy := func() error { return nil }
	if r.legacy == 0 && legacy != nil {
		var err error
		if tidy, err = s.leftover(fsys, path, legacy, lSize, r.migratedFrom); err != nil {
			return err
		}
	}
	if r.state.records == 0 && csvSize == 0 {
		// Only a torn header: the store was being created.
		if err := s.saveTail(fsys, s.journal, path+JournalSuffix, 0, jSize); err != nil {
			return err
		}
		if err := tidy(); err != nil {
			return err
		}
		return s.create(fsys, path, false)
	}
	if r.state.records == 0 {
		return noRecord(path+JournalSuffix, csvSize)
	}
	if err := tidy(); err != nil {
		return err
	}
	if s.csv == nil {
		// A journal of a store whose bets.csv was never written to.
		var err error
		if s.csv, err = fsys.OpenFile(path); err != nil {
			return err
		}
	}
	return s.recover(fsys, path, r, jSize, csvSize)
}

// leftover checks a journal of an earlier format beside this format's,
// and returns what to do of it once every check has passed (a refused
// start changes nothing): an empty one, which a release before format 3
// creates before it refuses this store, is removed; one that this journal
// was migrated from (a migration that stopped before it put the old
// journal aside) is put aside; any other is refused: a release before
// format 3 ran a lottery of its own beside this one.
func (s *Store) leftover(fsys FS, path string, legacy File, size int64, migratedFrom [32]byte) (tidy func() error, err error) {
	name := path + LegacyJournalSuffix
	if size == 0 {
		return func() error {
			s.log.Warn("recovery", logging.InProgress, "file", name, "removed", "an empty journal of an earlier format, left by an earlier release that refused this store")
			return fsys.Remove(name)
		}, nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(legacy, 0, size)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if [32]byte(sum.Sum(nil)) == migratedFrom {
		return func() error { return s.putAside(fsys, name) }, nil
	}
	return nil, &CorruptError{File: name, Check: CheckJournal, Reason: fmt.Sprintf(
		"a journal of an earlier format beside this store's %s: a release before journal format %d wrote to this store; "+
			"move one of them away (docs/OPERATIONS.md, Upgrades)", path+JournalSuffix, journalFormat)}
}

// putAside renames a journal of an earlier format to a name no release
// reads, beside the store, and returns that name in Recovery.Migrated.
func (s *Store) putAside(fsys FS, name string) error {
	kept := name + ".migrated-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := fsys.Rename(name, kept); err != nil {
		return fmt.Errorf("put aside the journal of an earlier format: %w", err)
	}
	s.recovery.Migrated = kept
	return nil
}

// noRecord refuses a journal that holds no record (not even its header
// and commit slots) beside a bets.csv of csvSize bytes: the same refusal
// from a start and from server verify.
func noRecord(jpath string, csvSize int64) *CorruptError {
	return &CorruptError{File: jpath, Check: CheckJournal,
		Reason: fmt.Sprintf("%d bytes of bets but the journal holds no record", csvSize)}
}

// openExisting opens name when it exists, and returns its size.
func openExisting(fsys FS, name string) (File, int64, error) {
	ok, err := fsys.Exists(name)
	if err != nil || !ok {
		return nil, 0, err
	}
	f, err := fsys.OpenFile(name)
	if err != nil {
		return nil, 0, err
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// create starts a new store: an empty bets.csv and a journal of its
// header and commit slots. An empty journal of an earlier format (legacy)
// is what a release before format 3 leaves: it is removed.
func (s *Store) create(fsys FS, path string, legacy bool) error {
	var err error
	if s.csv == nil {
		if s.csv, err = fsys.OpenFile(path); err != nil {
			return err
		}
	}
	if s.journal == nil {
		if s.journal, err = fsys.OpenFile(path + JournalSuffix); err != nil {
			return err
		}
	}
	if legacy {
		if err := fsys.Remove(path + LegacyJournalSuffix); err != nil {
			return err
		}
	}
	raw := newJournal(&s.state, [32]byte{})
	if _, err := s.journal.Write(raw); err != nil {
		return fmt.Errorf("write journal header: %w", err)
	}
	if err := s.sync(s.journal); err != nil {
		return fmt.Errorf("sync journal header: %w", err)
	}
	s.seq = 1
	s.holdings = s.state.holdings()
	s.log.Info("recovery", logging.Success, "batches", 0, "bets", 0, "agencies", 0, "notified", 0, "new_store", path)
	return nil
}

// recover applies what replay found, every check having passed: it
// migrates a journal of an earlier format, saves and cuts torn tails.
func (s *Store) recover(fsys FS, path string, r replayed, jSize, csvSize int64) error {
	jpath := path + JournalSuffix
	s.state, s.seq = r.state, r.seq
	s.recovery.Batches, s.recovery.Bets = r.batches, r.bets
	if r.legacy != 0 {
		if err := s.migrate(fsys, path, r); err != nil {
			return err
		}
	} else if r.good < jSize {
		if err := s.saveTail(fsys, s.journal, jpath, r.good, jSize); err != nil {
			return err
		}
		s.recovery.CutJournalBytes = jSize - r.good
	}
	s.size = s.state.size
	if csvSize > s.size {
		if err := s.saveTail(fsys, s.csv, path, s.size, csvSize); err != nil {
			return err
		}
		s.recovery.CutCSVBytes = csvSize - s.size
	}
	s.holdings, s.recorded = s.state.holdings(), s.state.drawn
	notified := 0
	for _, h := range s.holdings {
		if h.Done {
			notified++
		}
	}
	s.log.Info("recovery", logging.Success, "batches", s.recovery.Batches, "bets", s.recovery.Bets,
		"agencies", len(s.holdings), "notified", notified, "drawn", s.state.drawn != nil,
		"cut_csv_bytes", s.recovery.CutCSVBytes, "cut_journal_bytes", s.recovery.CutJournalBytes)
	return nil
}

// saveTail keeps bytes from..to of f, named name, in a file beside it,
// then cuts f to from: nothing recovery cuts is lost. A cut is a warning:
// a torn tail is what a crash leaves, and an operator should know of it.
func (s *Store) saveTail(fsys FS, f File, name string, from, to int64) error {
	tail := make([]byte, to-from)
	if _, err := f.ReadAt(tail, from); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read torn tail of %s: %w", name, err)
	}
	saved := tornName(name, time.Now())
	if err := fsys.WriteFile(saved, tail); err != nil {
		return fmt.Errorf("save torn tail of %s: %w", name, err)
	}
	s.log.Warn("recovery", logging.InProgress, "file", name, "cut_bytes", to-from, "cut_from", from, cutUnits(name, tail), "saved_to", saved)
	s.recovery.Saved = append(s.recovery.Saved, saved)
	return s.cut(f, from)
}

// cutUnits says what a tail cut from name holds: journal records (the
// last perhaps in part) or rows of bets.csv (the last perhaps in part).
func cutUnits(name string, tail []byte) slog.Attr {
	if strings.HasSuffix(name, JournalSuffix) {
		return slog.Int("cut_records", (len(tail)+recordSize-1)/recordSize)
	}
	rows := bytes.Count(tail, []byte("\n"))
	if len(tail) > 0 && tail[len(tail)-1] != '\n' {
		rows++
	}
	return slog.Int("cut_rows", rows)
}

// migrate writes the journal r migrated from one of an earlier format as
// this store's journal, then puts the old one aside. The new journal is
// written whole under a temporary name and renamed into place; a crash
// before the old one is put aside leaves both, which the next start tells
// apart by the old one's hash in the new header (see leftover).
func (s *Store) migrate(fsys FS, path string, r replayed) error {
	jpath, old := path+JournalSuffix, path+LegacyJournalSuffix
	if err := fsys.WriteFile(jpath, r.migrated); err != nil {
		return fmt.Errorf("write format %d journal: %w", journalFormat, err)
	}
	if err := s.putAside(fsys, old); err != nil {
		return err
	}
	var err error
	if s.journal, err = fsys.OpenFile(jpath); err != nil {
		return err
	}
	s.log.Info("migration", logging.Success, "file", jpath, "from_format", r.legacy, "to_format", journalFormat,
		"records", s.state.records, "old_journal", s.recovery.Migrated)
	return nil
}

func (s *Store) cut(f File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	return s.sync(f)
}
