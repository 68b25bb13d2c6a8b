package storage

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/groupcommit"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// maxGroupBytes bounds what one group commit writes, rows and records
// (see weight): it bounds the memory of a group, the latency of its first
// request, and what recovery may cut as the tail of a group that was
// being written (maxTail).
const maxGroupBytes = 4 << 20

// maxRequestBytes bounds one batch's rows. A central's batch comes from
// one frame of at most 8 kB; StoreBets cuts its batches to fit.
const maxRequestBytes = 1 << 20

// weight is what r adds to its group: its rows and its record.
func weight(r *request) int { return len(r.rows) + recordSize }

// request is one write handed to the writer goroutine: a batch of rows or
// a done notification. It is its own lottery.Receipt.
type request struct {
	kind     byte           // recordBatch, recordDone or recordDraw
	agency   int            // the agency it is for
	first    uint64         // batch: position of its first bet
	append   bool           // batch: at the agency's next position, whatever first says
	total    uint64         // done: the agency's total
	rows     []byte         // batch: its bets as bets.csv rows, rendered by the caller
	pooled   *[]byte        // batch: where rows came from in rowBuffers, until release
	hash     [32]byte       // batch: SHA-256 of rows, by the caller
	bets     int            // batch: how many rows
	decision lottery.Result // draw: what it records

	// The agency's digest after the request, a draw's digest; or why it failed.
	groupcommit.Answer[lottery.Digest]
}

// Append stores bets as agency's bets number from, from+1, ...
// (lottery.Ledger). The bets are rendered as rows and hashed here, in the
// caller's goroutine, so that many callers share that work and the writer
// only copies bytes and keeps each agency's running digest.
func (s *Store) Append(agency int, from uint64, bets []lottery.Bet) lottery.Receipt {
	r := newBatch(agency, bets)
	r.first = from
	if len(r.rows) > maxRequestBytes {
		r.Finish(lottery.Digest{}, fmt.Errorf("%w: a batch of %d bytes of rows, over the %d a batch may hold", lottery.ErrUnavailable, len(r.rows), maxRequestBytes))
		return r
	}
	s.submit(r)
	return r
}

func newBatch(agency int, bets []lottery.Bet) *request {
	buf := rowBuffers.Get().(*[]byte)
	r := &request{kind: recordBatch, agency: agency, rows: lottery.AppendRows((*buf)[:0], agency, bets), pooled: buf, bets: len(bets), Answer: groupcommit.NewAnswer[lottery.Digest]()}
	r.hash = sha256.Sum256(r.rows)
	return r
}

// rowBuffers recycles the buffers batches render their rows into: once
// the writer has planned a group, it holds the rows in its own buffer,
// and a new batch's rows need no new allocation (one a batch otherwise,
// and the collector's work that follows).
var rowBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledRows bounds the buffers kept in rowBuffers: a central's batch
// is at most a frame of 8 kB, StoreBets's can reach maxRequestBytes.
const maxPooledRows = 64 << 10

// release gives r's rows buffer back to rowBuffers, once nothing reads
// r.rows: after the writer's plan has copied them.
func (r *request) release() {
	if r.pooled == nil {
		return
	}
	if cap(r.rows) <= maxPooledRows {
		*r.pooled = r.rows[:0]
		rowBuffers.Put(r.pooled)
	}
	r.rows, r.pooled = nil, nil
}

// Notify records that agency has sent all of its total bets
// (lottery.Ledger).
func (s *Store) Notify(agency int, total uint64) lottery.Receipt {
	r := &request{kind: recordDone, agency: agency, total: total, Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

// RecordDraw records the draw's result (lottery.Ledger). Nothing can be
// written after it.
func (s *Store) RecordDraw(result lottery.Result) lottery.Receipt {
	r := &request{kind: recordDraw, decision: result, Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

// StoreBets appends bets to bets.csv, each after the bets its agency
// already has, and returns once they are on stable storage. It is the
// course's store_bets, for tools and tests; the central writes through
// lottery.Central, which decides positions.
func (s *Store) StoreBets(bets []lottery.Bet) error {
	// A row is at most about 1.1 kB (two names of lottery.MaxNameLen
	// bytes, quoted): 512 rows stay under maxRequestBytes.
	const storeBetsBatch = 512
	var reqs []*request
	for start := 0; start < len(bets); {
		end := start + 1
		for end < len(bets) && end-start < storeBetsBatch && bets[end].Agency == bets[start].Agency {
			end++
		}
		r := newBatch(bets[start].Agency, bets[start:end])
		r.append = true
		s.submit(r)
		reqs = append(reqs, r)
		start = end
	}
	for _, r := range reqs {
		if _, err := r.Wait(context.Background()); err != nil {
			return fmt.Errorf("store bets: %w", err)
		}
	}
	return nil
}

func (s *Store) submit(r *request) {
	if !s.queue.Submit(r) {
		r.Finish(lottery.Digest{}, fmt.Errorf("%w: storage closed", lottery.ErrUnavailable))
	}
}

// commit writes one group and answers its requests. It runs in the
// writer: the queue's goroutine, the only one that writes the files.
func (s *Store) commit(group []*request) {
	if s.failed != nil {
		for _, r := range group {
			r.Finish(lottery.Digest{}, fmt.Errorf("%w: %w", lottery.ErrUnavailable, s.failed))
		}
		return
	}
	p := s.state.plan(group, s.rows[:0], s.records[:0])
	s.rows, s.records = p.rows, p.records // reused by the next group
	for _, r := range group {
		r.release() // its rows are in p.rows now
	}
	s.synced = 0
	if err := s.write(p); err != nil {
		s.failed = err
		s.log.Error("storage", logging.Fail, "error", err)
		for _, r := range group {
			r.Finish(lottery.Digest{}, fmt.Errorf("%w: %w", lottery.ErrUnavailable, err))
		}
		return
	}
	s.state.merge(p.next)
	s.mu.Lock()
	s.size = s.state.size
	s.mu.Unlock()
	if s.obs != nil {
		bets := 0
		for _, r := range group {
			bets += r.bets
		}
		s.obs.Committed(len(group), bets, s.synced)
	}
	for i, r := range group {
		r.Finish(p.digests[i], p.errs[i])
	}
}

// groupPlan is what a group of requests writes.
type groupPlan struct {
	rows    []byte           // appended to bets.csv and synced
	records []byte           // appended to the journal and synced, then named by a commit slot
	errs    []error          // errs[i] refuses group[i]; its bytes are not in the plan
	digests []lottery.Digest // digests[i] answers group[i] once written
	next    journalState     // the group's agencies, and the journal's end, once written
}

// plan decides what group writes after the journal st describes; it does
// no I/O and changes nothing of st. The rows and records are appended to
// the buffers given; next holds the state of the agencies the group
// touches, which the writer merges into st once the plan is on disk. A
// request that does not follow from the journal (a position other than
// the agency's next, a batch after its notification) is refused: the
// central decides positions, so such a request is a bug, and writing it
// would leave a journal that recovery refuses.
func (st *journalState) plan(group []*request, rows, records []byte) groupPlan {
	p := groupPlan{rows: rows, records: records, errs: make([]error, len(group)), digests: make([]lottery.Digest, len(group)), next: st.overlay()}
	for i, r := range group {
		if r.kind != recordDraw {
			st.seed(&p.next, r.agency)
		}
		rec := p.next.record(r)
		if err := p.next.check(rec); err != nil {
			p.errs[i] = fmt.Errorf("%w: storage refuses a write: %w", lottery.ErrUnavailable, err)
			continue
		}
		start := len(p.records)
		p.records = appendRecord(p.records, rec)
		if err := p.next.apply(rec, r.rows, p.records[start:]); err != nil {
			panic("storage: a checked record does not apply: " + err.Error())
		}
		p.rows = append(p.rows, r.rows...)
		p.digests[i] = lottery.Digest(rec.hash)
		if r.kind == recordBatch {
			p.digests[i] = p.next.digest(r.agency)
		}
	}
	return p
}

// record returns the record that r would append to the journal st
// describes (an overlay into which r's agency is seeded).
func (st *journalState) record(r *request) record {
	if r.kind == recordDraw {
		rec := drawRecord(r.decision)
		rec.csvEnd, rec.prev = st.size, st.head
		return rec
	}
	rec := record{kind: r.kind, agency: uint32(r.agency), first: r.first, csvEnd: st.size, prev: st.head}
	switch r.kind {
	case recordBatch:
		if r.append {
			rec.first = st.bets[r.agency]
		}
		rec.count = uint32(r.bets)
		rec.csvEnd += int64(len(r.rows))
		rec.hash = r.hash
	case recordDone:
		rec.first, rec.hash = r.total, st.digest(r.agency)
	}
	return rec
}

// write appends a group's rows to bets.csv and its records to the
// journal and syncs both, then writes the commit slot that names the
// records and syncs the journal again. A slot never reaches the disk
// before what it names, so recovery never cuts a record a slot names
// (see replay); a group is acknowledged only once its slot is on disk.
// The two files are synced at once: the second sync is the cost of the
// commit point.
func (s *Store) write(p groupPlan) error {
	if len(p.records) == 0 {
		return nil // every request of the group was refused
	}
	if _, err := s.csv.Write(p.rows); err != nil {
		return fmt.Errorf("write bets: %w", err)
	}
	if _, err := s.journal.Write(p.records); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := s.syncBoth(len(p.rows) > 0); err != nil {
		return err
	}
	slot := slotAfter(&p.next, s.seq+1)
	s.slot = appendRecord(s.slot[:0], slot.record())
	if _, err := s.journal.WriteAt(s.slot, slotOffset(slot.seq)); err != nil {
		return fmt.Errorf("write journal commit slot: %w", err)
	}
	if err := s.sync(s.journal); err != nil {
		return fmt.Errorf("sync journal commit slot: %w", err)
	}
	s.seq = slot.seq
	return nil
}

// syncBoth syncs the journal and, when rows were written, bets.csv, at
// the same time.
func (s *Store) syncBoth(rows bool) error {
	if !rows {
		if err := s.sync(s.journal); err != nil {
			return fmt.Errorf("sync journal: %w", err)
		}
		return nil
	}
	start := time.Now()
	csvErr := make(chan error, 1)
	go func() { csvErr <- s.syncFile(s.csv) }()
	jErr := s.syncFile(s.journal)
	cErr := <-csvErr
	s.synced += time.Since(start)
	switch {
	case cErr != nil:
		return fmt.Errorf("sync bets: %w", cErr)
	case jErr != nil:
		return fmt.Errorf("sync journal: %w", jErr)
	}
	return nil
}
