package lottery

import (
	"context"
	"sync"
)

// account is the central's record of one agency, the only one there is.
type account struct {
	mu       sync.Mutex
	accepted uint64  // bets handed to the ledger; durable once last is
	last     Receipt // the agency's latest write; nil when it made none
	digest   Digest  // the agency's digest as the ledger held it at start
	done     bool    // the agency has notified: it takes no more bets
	stale    bool    // a SharedLedger may hold more than this record: read it again (see Central.refresh)
}

// Standing is where an agency stands, as a connection that speaks for it
// is told.
type Standing struct {
	Stored uint64 // its bets on stable storage, numbered 0..Stored-1
	Done   bool   // its notification is on stable storage
	Drawn  bool   // the draw has been held
	Digest Digest // its digest over its Stored bets
}

// Resume returns where agency stands. It waits for the agency's writes in
// flight, so that what it reports is durable, until ctx is done (see
// Central.wait).
func (c *Central) Resume(ctx context.Context, agency int) (Standing, error) {
	a, err := c.account(agency)
	if err != nil {
		return Standing{}, err
	}
	if c.shared != nil {
		// The agency may have sent bets through another central since
		// this one last heard of it.
		a.mu.Lock()
		a.stale = true
		err := c.refresh(ctx, agency, a)
		a.mu.Unlock()
		if err != nil {
			return Standing{}, err
		}
	}
	st, err := a.standing(ctx, c)
	if err != nil {
		return Standing{}, c.lost(a, err)
	}
	st.Drawn = c.Drawn()
	return st, nil
}

// standing returns the account's durable state: it waits for its last
// write, which carries the digest, until ctx is done.
func (a *account) standing(ctx context.Context, c *Central) (Standing, error) {
	a.mu.Lock()
	st, last := Standing{Stored: a.accepted, Done: a.done, Digest: a.digest}, a.last
	a.mu.Unlock()
	if last == nil {
		return st, nil
	}
	d, err := c.wait(ctx, last)
	if err != nil {
		return Standing{}, err
	}
	st.Digest = d
	return st, nil
}

// account returns agency's account, or ErrInvalidBet for an agency the
// draw does not cover.
func (c *Central) account(agency int) (*account, error) {
	if err := ValidateAgency(agency, c.agencies); err != nil {
		return nil, err
	}
	return &c.accounts[agency], nil
}
