package lottery

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// sharedPoll is how often a central over a SharedLedger that waits for
// the draw reads whether another central has held it, closed sales or
// taken the last notification.
const sharedPoll = 100 * time.Millisecond

// sharedClosed reports whether sales are closed in a SharedLedger, by
// any central; false for a ledger of one central.
func (c *Central) sharedClosed() (bool, error) {
	if c.shared == nil {
		return false, nil
	}
	st, err := c.shared.State(c.ctx)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return st.Closed, nil
}

// refresh reads agency's account again from a SharedLedger where it may
// be behind it (see lost), once the account's writes in flight are
// answered, all within ctx. The caller holds a.mu.
func (c *Central) refresh(ctx context.Context, agency int, a *account) error {
	if c.shared == nil || !a.stale {
		return nil
	}
	if a.last != nil {
		a.last.Wait(ctx) // whatever it answers, the ledger holds the outcome
	}
	h, err := c.shared.Holding(ctx, agency)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if h.Bets == 0 && h.Digest == (Digest{}) {
		h.Digest = EmptyDigest
	}
	a.accepted, a.done, a.digest, a.last, a.stale = h.Bets, h.Done, h.Digest, nil, false
	return nil
}

// lost takes a write of a's that a SharedLedger refused or failed: a's
// record may now be behind the ledger (another central stored the
// position, or the write's outcome is the ledger's to tell), so it is
// read again before its next use, and the agency is told to come again
// (ErrUnavailable: it reconnects and resumes from what the ledger holds),
// or that sales are closed. Over a ledger of one central it returns err.
func (c *Central) lost(a *account, err error) error {
	if c.shared == nil || a == nil {
		return err
	}
	a.mu.Lock()
	a.stale = true
	a.mu.Unlock()
	if errors.Is(err, ErrClosed) {
		c.closed.Store(true)
		return fmt.Errorf("%w: sales are closed", ErrClosed)
	}
	return err
}

// holdShared takes the right to hold the draw over a SharedLedger, unless
// the draw is recorded already (then it is only learnt, see learnDraw).
// It reports false while another central has it.
func (c *Central) holdShared() (release func(), ok bool, err error) {
	st, err := c.shared.State(c.ctx)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if st.Recorded != nil {
		return func() {}, true, nil
	}
	release, ok, err = c.shared.HoldDraw(c.ctx)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return release, ok, nil
}

// sharedCoverage closes sales in the SharedLedger and reads what the
// draw covers from it: each agency's digest and the bets it holds, the
// agencies that had not notified, and the draw if another central
// recorded it (then c.recorded, which the draw must give again).
func (c *Central) sharedCoverage() (digests []Digest, stored uint64, absent []int, err error) {
	if _, err := c.shared.CloseSales().Wait(c.ctx); err != nil {
		return nil, 0, nil, fmt.Errorf("%w: close sales: %w", ErrUnavailable, err)
	}
	st, err := c.shared.State(c.ctx)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if st.Recorded != nil {
		c.recorded = st.Recorded
	}
	digests = make([]Digest, c.agencies)
	for a := 1; a <= c.agencies; a++ {
		h := st.Holdings[a]
		digests[a-1], stored = h.Digest, stored+h.Bets
		if h.Bets == 0 && h.Digest == (Digest{}) {
			digests[a-1] = EmptyDigest
		}
		if !h.Done {
			absent = append(absent, a)
		}
	}
	return digests, stored, absent, nil
}

// recordShared records r and its winners in a SharedLedger. Where another
// central recorded the draw first, r must be that draw: the same bets give
// the same result.
func (c *Central) recordShared(r Result, winners map[int][]string) error {
	_, err := c.shared.RecordDecision(r, winners).Wait(c.ctx)
	if err == nil || !errors.Is(err, ErrConflict) {
		return err
	}
	st, err := c.shared.State(c.ctx)
	if err != nil {
		return err
	}
	if st.Recorded == nil || *st.Recorded != r {
		return fmt.Errorf("%w: the stored bets give a draw (%s) other than the one another central recorded (%v)", ErrInconsistent, r, st.Recorded)
	}
	return nil
}

// learnDraw takes the draw that another central recorded (c.recorded)
// without holding it again: its winners as the ledger keeps them, which
// must give the record's WinnersDigest, and the record itself checked
// against what the ledger holds (each agency's digest, its bets). It
// reports false where the ledger keeps no winners: the draw is then held
// again over the stored bets.
func (c *Central) learnDraw(digests []Digest, stored uint64) (map[int][]string, bool, error) {
	winners, err := c.shared.Winners(c.ctx)
	if err != nil || winners == nil {
		return nil, false, err
	}
	r, n := *c.recorded, 0
	for _, w := range winners {
		n += len(w)
	}
	switch {
	case DrawDigest(digests) != r.Digest || stored != r.Bets:
		return nil, false, fmt.Errorf("%w: the recorded draw (%s) is not over the bets the ledger holds (%d, digest %s)", ErrInconsistent, r, stored, DrawDigest(digests))
	case WinnersDigest(winners, c.agencies) != r.WinnersDigest || n != r.Winners:
		return nil, false, fmt.Errorf("%w: the winners the ledger keeps do not give the recorded draw's (%s)", ErrInconsistent, r)
	}
	return winners, true, nil
}

// awaitShared waits for the draw over a SharedLedger, until ctx is done.
// The draw may be held by another central: one goroutine of the central
// (watchShared), started by the first query that waits, reads the ledger
// for all of them.
func (c *Central) awaitShared(ctx context.Context) error {
	c.watchOnce.Do(func() { go c.watchShared() })
	select {
	case <-c.decided:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watchShared reads the SharedLedger every sharedPoll until the draw is
// decided or the central's lifetime ends, and holds the draw (or learns
// the recorded one, see draw) once it is recorded, sales are closed or
// every agency has notified. A draw that fails has been told (Events);
// the next tick tries again.
func (c *Central) watchShared() {
	t := time.NewTicker(sharedPoll)
	defer t.Stop()
	for {
		select {
		case <-c.decided:
			return
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		st, err := c.shared.State(c.ctx)
		if err != nil {
			continue // read again at the next tick
		}
		c.mu.Lock()
		c.setNotified(st.Notified(c.agencies))
		start := (st.Recorded != nil || st.Closed || c.notified == c.agencies) && !c.drawing
		if start {
			c.drawing = true
		}
		c.mu.Unlock()
		if start {
			c.closed.Store(true)
			if err := c.draw(); errors.Is(err, ErrInconsistent) {
				c.events.DrawFailed(err)
				return
			}
		}
	}
}
