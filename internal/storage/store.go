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
// On Open the journal is replayed: a torn or corrupt tail record is cut, and
// so is any part of bets.csv past the last committed batch, so that
// bets.csv holds every acknowledged bet exactly once and nothing else.
package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"sync"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
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
}

// Recovery says what Open found and repaired.
type Recovery struct {
	Batches         int   // committed batches replayed
	Bets            int64 // committed bets
	CutCSVBytes     int64 // bytes of bets.csv past the last committed batch, cut
	CutJournalBytes int64 // bytes of a torn or corrupt journal tail, cut
}

// Store is bets.csv and its journal: a lottery.Ledger. It keeps what it is
// given and decides nothing of the lottery; it only refuses a write that
// would leave a journal its own recovery would refuse (see journalState).
// Its methods are safe for concurrent use.
type Store struct {
	csv, journal File
	lock         io.Closer
	noSync       bool
	log          *slog.Logger

	sendMu sync.RWMutex // held to send on reqs; exclusively to close it
	closed bool
	reqs   chan *request
	exited chan struct{}

	holdings map[int]lottery.Holding // as recovered by Open; never changed
	recovery Recovery

	mu   sync.Mutex // guards size, which the writer publishes
	size int64      // bytes of bets.csv that hold committed rows

	// Owned by the writer goroutine.
	state         journalState // what the journal on disk says
	failed        error
	rows, records []byte // buffers of the group being written
}

// Open opens (creating it if need be) the store at path, recovers it and
// starts its writer. It refuses a bets.csv that holds rows but has no
// journal, rather than guess which of them were acknowledged.
func Open(path string, opts Options) (*Store, error) {
	var err error
	fsys := opts.FS
	if fsys == nil {
		fsys = OSFS{}
	}
	s := &Store{
		noSync: opts.NoSync,
		log:    opts.Logger,
		reqs:   make(chan *request, 1024),
		exited: make(chan struct{}),
		state:  newJournalState(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// The lock comes first: recovery cuts files, which must not happen
	// under a central that is still writing them.
	if s.lock, err = fsys.Lock(path + LockSuffix); err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	hadJournal, err := fsys.Exists(path + JournalSuffix)
	if err != nil {
		s.lock.Close()
		return nil, fmt.Errorf("open storage: %w", err)
	}
	if s.csv, err = fsys.OpenFile(path); err != nil {
		s.lock.Close()
		return nil, fmt.Errorf("open storage: %w", err)
	}
	if s.journal, err = fsys.OpenFile(path + JournalSuffix); err != nil {
		s.csv.Close()
		s.lock.Close()
		return nil, fmt.Errorf("open storage: %w", err)
	}
	if err := s.recover(path, hadJournal); err != nil {
		s.csv.Close()
		s.journal.Close()
		s.lock.Close()
		return nil, fmt.Errorf("recover storage %s: %w", path, err)
	}
	go s.run()
	return s, nil
}

// Recovery returns what Open found and repaired.
func (s *Store) Recovery() Recovery { return s.recovery }

func (s *Store) recover(path string, hadJournal bool) error {
	csvSize, err := s.csv.Size()
	if err != nil {
		return err
	}
	if !hadJournal && csvSize > 0 {
		return fmt.Errorf("%d bytes of bets but no journal %s to say which were acknowledged; move the file away or restore its journal", csvSize, path+JournalSuffix)
	}
	jSize, err := s.journal.Size()
	if err != nil {
		return err
	}
	good, err := s.replay(jSize)
	if err != nil {
		return err
	}
	if cut := jSize - good; cut > 0 {
		s.log.Info("recovery", logging.InProgress, "file", path+JournalSuffix, "cut_bytes", cut)
		if err := s.cut(s.journal, good); err != nil {
			return err
		}
		s.recovery.CutJournalBytes = cut
	}
	s.size = s.state.size
	switch {
	case csvSize < s.size:
		return fmt.Errorf("bets.csv has %d bytes but its journal commits %d: the file was changed behind the central", csvSize, s.size)
	case csvSize > s.size:
		cut := csvSize - s.size
		s.log.Info("recovery", logging.InProgress, "file", path, "cut_bytes", cut)
		if err := s.cut(s.csv, s.size); err != nil {
			return err
		}
		s.recovery.CutCSVBytes = cut
	}
	s.holdings = s.state.holdings()
	notified := 0
	for _, h := range s.holdings {
		if h.Done {
			notified++
		}
	}
	s.log.Info("recovery", logging.Success, "batches", s.recovery.Batches, "bets", s.recovery.Bets,
		"agencies", len(s.holdings), "notified", notified,
		"cut_csv_bytes", s.recovery.CutCSVBytes, "cut_journal_bytes", s.recovery.CutJournalBytes)
	return nil
}

// replay reads the journal's records into the store's state and returns
// the size of the journal's good prefix.
func (s *Store) replay(size int64) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(s.journal, 0, size), 64<<10)
	var buf [recordSize]byte
	var off int64
	for ; ; off += recordSize {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return off, nil // a torn last record is cut by the caller
			}
			return 0, err
		}
		rec, ok := parseRecord(buf[:])
		if !ok {
			return off, nil
		}
		if err := s.state.apply(rec); err != nil {
			// A record with a good checksum that does not follow from
			// the ones before is not a torn write: refuse to guess.
			return 0, fmt.Errorf("journal record at byte %d: %w", off, err)
		}
		if rec.kind == recordBatch {
			s.recovery.Batches++
			s.recovery.Bets += int64(rec.count)
		}
	}
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
	return f.Sync()
}

// Holdings returns what the store held of each agency when it was opened
// (lottery.Ledger).
func (s *Store) Holdings() map[int]lottery.Holding {
	return maps.Clone(s.holdings)
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
	s.sendMu.Lock()
	if s.closed {
		s.sendMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.sendMu.Unlock()
	<-s.exited
	return errors.Join(s.csv.Close(), s.journal.Close(), s.lock.Close())
}
