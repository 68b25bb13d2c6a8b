package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/groupcommit"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// maxGroupBets bounds how many bets one transaction gathers, which bounds
// the memory of a group and the latency of its first request.
const maxGroupBets = 64 << 10

// commitTimeout bounds one group's transaction, its connection included:
// a database that does not answer fails the group, whose agencies come
// again, rather than hold them.
const commitTimeout = 30 * time.Second

// request kinds.
const (
	kindBatch = iota
	kindDone
	kindDraw
	kindClose // sales closed: committed alone (see commitGroup)
)

// request is one write handed to the writer goroutine. It is its own
// lottery.Receipt.
type request struct {
	kind     int
	agency   int            // batch, done: the agency it is for
	first    uint64         // batch: position of its first bet
	total    uint64         // done: the agency's total
	rows     []byte         // batch: its bets as canonical rows (lottery.AppendRow)
	bets     int            // batch: how many rows
	decision lottery.Result // draw: what it records
	lines    []byte         // draw: its winners (lottery.AppendWinners); nil where not given

	// The agency's digest after the request, a draw's digest; or why it failed.
	groupcommit.Answer[lottery.Digest]
}

// Append stores bets as agency's bets number from, from+1, …
// (lottery.Ledger). They are rendered as canonical rows here, in the
// caller's goroutine: the store keeps nothing of bets.
func (s *Store) Append(agency int, from uint64, bets []lottery.Bet) lottery.Receipt {
	r := &request{kind: kindBatch, agency: agency, first: from, bets: len(bets), rows: lottery.AppendRows(nil, agency, bets),
		Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

// Notify records that agency has sent all of its total bets
// (lottery.Ledger).
func (s *Store) Notify(agency int, total uint64) lottery.Receipt {
	r := &request{kind: kindDone, agency: agency, total: total, Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

// RecordDraw records the draw's result (lottery.Ledger). The database
// holds one draw: a second is refused.
func (s *Store) RecordDraw(decision lottery.Result) lottery.Receipt {
	r := &request{kind: kindDraw, decision: decision, Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

// RecordDecision records the draw's result with its winners
// (lottery.SharedLedger).
func (s *Store) RecordDecision(decision lottery.Result, winners map[int][]string) lottery.Receipt {
	r := &request{kind: kindDraw, decision: decision, lines: lottery.AppendWinners([]byte{}, winners, decision.Agencies), Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

// Winners reads the winners recorded with the draw (lottery.SharedLedger).
func (s *Store) Winners(ctx context.Context) (map[int][]string, error) {
	var lines []byte
	err := s.pool.QueryRow(ctx, `SELECT winners_lines FROM draw`).Scan(&lines)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && lines == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the winners: %w", unavailable(err))
	}
	return lottery.ParseWinners(lines)
}

// CloseSales records that sales are closed (lottery.SharedLedger): every
// later batch and notification, of any central, is refused with
// lottery.ErrClosed.
func (s *Store) CloseSales() lottery.Receipt {
	r := &request{kind: kindClose, Answer: groupcommit.NewAnswer[lottery.Digest]()}
	s.submit(r)
	return r
}

func (s *Store) submit(r *request) {
	if !s.queue.Submit(r) {
		r.Finish(lottery.Digest{}, fmt.Errorf("%w: storage closed", lottery.ErrUnavailable))
	}
}

// commitGroup commits one group and answers its requests: the requests
// between two CloseSales in one transaction, each CloseSales in one of its
// own, so that closing waits only for the transactions already under way
// (see lockAgencies). A transaction that fails fails its requests and
// nothing else: the database holds what it committed, which every
// central reads again (lottery.SharedLedger), and the next group
// connects again.
func (s *Store) commitGroup(group []*request) {
	for len(group) > 0 {
		n := 1
		if group[0].kind != kindClose {
			for n < len(group) && group[n].kind != kindClose {
				n++
			}
		}
		s.commitPart(group[:n])
		group = group[n:]
	}
}

// maxAttempts bounds how often a transaction that the database aborted
// for a deadlock or a serialization failure, which retrying resolves, is
// tried.
const maxAttempts = 5

// commitPart commits requests in one transaction and answers them.
func (s *Store) commitPart(part []*request) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var p groupPlan
		if p, err = s.commitOnce(ctx, part); err == nil {
			for i, r := range part {
				r.Finish(p.digests[i], p.errs[i])
			}
			return
		}
		if !retryable(err) {
			break
		}
	}
	s.log.Error("storage", logging.Fail, "error", err)
	if s.conn != nil {
		s.conn.Close(context.Background())
		s.conn = nil
	}
	for _, r := range part {
		r.Finish(lottery.Digest{}, unavailable(err))
	}
}

// commitOnce connects where the last transaction failed, then commits.
func (s *Store) commitOnce(ctx context.Context, part []*request) (groupPlan, error) {
	if s.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, s.config)
		if err != nil {
			return groupPlan{}, fmt.Errorf("connect: %w", err)
		}
		s.conn = conn
	}
	if part[0].kind == kindClose {
		_, err := s.conn.Exec(ctx, `UPDATE lottery SET closed = true`)
		return groupPlan{errs: make([]error, 1), digests: make([]lottery.Digest, 1)}, err
	}
	return s.commit(ctx, part)
}

// retryable reports whether the database aborted a transaction that can
// simply be tried again: a deadlock or a serialization failure.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// parseRows reads back the canonical rows of a batch of agency. raw is
// copied once, into the string the bets' fields are cut from: the
// driver reuses it for the next row.
func parseRows(agency int, raw []byte) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		for b, err := range betcsv.ParseStoreRows(string(raw)) {
			if err == nil && b.Agency != agency {
				err = fmt.Errorf("%w: a row of agency %d in a batch of agency %d", lottery.ErrInconsistent, b.Agency, agency)
			}
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}
