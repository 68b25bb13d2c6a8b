// Package storage keeps the central's bets durably.
//
// Bets live in bets.csv in the course's format, one row per bet:
// agency,first_name,last_name,document,birthdate,number. Beside it, a
// journal (bets.csv.journal) records each committed batch (which agency,
// which bet numbers, where bets.csv ends after it) and each agency's done
// notification. One goroutine owns both files: it gathers the requests of
// all agencies that are waiting, appends their rows, syncs bets.csv,
// appends their journal records, syncs the journal, and only then answers
// them (group commit: one pair of fsyncs per group, not per batch).
//
// On Open the journal is replayed and every row checked against it. A torn
// tail, never acknowledged, is saved beside its file and cut, so that
// bets.csv holds every acknowledged bet exactly once and nothing else;
// anything else that does not check is corruption, and the store is
// refused as it is (see replay).
package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/groupcommit"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Suffixes appended to the path of bets.csv to name the files beside it:
// its journal, and the lock that keeps a second central out.
const (
	JournalSuffix = ".journal"
	LockSuffix    = ".lock"
)

// Options tune a Store.
type Options struct {
	FS     FS           // the file system; OSFS when nil
	Logger *slog.Logger // where recovery is logged; slog.Default when nil
	// NoSync skips fsync. Acknowledgements are then not durable: for
	// benchmarks that measure what fsync costs, never for a central.
	NoSync bool
	// Observer, when not nil, hears of every group commit once it is on
	// stable storage (for metrics).
	Observer Observer
}

// Observer hears what the writer commits. Committed is called from the
// writer goroutine after each group is durable: it must not block.
type Observer interface {
	// Committed: a group of batches requests (batches, notifications,
	// a draw) holding bets bets was written; fsync is the time its
	// syncs took.
	Committed(requests, bets int, fsync time.Duration)
}

// Recovery says what Open found and repaired.
type Recovery struct {
	Batches         int   // committed batches replayed
	Bets            int64 // committed bets
	CutCSVBytes     int64 // bytes of bets.csv past the last committed batch, cut
	CutJournalBytes int64 // bytes of a torn journal tail, cut
	// Saved names the files that keep what was cut, beside the store.
	Saved []string
	// Migrated names the format 1 journal that Open replaced, kept
	// beside the store; empty when there was none.
	Migrated string
}

// Store is bets.csv and its journal: a lottery.Ledger. It keeps what it is
// given and decides nothing of the lottery; it only refuses a write that
// would leave a journal its own recovery would refuse (see journalState).
// Its methods are safe for concurrent use.
type Store struct {
	csv, journal File
	lock         io.Closer
	noSync       bool
	obs          Observer      // nil: no one listens
	synced       time.Duration // time spent in fsync by the group being written; the writer's
	log          *slog.Logger

	queue *groupcommit.Queue[*request] // the writer's: it commits each group

	holdings map[int]lottery.Holding // as recovered by Open; never changed
	recorded *lottery.Result         // as recovered by Open; never changed
	recovery Recovery

	mu   sync.Mutex // guards size, which the writer publishes
	size int64      // bytes of bets.csv that hold committed rows

	// Owned by the writer goroutine.
	state         journalState // what the journal on disk says
	failed        error
	rows, records []byte // buffers of the group being written
}

// Open opens (creating it if need be) the store at path, recovers it and
// starts its writer.
//
// Recovery checks every record of the journal and every row of bets.csv
// against the hashes that cover them before it changes anything. A torn
// tail (see replay) is saved beside its file (name.torn-<time>) and cut;
// corruption is refused with a *CorruptError, and so is a bets.csv that
// holds rows but has no journal: a refused Open leaves both files as they
// were. A journal of format 1 (before hashes) is migrated once: its
// records are checked as that format allowed, hashed, and written anew,
// the old journal kept beside it.
func Open(path string, opts Options) (*Store, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = OSFS{}
	}
	s := &Store{
		noSync: opts.NoSync,
		obs:    opts.Observer,
		log:    opts.Logger,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// The lock comes first: recovery cuts files, which must not happen
	// under a central that is still writing them.
	lock, err := fsys.Lock(path + LockSuffix)
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	s.lock = lock
	if err := s.open(fsys, path); err != nil {
		for _, f := range []File{s.csv, s.journal} {
			if f != nil {
				f.Close()
			}
		}
		s.lock.Close()
		return nil, fmt.Errorf("open storage %s: %w", path, err)
	}
	s.queue = groupcommit.Start(1024, maxGroupBets, func(r *request) int { return r.bets }, s.commit)
	return s, nil
}

// Recovery returns what Open found and repaired.
func (s *Store) Recovery() Recovery { return s.recovery }

// open opens the files, creating a new store where there is none, and
// recovers them.
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
	if jSize == 0 {
		// No journal, or one whose header never reached the disk.
		if csvSize > 0 {
			return &CorruptError{File: path, Check: CheckJournal,
				Reason: fmt.Sprintf("%d bytes of bets but no journal %s to say which were acknowledged; move the file away or restore its journal", csvSize, jpath)}
		}
		return s.create(fsys, path)
	}
	csv := io.ReaderAt(s.csv)
	if s.csv == nil {
		csv = bytes.NewReader(nil)
	}
	r, err := replay(s.journal, jSize, csv, csvSize, [2]string{path, jpath})
	if err != nil {
		return err
	}
	if r.state.records == 0 && csvSize == 0 {
		// Only a torn header: the store was being created.
		if err := s.saveTail(fsys, s.journal, jpath, 0, jSize); err != nil {
			return err
		}
		return s.create(fsys, path)
	}
	if r.state.records == 0 {
		return &CorruptError{File: jpath, Check: CheckJournal,
			Reason: fmt.Sprintf("%d bytes of bets but the journal holds no record", csvSize)}
	}
	if s.csv == nil {
		// A journal of a store whose bets.csv was never written to.
		if s.csv, err = fsys.OpenFile(path); err != nil {
			return err
		}
	}
	return s.recover(fsys, path, r, jSize, csvSize)
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

// create starts a new store: an empty bets.csv and a journal of one
// header record.
func (s *Store) create(fsys FS, path string) error {
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
	s.state = newJournalState()
	header := record{kind: recordHeader, hash: headerMark}
	raw := appendRecord(nil, header)
	if err := s.state.apply(header, nil, raw); err != nil {
		return err
	}
	if _, err := s.journal.Write(raw); err != nil {
		return fmt.Errorf("write journal header: %w", err)
	}
	if err := s.sync(s.journal); err != nil {
		return fmt.Errorf("sync journal header: %w", err)
	}
	s.holdings = s.state.holdings()
	s.log.Info("recovery", logging.Success, "batches", 0, "bets", 0, "agencies", 0, "notified", 0, "new_store", path)
	return nil
}

// recover applies what replay found, every check having passed: it
// migrates a format 1 journal, saves and cuts torn tails.
func (s *Store) recover(fsys FS, path string, r replayed, jSize, csvSize int64) error {
	jpath := path + JournalSuffix
	s.state = r.state
	s.recovery.Batches, s.recovery.Bets = r.batches, r.bets
	if r.format1 {
		if err := s.migrate(fsys, jpath, r.migrated); err != nil {
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
// then cuts f to from: nothing recovery cuts is lost.
func (s *Store) saveTail(fsys FS, f File, name string, from, to int64) error {
	tail := make([]byte, to-from)
	if _, err := f.ReadAt(tail, from); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read torn tail of %s: %w", name, err)
	}
	saved := tornName(name, time.Now())
	if err := fsys.WriteFile(saved, tail); err != nil {
		return fmt.Errorf("save torn tail of %s: %w", name, err)
	}
	s.log.Info("recovery", logging.InProgress, "file", name, "cut_bytes", to-from, "saved_to", saved)
	s.recovery.Saved = append(s.recovery.Saved, saved)
	return s.cut(f, from)
}

// migrate replaces a format 1 journal with journal, its records in format
// 2, keeping the old one beside it. The new journal is written whole
// under another name and renamed over the old one: a crash leaves one or
// the other.
func (s *Store) migrate(fsys FS, jpath string, journal []byte) error {
	now := time.Now().UTC().Format("20060102T150405.000000000Z")
	old, next := jpath+".format1-"+now, jpath+".format2-"+now
	size, err := s.journal.Size()
	if err != nil {
		return err
	}
	oldBytes := make([]byte, size)
	if _, err := s.journal.ReadAt(oldBytes, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read format 1 journal: %w", err)
	}
	if err := fsys.WriteFile(old, oldBytes); err != nil {
		return fmt.Errorf("keep format 1 journal: %w", err)
	}
	if err := fsys.WriteFile(next, journal); err != nil {
		return fmt.Errorf("write format 2 journal: %w", err)
	}
	if err := fsys.Rename(next, jpath); err != nil {
		return fmt.Errorf("replace format 1 journal: %w", err)
	}
	s.journal.Close()
	if s.journal, err = fsys.OpenFile(jpath); err != nil {
		return err
	}
	s.recovery.Migrated = old
	s.log.Info("migration", logging.Success, "file", jpath, "from_format", 1, "to_format", journalFormat,
		"records", s.state.records, "old_journal", old)
	return nil
}

func (s *Store) cut(f File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	return s.sync(f)
}

func (s *Store) sync(f File) error {
	if s.noSync {
		return nil
	}
	start := time.Now()
	err := f.Sync()
	s.synced += time.Since(start)
	return err
}

// Holdings returns what the store held of each agency when it was opened
// (lottery.Ledger).
func (s *Store) Holdings() map[int]lottery.Holding {
	return maps.Clone(s.holdings)
}

// Recorded returns the draw the store held when it was opened
// (lottery.Ledger).
func (s *Store) Recorded() (lottery.Result, bool) {
	if s.recorded == nil {
		return lottery.Result{}, false
	}
	return *s.recorded, true
}

// LoadBets yields every committed bet in the order it was stored. It
// streams: memory does not grow with the number of bets.
func (s *Store) LoadBets() iter.Seq2[lottery.Bet, error] {
	s.mu.Lock()
	size := s.size
	s.mu.Unlock()
	return betcsv.ReadStoreFile(io.NewSectionReader(s.csv, 0, size))
}

// Close stops taking requests, answers the ones already taken, and closes
// the files. Calling it again does nothing.
func (s *Store) Close() error {
	if !s.queue.Close() {
		return nil
	}
	return errors.Join(s.csv.Close(), s.journal.Close(), s.lock.Close())
}
