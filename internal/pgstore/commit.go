package pgstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// agencyRow is a row of agencies as the database holds it.
type agencyRow struct {
	agency int
	bets   int64
	done   bool
	state  []byte // the saved state of its lottery.Hasher
}

// hasher restores the agency's running digest.
func (a agencyRow) hasher() (*lottery.Hasher, error) {
	h := lottery.NewHasher()
	if err := h.UnmarshalBinary(a.state); err != nil {
		return nil, fmt.Errorf("%w: agency %d: %w", lottery.ErrInconsistent, a.agency, err)
	}
	return h, nil
}

// agencyState is an agency as a group leaves it.
type agencyState struct {
	bets    uint64
	done    bool
	h       *lottery.Hasher
	changed bool
}

// groupPlan is what a group of requests writes: decided by plan, which
// does no I/O, from the rows the transaction locked.
type groupPlan struct {
	errs     []error          // errs[i] refuses group[i]; nothing of it is written
	digests  []lottery.Digest // digests[i] answers group[i] once committed
	batches  [][]any          // rows of batches to copy in
	agencies map[int]*agencyState
	draw     *lottery.Result // the draw to record, if the group has one
	lines    []byte          // its winners' lines, nil where not given
	drawAt   int             // its request's index in the group
}

// commit writes group in one transaction: it locks the rows of the
// agencies the group touches, plans the group against them and writes
// the plan. A request that does not follow from what the database holds
// (a position other than its agency's next, a batch after its agency's
// notification or after the draw, a second draw) is refused alone.
func (s *Store) commit(ctx context.Context, group []*request) (groupPlan, error) {
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return groupPlan{}, err
	}
	defer tx.Rollback(ctx)
	held, st, err := lockAgencies(ctx, tx, group)
	if err != nil {
		return groupPlan{}, err
	}
	p := plan(group, held, st)
	if err := write(ctx, tx, p, s.replica); err != nil {
		return groupPlan{}, err
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(); err != nil {
			return groupPlan{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return groupPlan{}, fmt.Errorf("commit: %w", err)
	}
	return p, nil
}

// lockAgencies locks and reads what the group's requests depend on:
// whether sales are closed (a share lock on the lottery's row, so that
// CloseSales, which updates it, waits for this transaction and every
// later one sees it closed), the rows of the agencies the group touches
// (created where missing, then locked in agency order, so that two
// centrals writing the same agencies queue rather than deadlock), and
// whether a draw is recorded.
func lockAgencies(ctx context.Context, tx pgx.Tx, group []*request) (map[int]*agencyState, lockedState, error) {
	var st lockedState
	set := make(map[int32]bool)
	for _, r := range group {
		if r.kind != kindDraw {
			set[int32(r.agency)] = true
		}
	}
	if len(set) > 0 { // a draw alone is not held back by sales
		if err := tx.QueryRow(ctx, `SELECT closed FROM lottery FOR SHARE`).Scan(&st.closed); err != nil {
			return nil, st, fmt.Errorf("lock the lottery: %w", err)
		}
	}
	ids := slices.Sorted(maps.Keys(set))
	empty, err := lottery.NewHasher().MarshalBinary()
	if err != nil {
		return nil, st, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO agencies (agency, bets, done, hasher)
		SELECT a, 0, false, $2 FROM unnest($1::integer[]) AS a ORDER BY a ON CONFLICT (agency) DO NOTHING`, ids, empty); err != nil {
		return nil, st, fmt.Errorf("create agencies: %w", err)
	}
	held := make(map[int]*agencyState, len(ids))
	rows, err := tx.Query(ctx, `SELECT agency, bets, done, hasher FROM agencies WHERE agency = ANY($1) ORDER BY agency FOR UPDATE`, ids)
	if err != nil {
		return nil, st, fmt.Errorf("lock agencies: %w", err)
	}
	for rows.Next() {
		var a agencyRow
		if err := rows.Scan(&a.agency, &a.bets, &a.done, &a.state); err != nil {
			return nil, st, fmt.Errorf("lock agencies: %w", err)
		}
		h, err := a.hasher()
		if err != nil {
			return nil, st, err
		}
		held[a.agency] = &agencyState{bets: uint64(a.bets), done: a.done, h: h}
	}
	if err := rows.Err(); err != nil {
		return nil, st, fmt.Errorf("lock agencies: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM draw)`).Scan(&st.drawn); err != nil {
		return nil, st, fmt.Errorf("read the draw: %w", err)
	}
	return held, st, nil
}

// lockedState is what a transaction found of the whole lottery.
type lockedState struct {
	closed bool // sales are closed
	drawn  bool // a draw is recorded
}

// plan decides what group writes over the agencies held (which it
// changes) and the lottery's state. It does no I/O.
func plan(group []*request, held map[int]*agencyState, st lockedState) groupPlan {
	p := groupPlan{errs: make([]error, len(group)), digests: make([]lottery.Digest, len(group)), agencies: held}
	for i, r := range group {
		a := held[r.agency]
		if a == nil && r.kind != kindDraw {
			a = &agencyState{h: lottery.NewHasher()}
			held[r.agency] = a
		}
		if err := check(r, a, st); err != nil {
			p.errs[i] = fmt.Errorf("%w: storage refuses a write: %w", lottery.ErrUnavailable, err)
			continue
		}
		switch r.kind {
		case kindBatch:
			a.h.Write(r.rows)
			p.batches = append(p.batches, []any{int32(r.agency), int64(r.first), int32(r.bets), r.rows})
			a.bets += uint64(r.bets)
			a.changed = true
			p.digests[i] = a.h.Sum()
		case kindDone:
			a.done, a.changed = true, true
			p.digests[i] = a.h.Sum()
		case kindDraw:
			res := r.decision
			p.draw, p.lines, p.drawAt, st.drawn = &res, r.lines, i, true
			p.digests[i] = res.Digest
		}
	}
	return p
}

// check reports why r cannot follow what the database holds, or nil. A
// write that another central's made moot is ErrConflict, a batch after
// its agency's notification among them (the agency notifies only once
// every batch is acknowledged, so such a batch is a late copy, written
// by a central after an outage); one after sales closed, and only that,
// ErrClosed, which tells a central that sales are closed for everyone.
func check(r *request, a *agencyState, st lockedState) error {
	switch {
	case r.kind == kindDraw && st.drawn:
		return fmt.Errorf("%w: a draw is recorded already", lottery.ErrConflict)
	case r.kind == kindDraw:
		return nil
	case st.drawn || st.closed:
		return fmt.Errorf("%w: a write of agency %d after sales closed", lottery.ErrClosed, r.agency)
	case r.kind == kindBatch && a.done:
		return fmt.Errorf("%w: batch of agency %d after its done notification", lottery.ErrConflict, r.agency)
	case r.kind == kindBatch && r.first < a.bets:
		return fmt.Errorf("%w: batch of agency %d starts at bet %d, stored %d", lottery.ErrConflict, r.agency, r.first, a.bets)
	case r.kind == kindBatch && r.first > a.bets:
		return fmt.Errorf("batch of agency %d starts at bet %d, past the %d stored", r.agency, r.first, a.bets)
	case r.kind == kindDone && r.total != a.bets:
		return fmt.Errorf("done of agency %d with total %d, stored %d", r.agency, r.total, a.bets)
	}
	return nil
}

// write writes a plan in the transaction tx; a draw it records is held by
// replica.
func write(ctx context.Context, tx pgx.Tx, p groupPlan, replica string) error {
	if len(p.batches) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"batches"}, []string{"agency", "first", "bets", "rows"}, pgx.CopyFromRows(p.batches)); err != nil {
			return fmt.Errorf("store batches: %w", err)
		}
	}
	var ids []int32
	var bets []int64
	var done []bool
	var states [][]byte
	for id, a := range p.agencies {
		if !a.changed {
			continue
		}
		state, err := a.h.MarshalBinary()
		if err != nil {
			return err
		}
		ids, bets, done, states = append(ids, int32(id)), append(bets, int64(a.bets)), append(done, a.done), append(states, state)
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO agencies (agency, bets, done, hasher)
			SELECT * FROM unnest($1::integer[], $2::bigint[], $3::boolean[], $4::bytea[])
			ON CONFLICT (agency) DO UPDATE SET bets = EXCLUDED.bets, done = EXCLUDED.done, hasher = EXCLUDED.hasher`,
			ids, bets, done, states); err != nil {
			return fmt.Errorf("store agencies: %w", err)
		}
	}
	if d := p.draw; d != nil {
		// Another central's transaction may have recorded a draw since
		// this one looked: the key makes this one wait for it, and then
		// insert nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO draw (id, agencies, bets, digest, winners, winners_digest, winners_lines, held_by)
			VALUES (1, $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			d.Agencies, int64(d.Bets), d.Digest[:], d.Winners, d.WinnersDigest[:], p.lines, replica)
		if err != nil {
			return fmt.Errorf("record the draw: %w", err)
		}
		if tag.RowsAffected() == 0 {
			p.errs[p.drawAt] = fmt.Errorf("%w: storage refuses a write: %w: a draw is recorded already", lottery.ErrUnavailable, lottery.ErrConflict)
			p.digests[p.drawAt] = lottery.Digest{}
		}
	}
	return nil
}
