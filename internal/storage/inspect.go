package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Snapshot is a store opened read-only, without a central: what an
// auditor checks (see Inspect).
type Snapshot struct {
	Holdings  map[int]lottery.Holding // what the store holds of each agency
	Drawn     *lottery.Result         // the draw recorded; nil before the draw
	Records   int64                   // journal records, the header included
	Batches   int
	Bets      int64
	TornBytes [2]int64 // bytes of bets.csv and of the journal that a start would cut

	csv, journal *os.File
	size         int64 // bytes of bets.csv that hold committed rows
}

// Inspect opens the store at path read-only and checks it as Open does,
// every row against its record's hash and every record against the chain,
// but repairs nothing. It refuses a store that a live central holds: a
// copy of the files is checked instead. A torn tail is no error (a
// start would cut it): Snapshot.TornBytes says how much there is.
func Inspect(path string) (*Snapshot, error) {
	jpath := path + JournalSuffix
	if err := notHeld(path + LockSuffix); err != nil {
		return nil, err
	}
	var s Snapshot
	var err error
	if s.csv, err = os.Open(path); err != nil {
		return nil, err
	}
	if s.journal, err = os.Open(jpath); err != nil {
		s.csv.Close()
		if _, lerr := os.Stat(path + LegacyJournalSuffix); lerr == nil && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is a journal of an earlier format: a central of this release migrates it at start; check the migrated copy", path+LegacyJournalSuffix)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &CorruptError{File: path, Check: CheckJournal, Reason: "no journal " + jpath + " to say which bets were acknowledged"}
		}
		return nil, err
	}
	if err := s.check(path, jpath); err != nil {
		s.Close()
		return nil, err
	}
	return &s, nil
}

func (s *Snapshot) check(path, jpath string) error {
	csvInfo, err := s.csv.Stat()
	if err != nil {
		return err
	}
	jInfo, err := s.journal.Stat()
	if err != nil {
		return err
	}
	r, err := replay(s.journal, jInfo.Size(), s.csv, csvInfo.Size(), [2]string{path, jpath})
	if err != nil {
		return err
	}
	if r.state.records == 0 {
		return noRecord(jpath, csvInfo.Size())
	}
	s.Holdings, s.Drawn = r.state.holdings(), r.state.drawn
	s.Records, s.Batches, s.Bets = r.state.records, r.batches, r.bets
	s.size = r.state.size
	s.TornBytes = [2]int64{csvInfo.Size() - r.state.size, jInfo.Size() - r.good}
	return nil
}

// notHeld refuses a store whose lock a central holds. A store without a
// lock file was never opened by a central here: nothing is created.
func notHeld(lockPath string) error {
	if _, err := os.Stat(lockPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	lock, err := lockFile(lockPath)
	if err != nil {
		return fmt.Errorf("%w; check a copy of bets.csv and its journal, or stop the central", err)
	}
	return lock.Close()
}

// LoadBets yields every committed bet in the order it was stored.
func (s *Snapshot) LoadBets() iter.Seq2[lottery.Bet, error] {
	return betcsv.ReadStoreFile(io.NewSectionReader(s.csv, 0, s.size))
}

// Close closes the files.
func (s *Snapshot) Close() error {
	return errors.Join(s.csv.Close(), s.journal.Close())
}
