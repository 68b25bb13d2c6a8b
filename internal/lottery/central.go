package lottery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Central is the lottery's one owner of every rule about stored bets: it
// validates batches, stores each bet exactly once by its position, closes
// an agency once it has notified, holds the draw once every agency has,
// records it, and answers each agency with its own winners. Its methods
// are safe for concurrent use; batches of different agencies are decided
// in parallel.
type Central struct {
	ctx       context.Context // bounds every draw: the central's lifetime
	ledger    Ledger
	shared    SharedLedger // ledger, where other centrals write it too; nil otherwise
	watchOnce sync.Once    // starts watchShared
	agencies  int
	events    Events
	accounts  []account   // indexed by agency; [0] unused
	recorded  *Result     // the draw the ledger held at start-up, if any
	closed    atomic.Bool // sales are closed: no new bets, no new notification

	mu       sync.Mutex
	failed   error         // the first write the ledger failed: nothing more is decided
	failedCh chan struct{} // closed once failed is set
	notified int           // agencies whose notification is durable
	drawing  bool
	winners  map[int][]string // set once by the draw
	result   Result           // set once by the draw
	drawnAt  time.Time        // set once by the draw: when it was decided
	drawTook time.Duration    // set once by the draw: how long it took
	decided  chan struct{}    // closed once winners and result are set
	// changed is closed, and replaced, each time notified changes or the
	// draw is decided (see StatusChanged).
	changed chan struct{}
}

// NewCentral returns the central for agencies 1..agencies over ledger,
// from what the ledger already holds.
//
// A draw the ledger recorded is final: the central then covers the
// agencies the draw covered, whatever agencies says (see Agencies), and
// holds the draw again over the stored bets before it returns, refusing to
// start when that does not give the recorded result. The recorded draw
// may cover agencies that had not notified: it was held when sales
// closed (see CloseSales), and the record, not the notifications, is the
// decision. Before the draw, a
// ledger that holds bets of an agency past agencies is refused: the draw
// would leave them out. When every agency had notified but no draw was
// recorded, the draw is held before NewCentral returns.
//
// ctx is the central's lifetime: once it is done, a draw in progress
// stops without a decision (it is held again at the next start), so that
// a shutdown never waits for a draw over many millions of bets.
func NewCentral(ctx context.Context, ledger Ledger, agencies int, events Events) (*Central, error) {
	held := ledger.Holdings()
	recorded, hasRecord := ledger.Recorded()
	if hasRecord {
		agencies = recorded.Agencies
	}
	for a, h := range held {
		if (a < 1 || a > agencies) && (h.Bets > 0 || h.Done) {
			return nil, fmt.Errorf("%w: the ledger holds %d bets of agency %d, but the draw covers agencies 1..%d", ErrInconsistent, h.Bets, a, agencies)
		}
	}
	c := &Central{
		ctx:      ctx,
		ledger:   ledger,
		agencies: agencies,
		events:   events,
		accounts: make([]account, agencies+1),
		decided:  make(chan struct{}),
		changed:  make(chan struct{}),
		failedCh: make(chan struct{}),
	}
	if hasRecord {
		c.recorded = &recorded
	}
	c.shared, _ = ledger.(SharedLedger)
	closed, err := c.sharedClosed()
	if err != nil {
		return nil, err
	}
	for a := 1; a <= agencies; a++ {
		h, ok := held[a]
		if !ok {
			h.Digest = EmptyDigest
		}
		c.accounts[a].accepted, c.accounts[a].done, c.accounts[a].digest = h.Bets, h.Done, h.Digest
		if h.Done {
			c.notified++
		}
	}
	// A recorded draw is the decision: it may have been held at a
	// deadline, before every agency notified (see CloseSales), and covers the
	// bets stored by then, which draw checks against it.
	if c.recorded != nil || c.notified == agencies || closed {
		c.drawing = true
		c.closed.Store(true)
		if err := c.draw(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Agencies returns how many agencies the draw covers: the configured
// number, or the recorded draw's.
func (c *Central) Agencies() int { return c.agencies }

// Status returns how many agencies have notified and whether the draw has
// been held.
func (c *Central) Status() (notified int, drawn bool) {
	notified, drawn, _ = c.StatusChanged()
	return notified, drawn
}

// StatusChanged is Status, and a channel closed at its next change: one
// who tells agencies what the draw waits for waits on it, not on a clock.
func (c *Central) StatusChanged() (notified int, drawn bool, changed <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notified, c.winners != nil, c.changed
}

// setNotified sets the count of agencies notified, telling those who
// wait on StatusChanged if it moved. The caller holds c.mu.
func (c *Central) setNotified(n int) {
	if n != c.notified {
		c.notified = n
		c.announce()
	}
}

// announce closes the channel StatusChanged handed out, and makes the
// next. The caller holds c.mu.
func (c *Central) announce() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Snapshot is what the central holds at one moment, for operators: counts
// and the draw's public outcome, never a winner's document.
type Snapshot struct {
	Agencies []AgencySnapshot // agencies 1..Agencies(), in order
	Notified int              // agencies whose notification is durable
	Closed   bool             // sales are closed: the draw is held or being held
	Drawn    bool             // the draw has been held
	// After the draw only.
	Result   Result        // the draw's result
	DrawnAt  time.Time     // when it was decided (or restored, at start-up)
	DrawTook time.Duration // how long holding it took
}

// AgencySnapshot is one agency in a Snapshot.
type AgencySnapshot struct {
	Agency  int
	Bets    uint64 // bets handed to the ledger: durable, or being made so
	Done    bool   // the agency has notified
	Winners int    // its winning bets; 0 before the draw
}

// Snapshot returns the central's counts without waiting for any write.
func (c *Central) Snapshot() Snapshot {
	s := Snapshot{Agencies: make([]AgencySnapshot, c.agencies)}
	for a := 1; a <= c.agencies; a++ {
		acc := &c.accounts[a]
		acc.mu.Lock()
		s.Agencies[a-1] = AgencySnapshot{Agency: a, Bets: acc.accepted, Done: acc.done}
		acc.mu.Unlock()
	}
	s.Closed = c.closed.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Notified = c.notified
	if c.winners != nil {
		s.Drawn, s.Result, s.DrawnAt, s.DrawTook = true, c.result, c.drawnAt, c.drawTook
		for i := range s.Agencies {
			s.Agencies[i].Winners = len(c.winners[i+1])
		}
	}
	return s
}

// Failed is closed once a write of the ledger has failed. The central then
// decides nothing more (everything is ErrUnavailable): after a failed
// write or fsync, what is on disk is no longer known, so the wiring stops
// the central and a restart lets recovery decide what is durable, as
// PostgreSQL does after a failed fsync. Err says why.
func (c *Central) Failed() <-chan struct{} { return c.failedCh }

// Err returns the ledger's failure once Failed is closed, and nil before.
func (c *Central) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// Drawn reports whether the draw has been held.
func (c *Central) Drawn() bool {
	select {
	case <-c.decided:
		return true
	default:
		return false
	}
}

// Submission is the central's answer to a batch, ready once the batch's
// new bets are on stable storage.
type Submission struct {
	central *Central
	account *account
	receipt Receipt // nil when nothing is to be waited for
	stored  uint64  // the agency's stored bets once receipt is ready
	fresh   int     // bets of the batch that are new
	err     error   // the batch is refused
}

// Wait waits for the batch to be durable. It returns how many bets the
// agency then has on stable storage, and how many of the batch's were
// new (0 for a batch stored before, which is acknowledged again), or the
// error that refused the batch: ErrInvalidBet, ErrOutOfOrder, ErrClosed or
// ErrUnavailable, wrapped. When ctx is done first, it returns
// ErrUnavailable wrapping ctx's error (see Central.wait): the batch was
// not acknowledged, and may yet be stored.
func (s *Submission) Wait(ctx context.Context) (stored uint64, fresh int, err error) {
	if s.err != nil {
		return 0, 0, s.err
	}
	if s.receipt != nil {
		if _, err := s.central.wait(ctx, s.receipt); err != nil {
			return 0, 0, s.central.lost(s.account, err)
		}
	}
	return s.stored, s.fresh, nil
}

// Submit decides a batch of agency's bets numbered first, first+1, ... and
// hands its new bets to the ledger. Bets before the agency's position
// were stored before and are acknowledged again; a batch past it would
// leave a gap. Submit does not wait for the disk (see Submission.Wait),
// and keeps nothing of bets.
func (c *Central) Submit(agency int, first uint64, bets []Bet) *Submission {
	a, err := c.account(agency)
	if err != nil {
		return &Submission{err: err}
	}
	v := NewValidator(time.Now())
	for i := range bets {
		bets[i].Agency = agency
		if err := v.Validate(bets[i]); err != nil {
			return &Submission{err: fmt.Errorf("bet %d of batch at %d: %w", i, first, err)}
		}
	}
	n := uint64(len(bets))
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := c.refresh(c.ctx, agency, a); err != nil {
		return &Submission{err: err}
	}
	switch {
	case c.failure() != nil:
		return &Submission{err: c.failure()}
	case first > a.accepted:
		return &Submission{err: fmt.Errorf("%w: agency %d batch starts at bet %d, stored %d", ErrOutOfOrder, agency, first, a.accepted)}
	case first+n <= a.accepted:
		return &Submission{central: c, account: a, receipt: a.last, stored: a.accepted} // sent before
	case a.done:
		return &Submission{err: fmt.Errorf("%w: agency %d has notified", ErrClosed, agency)}
	case c.closed.Load():
		return &Submission{err: fmt.Errorf("%w: agency %d: sales are closed", ErrClosed, agency)}
	}
	fresh := bets[a.accepted-first:]
	a.last = c.ledger.Append(agency, a.accepted, fresh)
	a.accepted += uint64(len(fresh))
	return &Submission{central: c, account: a, receipt: a.last, stored: a.accepted, fresh: len(fresh)}
}

// Notify records that agency has sent all of its total bets, and returns
// the agency's digest over them. The call that completes the set of
// agencies holds the draw before it returns. Notifying again with the
// same total is answered as the first time. ctx bounds the wait for the
// notification to be durable (see Central.wait); the draw is bounded by
// the central's lifetime.
func (c *Central) Notify(ctx context.Context, agency int, total uint64) (Digest, error) {
	a, err := c.account(agency)
	if err != nil {
		return Digest{}, err
	}
	a.mu.Lock()
	if err := c.failure(); err != nil {
		a.mu.Unlock()
		return Digest{}, err
	}
	if err := c.refresh(ctx, agency, a); err != nil {
		a.mu.Unlock()
		return Digest{}, err
	}
	if total != a.accepted {
		stored := a.accepted
		a.mu.Unlock()
		return Digest{}, fmt.Errorf("%w: agency %d says %d, stored %d", ErrIncomplete, agency, total, stored)
	}
	first := !a.done
	if first && c.closed.Load() {
		// Sales closed before the agency notified: the draw is held, or
		// being held, with the bets it had stored; a notification now
		// would come after it.
		a.mu.Unlock()
		return Digest{}, fmt.Errorf("%w: agency %d had not notified when sales closed", ErrClosed, agency)
	}
	if first {
		a.done = true
		a.last = c.ledger.Notify(agency, total)
	}
	a.mu.Unlock()
	st, err := a.standing(ctx, c)
	if err != nil {
		return Digest{}, c.lost(a, err)
	}
	// Told here, before a draw this notification may start, so that the
	// log reads in the order things happened.
	c.events.Notified(agency, total)
	if !first {
		return st.Digest, nil
	}
	if c.countNotified() {
		c.closed.Store(true) // every agency is done: nothing changes it
		return st.Digest, c.draw()
	}
	return st.Digest, nil
}

// countNotified counts a new notification, and reports whether it
// completes the set of agencies: the caller then holds the draw. Over a
// SharedLedger the count is the ledger's, which other centrals' agencies
// notify too; where it cannot be read, a winners query that waits reads
// it again (see awaitShared).
func (c *Central) countNotified() (start bool) {
	n := -1
	if c.shared != nil {
		if st, err := c.shared.State(c.ctx); err == nil {
			n = st.Notified(c.agencies)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.shared == nil:
		c.setNotified(c.notified + 1)
	case n >= 0:
		c.setNotified(n)
	}
	start = c.notified == c.agencies && !c.drawing
	if start {
		c.drawing = true
	}
	return start
}

// wait waits for a ledger write. A write that failed leaves the central
// failed: the ledger's state is no longer known, so nothing more is
// decided until a restart recovers it; except over a SharedLedger, whose
// writes are transactions.
//
// A wait that ctx ends first is no failure of the ledger: the write goes
// on, and the caller (a shutdown past its grace period) gets
// ErrUnavailable wrapping ctx's error. The central stays as it was: the
// write is its agency's last, which the next wait waits for again.
func (c *Central) wait(ctx context.Context, r Receipt) (Digest, error) {
	d, err := r.Wait(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return Digest{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err != nil && c.shared != nil {
		// A transaction: the ledger holds what it holds, which the
		// central reads again (see lost). It does not fail the central.
		return Digest{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err != nil {
		c.mu.Lock()
		if c.failed == nil {
			c.failed = err
			close(c.failedCh)
		}
		c.mu.Unlock()
		return Digest{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return d, nil
}

// failure returns ErrUnavailable, wrapped, once a write has failed.
func (c *Central) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, c.failed)
}
