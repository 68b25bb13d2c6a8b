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
	"sync"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Suffixes appended to the path of bets.csv to name the files beside it:
// its journal, and the lock that keeps a second central out.
const (
	JournalSuffix = ".journal"
	LockSuffix    = ".lock"
)

// maxGroupBets bounds how many bets one group commit gathers, which bounds
// the memory of a group and the latency of its first request.
const maxGroupBets = 64 << 10

// Options tune a Store.
type Options struct {
	FS     FS           // the file system; OSFS when nil
	Logger *slog.Logger // where recovery is logged; slog.Default when nil
	// NoSync skips fsync. Acknowledgements are then not durable: for
	// benchmarks that measure what fsync costs, never for a central.
	NoSync bool
}

// Progress is what the store holds of one agency.
type Progress struct {
	Committed uint64 // bets on stable storage, numbered 0..Committed-1
	Done      bool   // the agency has notified
}

// Recovery says what Open found and repaired.
type Recovery struct {
	Batches         int   // committed batches replayed
	Bets            int64 // committed bets
	CutCSVBytes     int64 // bytes of bets.csv past the last committed batch, cut
	CutJournalBytes int64 // bytes of a torn or corrupt journal tail, cut
}

// Store is bets.csv and its journal. Its methods are safe for concurrent
// use.
type Store struct {
	csv, journal File
	lock         io.Closer
	noSync       bool
	log          *slog.Logger

	sendMu sync.RWMutex // held to send on reqs; exclusively to close it
	closed bool
	reqs   chan *Commit
	exited chan struct{}

	mu       sync.Mutex // guards what the writer publishes
	progress map[int]Progress
	size     int64 // bytes of bets.csv that hold committed rows

	// Owned by the writer goroutine.
	failed  error
	csvBuf  []byte
	jrnlBuf []byte

	recovery Recovery
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
		noSync:   opts.NoSync,
		log:      opts.Logger,
		reqs:     make(chan *Commit, 1024),
		exited:   make(chan struct{}),
		progress: make(map[int]Progress),
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
		s.log.Info("recovery", "result", "in_progress", "file", path+JournalSuffix, "cut_bytes", cut)
		if err := s.cut(s.journal, good); err != nil {
			return err
		}
		s.recovery.CutJournalBytes = cut
	}
	switch {
	case csvSize < s.size:
		return fmt.Errorf("bets.csv has %d bytes but its journal commits %d: the file was changed behind the central", csvSize, s.size)
	case csvSize > s.size:
		cut := csvSize - s.size
		s.log.Info("recovery", "result", "in_progress", "file", path, "cut_bytes", cut)
		if err := s.cut(s.csv, s.size); err != nil {
			return err
		}
		s.recovery.CutCSVBytes = cut
	}
	notified := 0
	for _, p := range s.progress {
		if p.Done {
			notified++
		}
	}
	s.log.Info("recovery", "result", "success", "batches", s.recovery.Batches, "bets", s.recovery.Bets,
		"agencies", len(s.progress), "notified", notified,
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
		if err := s.apply(rec); err != nil {
			// A record with a good checksum that does not follow from
			// the ones before is not a torn write: refuse to guess.
			return 0, fmt.Errorf("journal record at byte %d: %w", off, err)
		}
	}
}

func (s *Store) apply(rec record) error {
	if rec.csvEnd < s.size {
		return fmt.Errorf("bets.csv end %d goes back from %d", rec.csvEnd, s.size)
	}
	a := int(rec.agency)
	p := s.progress[a]
	switch rec.kind {
	case recordBatch:
		if p.Done {
			return fmt.Errorf("batch of agency %d after its done notification", a)
		}
		if rec.first != p.Committed {
			return fmt.Errorf("batch of agency %d starts at bet %d, committed %d", a, rec.first, p.Committed)
		}
		p.Committed += uint64(rec.count)
		s.recovery.Batches++
		s.recovery.Bets += int64(rec.count)
	case recordDone:
		if rec.first != p.Committed {
			return fmt.Errorf("done of agency %d with total %d, committed %d", a, rec.first, p.Committed)
		}
		p.Done = true
	}
	s.progress[a] = p
	s.size = rec.csvEnd
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
	return f.Sync()
}

// Progress returns what the store holds of agency.
func (s *Store) Progress(agency int) Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress[agency]
}

// Notified returns the agencies that have notified, in no order.
func (s *Store) Notified() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for a, p := range s.progress {
		if p.Done {
			out = append(out, a)
		}
	}
	return out
}

// Commit is a request to the store's writer and, once Ready is closed, its
// answer.
type Commit struct {
	op     byte // recordBatch or recordDone
	agency int
	first  uint64 // batch: number of its first bet; done: the total
	next   bool   // batch: store at the agency's committed position
	rows   []byte // batch: its bets as bets.csv rows, rendered by the caller
	ends   []int  // batch: ends[i] is where row i ends in rows

	ready     chan struct{}
	committed uint64
	stored    int
	err       error
}

// Ready is closed once the commit has its answer.
func (c *Commit) Ready() <-chan struct{} { return c.ready }

// Wait waits for the answer. It returns the agency's committed count
// after the request, how many bets of it were newly stored (0 for a batch
// stored before, which is acknowledged again), and the error, if any,
// that refused the request: lottery.ErrOutOfOrder, lottery.ErrClosed,
// lottery.ErrIncomplete or lottery.ErrUnavailable, wrapped.
func (c *Commit) Wait() (committed uint64, stored int, err error) {
	<-c.ready
	return c.committed, c.stored, c.err
}

func (c *Commit) finish(err error) {
	if err != nil && c.err == nil {
		c.err = err
	}
	close(c.ready)
}

// Append asks to store bets as agency's bets number first, first+1, ...
// It does not wait: the answer comes through the returned Commit, after
// the bets are on stable storage. The bets are rendered as rows here, in
// the caller's goroutine, so that many callers share that work and the
// writer only copies bytes; Append keeps nothing of the slice, which the
// caller may reuse at once.
func (s *Store) Append(agency int, first uint64, bets []lottery.Bet) *Commit {
	c := newBatchCommit(agency, bets)
	c.first = first
	s.submit(c)
	return c
}

func newBatchCommit(agency int, bets []lottery.Bet) *Commit {
	c := &Commit{op: recordBatch, agency: agency, ends: make([]int, len(bets)), ready: make(chan struct{})}
	size := 0
	for _, b := range bets {
		size += len(b.FirstName) + len(b.LastName) + len(b.Document) + len(b.Birthdate) + 16
	}
	c.rows = make([]byte, 0, size)
	for i, b := range bets {
		b.Agency = agency
		c.rows = betcsv.AppendStoreRow(c.rows, b)
		c.ends[i] = len(c.rows)
	}
	return c
}

// Notify records durably that agency has sent all of its total bets: it
// returns lottery.ErrIncomplete (wrapped) when total is not the agency's
// committed count. Notifying again with the same total is answered as the
// first time.
func (s *Store) Notify(agency int, total uint64) error {
	c := &Commit{op: recordDone, agency: agency, first: total, ready: make(chan struct{})}
	s.submit(c)
	_, _, err := c.Wait()
	return err
}

// StoreBets appends bets to bets.csv, each after the bets its agency
// already has, and returns once they are on stable storage. It is the
// course's store_bets; the central itself uses Append, which also
// recognises bets sent twice.
func (s *Store) StoreBets(bets []lottery.Bet) error {
	var commits []*Commit
	for start := 0; start < len(bets); {
		end := start + 1
		for end < len(bets) && bets[end].Agency == bets[start].Agency {
			end++
		}
		c := newBatchCommit(bets[start].Agency, bets[start:end])
		c.next = true
		s.submit(c)
		commits = append(commits, c)
		start = end
	}
	for _, c := range commits {
		if _, _, err := c.Wait(); err != nil {
			return fmt.Errorf("store bets: %w", err)
		}
	}
	return nil
}

func (s *Store) submit(c *Commit) {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		c.finish(fmt.Errorf("%w: storage closed", lottery.ErrUnavailable))
		return
	}
	s.reqs <- c
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

// run is the writer: the only goroutine that writes the files.
func (s *Store) run() {
	defer close(s.exited)
	var group []*Commit
	for c := range s.reqs {
		group = append(group[:0], c)
		bets := len(c.ends)
	gather:
		for bets < maxGroupBets {
			select {
			case c, ok := <-s.reqs:
				if !ok {
					break gather
				}
				group = append(group, c)
				bets += len(c.ends)
			default:
				break gather
			}
		}
		s.commit(group)
		clear(group)
	}
}

// commit decides every request of a group against the agencies' progress,
// writes what they add, syncs, and only then publishes and answers.
func (s *Store) commit(group []*Commit) {
	if s.failed != nil {
		for _, c := range group {
			c.finish(fmt.Errorf("%w: %w", lottery.ErrUnavailable, s.failed))
		}
		return
	}
	s.mu.Lock()
	size := s.size
	s.mu.Unlock()
	end := size
	s.csvBuf, s.jrnlBuf = s.csvBuf[:0], s.jrnlBuf[:0]
	pending := make(map[int]Progress)
	for _, c := range group {
		p, ok := pending[c.agency]
		if !ok {
			p = s.Progress(c.agency)
		}
		switch c.op {
		case recordBatch:
			first, n := c.first, uint64(len(c.ends))
			if c.next {
				first = p.Committed
			}
			switch {
			case first > p.Committed:
				c.err = fmt.Errorf("%w: agency %d batch starts at bet %d, committed %d", lottery.ErrOutOfOrder, c.agency, first, p.Committed)
				continue
			case first+n <= p.Committed:
				c.committed = p.Committed // stored before: acknowledge again
				continue
			case p.Done:
				c.err = fmt.Errorf("%w: agency %d", lottery.ErrClosed, c.agency)
				continue
			}
			skip := int(p.Committed - first) // bets of the batch stored before
			from := 0
			if skip > 0 {
				from = c.ends[skip-1]
			}
			s.csvBuf = append(s.csvBuf, c.rows[from:]...)
			fresh := len(c.ends) - skip
			end = size + int64(len(s.csvBuf))
			s.jrnlBuf = appendRecord(s.jrnlBuf, record{kind: recordBatch, agency: uint32(c.agency), first: p.Committed, count: uint32(fresh), csvEnd: end})
			p.Committed += uint64(fresh)
			c.stored = fresh
		case recordDone:
			if c.first != p.Committed {
				c.err = fmt.Errorf("%w: agency %d says %d, committed %d", lottery.ErrIncomplete, c.agency, c.first, p.Committed)
				continue
			}
			if p.Done {
				c.committed = p.Committed // notified before: answer again
				continue
			}
			s.jrnlBuf = appendRecord(s.jrnlBuf, record{kind: recordDone, agency: uint32(c.agency), first: c.first, csvEnd: end})
			p.Done = true
		}
		c.committed = p.Committed
		pending[c.agency] = p
	}
	if err := s.write(); err != nil {
		s.failed = err
		s.log.Error("storage", "result", "fail", "error", err)
		for _, c := range group {
			c.finish(fmt.Errorf("%w: %w", lottery.ErrUnavailable, err))
		}
		return
	}
	s.mu.Lock()
	for a, p := range pending {
		s.progress[a] = p
	}
	s.size = end
	s.mu.Unlock()
	for _, c := range group {
		c.finish(nil)
	}
}

// write appends the group's rows and syncs them, then its journal records
// and syncs those: a record never reaches the disk before its rows.
func (s *Store) write() error {
	if len(s.csvBuf) > 0 {
		if _, err := s.csv.Write(s.csvBuf); err != nil {
			return fmt.Errorf("write bets: %w", err)
		}
		if err := s.sync(s.csv); err != nil {
			return fmt.Errorf("sync bets: %w", err)
		}
	}
	if len(s.jrnlBuf) > 0 {
		if _, err := s.journal.Write(s.jrnlBuf); err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
		if err := s.sync(s.journal); err != nil {
			return fmt.Errorf("sync journal: %w", err)
		}
	}
	return nil
}
