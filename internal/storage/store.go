// Package storage keeps the central's bets durably.
//
// Bets live in bets.csv in the course's format, one row per bet:
// agency,first_name,last_name,document,birthdate,number. Beside it, a
// journal (bets.csv.jnl) records each committed batch (which agency,
// which bet numbers, where bets.csv ends after it), each agency's done
// notification and the draw. One goroutine owns both files: it gathers
// the requests of all agencies that are waiting, appends their rows,
// syncs bets.csv, appends their journal records and the commit slot that
// names them, syncs the journal, and only then answers them (group
// commit: one pair of fsyncs per group, not per batch).
//
// On Open the journal is replayed and every row checked against it. A torn
// tail, never acknowledged, is saved beside its file and cut, so that
// bets.csv holds every acknowledged bet exactly once and nothing else;
// anything else that does not check is corruption, and the store is
// refused as it is (see replay).
package storage

import (
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
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Suffixes appended to the path of bets.csv to name the files beside it:
// its journal, and the lock that keeps a second central out. (The journal
// of formats 1 and 2 is named by LegacyJournalSuffix.)
const (
	JournalSuffix = ".jnl"
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
	// Migrated names the journal of an earlier format (1 or 2) that
	// Open replaced, kept beside the store; empty when there was none.
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
	seq           uint64       // the last group committed, which the newer commit slot names
	failed        error
	rows, records []byte // buffers of the group being written
	slot          []byte // buffer of the commit slot being written
}

// Open opens (creating it if need be) the store at path, recovers it and
// starts its writer.
//
// Recovery checks every record of the journal and every row of bets.csv
// against the hashes that cover them before it changes anything. A torn
// tail (see replay) is saved beside its file (name.torn-<time>) and cut;
// corruption is refused with a *CorruptError, and so is a bets.csv that
// holds rows but has no journal; a journal of a newer format, with a
// *FormatError: a refused Open leaves every file as it was. A journal of
// format 1 (before hashes) or 2 (before commit slots) is migrated once:
// its records are checked as that format allowed and written anew, the
// old journal kept beside it (see migrate).
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
	s.queue = groupcommit.Start(1024, maxGroupBytes, weight, s.commit)
	return s, nil
}

// Recovery returns what Open found and repaired.
func (s *Store) Recovery() Recovery { return s.recovery }

// sync syncs f, adding the time it took to the group's.
func (s *Store) sync(f File) error {
	start := time.Now()
	err := s.syncFile(f)
	s.synced += time.Since(start)
	return err
}

// syncFile syncs f, unless the store is told not to.
func (s *Store) syncFile(f File) error {
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
