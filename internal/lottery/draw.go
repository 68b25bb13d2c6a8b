package lottery

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

// CloseSales closes sales, as a draw deadline does, and holds the draw now
// with every bet stored by then, unless it is held already. The rule is
// that of a lottery whose sales close at a fixed time: every bet on
// stable storage when sales close takes part, its agency's notification
// or not; from then on every new bet and every new notification is
// refused with ErrClosed, and an agency that had not notified (absent,
// see Events.Drawn) is answered its winners among its stored bets, none
// when it stored none. The draw is recorded like any other, so that a
// central started again answers from it.
//
// CloseSales returns once the draw it started is held, or with the reason it
// could not be (it is then held again by the next Winners query); when a
// draw is held or being held already, it returns nil at once. It is safe
// to call more than once and concurrently with everything else.
func (c *Central) CloseSales() error {
	c.closed.Store(true) // before the draw reads any agency's standing
	c.mu.Lock()
	start := !c.drawing
	if start {
		c.drawing = true
	}
	c.mu.Unlock()
	if start {
		return c.draw()
	}
	return nil
}

// CloseSalesAt closes sales at deadline (see CloseSales): at once, before it
// returns, when deadline has passed; otherwise from a timer that the
// central's lifetime (NewCentral's ctx) stops. A draw the timer could not
// hold has been told through Events or Failed, and is held again by the
// next winners query.
func (c *Central) CloseSalesAt(deadline time.Time) {
	wait := time.Until(deadline)
	if wait <= 0 {
		_ = c.CloseSales() // a failure is told through Events or Failed
		return
	}
	t := time.AfterFunc(wait, func() { _ = c.CloseSales() })
	context.AfterFunc(c.ctx, func() { t.Stop() })
}

// draw evaluates every stored bet, records the result (or, after a
// restart, checks it against the one recorded) and keeps each agency's
// winners. Only one draw runs: the caller set c.drawing. A draw that
// fails for want of the bets can be tried again by the next Notify or
// Winners.
func (c *Central) draw() error {
	began := time.Now()
	if c.shared != nil {
		release, ok, err := c.holdShared()
		if err != nil {
			return c.drawFailed(err)
		}
		if !ok {
			c.mu.Lock()
			c.drawing = false // another central holds it: see awaitShared
			c.mu.Unlock()
			return nil
		}
		defer release()
	}
	digests, stored, absent, err := c.coverage()
	if err != nil {
		return c.drawFailed(err)
	}
	if c.shared != nil && c.recorded != nil {
		winners, ok, err := c.learnDraw(digests, stored)
		if errors.Is(err, ErrInconsistent) {
			return err
		}
		if err != nil {
			return c.drawFailed(err)
		}
		if ok {
			c.decide(*c.recorded, winners, absent, began)
			return nil
		}
	}
	r, winners, err := Decide(c.ctx, c.ledger.LoadBets(), digests)
	if err != nil {
		return c.drawFailed(err)
	}
	if r.Bets != stored {
		return c.drawFailed(fmt.Errorf("the ledger yields %d bets, its agencies hold %d", r.Bets, stored))
	}
	switch {
	case c.recorded != nil && r != *c.recorded:
		return fmt.Errorf("%w: the stored bets give a draw (%s) other than the recorded one (%s)", ErrInconsistent, r, *c.recorded)
	case c.recorded != nil:
	case c.shared != nil:
		if err := c.recordShared(r, winners); err != nil {
			return c.drawFailed(err)
		}
	default:
		if _, err := c.wait(c.ctx, c.ledger.RecordDraw(r)); err != nil {
			if c.ctx.Err() != nil {
				return c.drawFailed(err) // stopped, not failed: see wait
			}
			return err
		}
	}
	c.decide(r, winners, absent, began)
	return nil
}

// decide makes r, with its winners, the central's draw: told first, then
// answered to every agency that asks.
func (c *Central) decide(r Result, winners map[int][]string, absent []int, began time.Time) {
	c.events.Drawn(r, absent) // before any winner is answered
	c.mu.Lock()
	defer c.mu.Unlock()
	c.winners, c.result = winners, r
	c.drawnAt, c.drawTook = time.Now(), time.Since(began)
	close(c.decided)
	c.announce()
}

// coverage returns what the draw covers: each agency's digest and the
// bets it stored, and the agencies that had not notified when sales
// closed. Over a SharedLedger they are the ledger's (see sharedCoverage).
func (c *Central) coverage() (digests []Digest, stored uint64, absent []int, err error) {
	if c.shared != nil {
		return c.sharedCoverage()
	}
	digests = make([]Digest, c.agencies)
	for a := 1; a <= c.agencies; a++ {
		st, err := c.accounts[a].standing(c.ctx, c)
		if err != nil {
			return nil, 0, nil, err
		}
		digests[a-1], stored = st.Digest, stored+st.Stored
		if !st.Done {
			absent = append(absent, a) // sales are closed: Done no longer changes
		}
	}
	return digests, stored, absent, nil
}

// drawFailed ends a draw that could not be held: it can be tried again.
func (c *Central) drawFailed(err error) error {
	c.mu.Lock()
	c.drawing = false
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		return fmt.Errorf("draw stopped: %w", context.Cause(c.ctx))
	}
	if errors.Is(err, ErrUnavailable) {
		return err // a failed write, told where it failed
	}
	c.events.DrawFailed(err) // told once, here; callers get a short reason
	return fmt.Errorf("%w: draw: %w", ErrUnavailable, err)
}

// Winners returns the documents of agency's winners and the draw's
// digest, waiting for the draw until ctx is done. It never answers before
// the draw.
func (c *Central) Winners(ctx context.Context, agency int) ([]string, Digest, error) {
	if _, err := c.account(agency); err != nil {
		return nil, Digest{}, err
	}
	c.mu.Lock()
	retry := (c.notified == c.agencies || c.closed.Load()) && !c.drawing
	if retry {
		c.drawing = true
	}
	c.mu.Unlock()
	if retry {
		if err := c.draw(); err != nil {
			return nil, Digest{}, err
		}
	}
	if c.shared != nil {
		if err := c.awaitShared(ctx); err != nil {
			return nil, Digest{}, err
		}
	}
	select {
	case <-c.decided:
	case <-ctx.Done():
		return nil, Digest{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.winners[agency], c.result.Digest, nil
}

// Decide holds the draw over bets, the stored bets of agencies
// 1..len(digests), whose digests those are (digests[i] is agency i+1's):
// it evaluates every bet with HasWon and returns the result to record and
// each agency's winners. A central decides the draw with it, and an
// auditor checks a recorded one with it, from a copy of the bets.
func Decide(ctx context.Context, bets iter.Seq2[Bet, error], digests []Digest) (Result, map[int][]string, error) {
	winners, n, err := Draw(ctx, bets)
	if err != nil {
		return Result{}, nil, err
	}
	r := Result{Agencies: len(digests), Bets: uint64(n), Digest: DrawDigest(digests), WinnersDigest: WinnersDigest(winners, len(digests))}
	for a, w := range winners {
		if a < 1 || a > len(digests) {
			return Result{}, nil, fmt.Errorf("a winning bet of agency %d, outside the draw's agencies 1..%d", a, len(digests))
		}
		r.Winners += len(w)
	}
	return r, winners, nil
}

// drawCheckEvery is how many bets Draw evaluates between looks at its
// context: a few milliseconds of work.
const drawCheckEvery = 1 << 16

// Draw evaluates bets with HasWon and returns, per agency, the documents
// of its winning bets in storage order, and how many bets it evaluated. It
// keeps only the winners. It stops with ctx's error once ctx is done.
func Draw(ctx context.Context, bets iter.Seq2[Bet, error]) (winners map[int][]string, n int, err error) {
	winners = make(map[int][]string)
	for bet, err := range bets {
		if err != nil {
			return nil, n, err
		}
		if n++; n%drawCheckEvery == 0 && ctx.Err() != nil {
			return nil, n, ctx.Err()
		}
		if HasWon(bet) {
			// Cloned: the bet's text may share memory with many others.
			winners[bet.Agency] = append(winners[bet.Agency], strings.Clone(bet.Document))
		}
	}
	return winners, n, nil
}
