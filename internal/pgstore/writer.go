package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"iter"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// maxGroupBets bounds how many bets one transaction gathers, which bounds
// the memory of a group and the latency of its first request.
const maxGroupBets = 64 << 10

// request kinds.
const (
	kindBatch = iota
	kindDone
	kindDraw
)

// request is one write handed to the writer goroutine. It is its own
// lottery.Receipt.
type request struct {
	kind   int
	agency int            // batch, done: the agency it is for
	first  uint64         // batch: position of its first bet
	total  uint64         // done: the agency's total
	rows   []byte         // batch: its bets as canonical rows (lottery.AppendRow)
	bets   int            // batch: how many rows
	result lottery.Result // draw: what it records

	ready  chan struct{} // closed once err and digest are set
	err    error
	digest lottery.Digest // the agency's digest after the request; a draw's digest
}

// Wait waits until the request is committed, or failed.
func (r *request) Wait() (lottery.Digest, error) {
	<-r.ready
	return r.digest, r.err
}

func (r *request) finish(d lottery.Digest, err error) {
	r.digest, r.err = d, err
	close(r.ready)
}

// Append stores bets as agency's bets number from, from+1, …
// (lottery.Ledger). They are rendered as canonical rows here, in the
// caller's goroutine: the store keeps nothing of bets.
func (s *Store) Append(agency int, from uint64, bets []lottery.Bet) lottery.Receipt {
	size := 0
	for _, b := range bets {
		size += len(b.FirstName) + len(b.LastName) + len(b.Document) + len(b.Birthdate) + 16
	}
	r := &request{kind: kindBatch, agency: agency, first: from, bets: len(bets), rows: make([]byte, 0, size), ready: make(chan struct{})}
	for _, b := range bets {
		r.rows = lottery.AppendRow(r.rows, agency, b)
	}
	s.submit(r)
	return r
}

// Notify records that agency has sent all of its total bets
// (lottery.Ledger).
func (s *Store) Notify(agency int, total uint64) lottery.Receipt {
	r := &request{kind: kindDone, agency: agency, total: total, ready: make(chan struct{})}
	s.submit(r)
	return r
}

// RecordDraw records the draw's result (lottery.Ledger). The database
// holds one draw: a second is refused.
func (s *Store) RecordDraw(result lottery.Result) lottery.Receipt {
	r := &request{kind: kindDraw, result: result, ready: make(chan struct{})}
	s.submit(r)
	return r
}

func (s *Store) submit(r *request) {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		r.finish(lottery.Digest{}, fmt.Errorf("%w: storage closed", lottery.ErrUnavailable))
		return
	}
	s.reqs <- r
}

// run is the writer: the only goroutine that writes. It gathers the
// requests that are waiting into a group, commits the group in one
// transaction, and only then answers its requests.
func (s *Store) run() {
	defer close(s.exited)
	var group []*request
	for r := range s.reqs {
		group = append(group[:0], r)
		bets := r.bets
	gather:
		for bets < maxGroupBets {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break gather
				}
				group = append(group, r)
				bets += r.bets
			default:
				break gather
			}
		}
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup commits one group and answers its requests. A failed
// commit fails the store: what the database holds is then known only to
// the database, and a central started again reads it.
func (s *Store) commitGroup(group []*request) {
	if s.failed == nil {
		p, err := s.commit(context.Background(), group)
		if err == nil {
			for i, r := range group {
				r.finish(p.digests[i], p.errs[i])
			}
			return
		}
		s.failed = unavailable(err)
		s.log.Error("storage", logging.Fail, "error", err)
	}
	for _, r := range group {
		r.finish(lottery.Digest{}, s.failed)
	}
}

// parseRows reads back the canonical rows of a batch of agency.
func parseRows(agency int, raw []byte) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		for b, err := range betcsv.ReadStoreFile(bytes.NewReader(raw)) {
			if err == nil && b.Agency != agency {
				err = fmt.Errorf("%w: a row of agency %d in a batch of agency %d", lottery.ErrInconsistent, b.Agency, agency)
			}
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}
