package lottery

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ledger is the central's port to the store of bets, defined here by its
// consumer. A ledger keeps what it is given durably and in order, and
// decides nothing: which bets of a batch are new, whether an agency may
// still send, when the draw is held are the Central's rules. A second
// backend thus implements durability only. Because every write names its
// position, a backend shared by several centrals can still refuse a write
// that another central made first (a unique key on agency and position).
//
// A ledger also computes each agency's Digest over the rows it stores: it
// is the one that renders them.
type Ledger interface {
	// Holdings returns what the ledger held of each agency when it was
	// opened, in a map of the caller's. An agency it held nothing of may
	// be left out.
	Holdings() map[int]Holding
	// Drawn returns the draw the ledger held when it was opened, if any.
	Drawn() (Result, bool)
	// Append stores bets as agency's bets number from, from+1, ...; from
	// is the agency's next position. It does not wait: the receipt is
	// ready once the bets are on stable storage, with the agency's
	// digest after them. Append keeps nothing of bets, which the caller
	// may reuse once it returns. A batch at any other position, one
	// stored before or one past the next, is refused and nothing of it
	// stored: the central sends neither, a second central might.
	Append(agency int, from uint64, bets []Bet) Receipt
	// Notify records that agency has sent all of its total bets; the
	// receipt carries the agency's digest.
	Notify(agency int, total uint64) Receipt
	// RecordDraw records the draw's result. Once it is durable the
	// draw is decided, and a ledger opened again returns it from Drawn.
	// The receipt carries the result's digest. Every write after it is
	// refused: a central opened again holds the draw again over the
	// stored bets, and one bet more would make it refuse to start.
	RecordDraw(r Result) Receipt
	// LoadBets yields every stored bet in storage order: each agency's
	// by position, every acknowledged one included. How the agencies'
	// bets interleave is the ledger's: nothing depends on it.
	LoadBets() iter.Seq2[Bet, error]
}

// Holding is what a ledger holds of one agency.
type Holding struct {
	Bets   uint64 // bets stored, numbered 0..Bets-1
	Done   bool   // the agency's notification is stored
	Digest Digest // the agency's digest over its Bets bets
}

// Receipt is the answer to one write of a ledger. Writes of one agency
// become durable in the order they were made: when a receipt is ready,
// every earlier write of its agency is durable too.
//
// A write that fails (it could not be made durable) or is refused (see
// Append and RecordDraw) fails its receipt with an error that wraps
// ErrUnavailable; a refused write changes nothing. After a failed write
// what the ledger holds is no longer known: every later write fails too,
// until the ledger is opened again, which holds every acknowledged write
// and the failed one whole or not at all. Package ledgertest checks a
// ledger against all of this.
type Receipt interface {
	// Wait blocks until the write is durable and returns the digest it
	// commits to (the agency's, after an Append or a Notify), or returns
	// why it failed. It may be called again, and from many goroutines.
	Wait() (Digest, error)
}

// Result is a held draw: the decision the ledger records, from which the
// winners follow. Once recorded it is final: a central that starts again
// answers from it, whatever its configuration says.
type Result struct {
	Agencies      int    // the draw covered agencies 1..Agencies
	Bets          uint64 // bets evaluated
	Digest        Digest // DrawDigest of the agencies' digests
	Winners       int    // winning bets, all agencies
	WinnersDigest Digest // WinnersDigest of every agency's winners
}

// Events hears what the central decides. Each event comes before its
// effects can be seen by any agency: Drawn returns before a single winner
// is answered, so a log written there is ahead of every agency's log of
// its winners. The wiring logs them; tests record them.
type Events interface {
	// Notified: agency's notification of its total bets is durable.
	Notified(agency int, total uint64)
	// Drawn: the draw has been held, or restored from the ledger at
	// start-up. absent lists, in order, the agencies that had not
	// notified when sales closed (see Central.CloseSales): empty unless the
	// draw was held at a deadline.
	Drawn(r Result, absent []int)
	// DrawFailed: the draw could not read the stored bets; it is held
	// again by the next notification or winners query.
	DrawFailed(err error)
}

// Central is the lottery's one owner of every rule about stored bets: it
// validates batches, stores each bet exactly once by its position, closes
// an agency once it has notified, holds the draw once every agency has,
// records it, and answers each agency with its own winners. Its methods
// are safe for concurrent use; batches of different agencies are decided
// in parallel.
type Central struct {
	ctx      context.Context // bounds every draw: the central's lifetime
	ledger   Ledger
	agencies int
	events   Events
	accounts []account   // indexed by agency; [0] unused
	recorded *Result     // the draw the ledger held at start-up, if any
	closed   atomic.Bool // sales are closed: no new bets, no new notification

	mu       sync.Mutex
	failed   error         // the first write the ledger failed: nothing more is decided
	failedCh chan struct{} // closed once failed is set
	notified int           // agencies whose notification is durable
	drawing  bool
	winners  map[int][]string // set once by the draw
	result   Result           // set once by the draw
	drawnAt  time.Time        // set once by the draw: when it was decided
	drawTook time.Duration    // set once by the draw: how long it took
	drawn    chan struct{}    // closed once winners and result are set
}

// account is the central's record of one agency, the only one there is.
type account struct {
	mu       sync.Mutex
	accepted uint64  // bets handed to the ledger; durable once last is
	last     Receipt // the agency's latest write; nil when it made none
	digest   Digest  // the agency's digest as the ledger held it at start
	done     bool    // the agency has notified: it takes no more bets
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
	recorded, drawn := ledger.Drawn()
	if drawn {
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
		drawn:    make(chan struct{}),
		failedCh: make(chan struct{}),
	}
	if drawn {
		c.recorded = &recorded
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
	if c.recorded != nil || c.notified == agencies {
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
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notified, c.winners != nil
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
	case <-c.drawn:
		return true
	default:
		return false
	}
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
// flight, so that what it reports is durable.
func (c *Central) Resume(agency int) (Standing, error) {
	a, err := c.account(agency)
	if err != nil {
		return Standing{}, err
	}
	st, err := a.standing(c)
	if err != nil {
		return Standing{}, err
	}
	st.Drawn = c.Drawn()
	return st, nil
}

// standing returns the account's durable state: it waits for its last
// write, which carries the digest.
func (a *account) standing(c *Central) (Standing, error) {
	a.mu.Lock()
	st, last := Standing{Stored: a.accepted, Done: a.done, Digest: a.digest}, a.last
	a.mu.Unlock()
	if last == nil {
		return st, nil
	}
	d, err := c.wait(last)
	if err != nil {
		return Standing{}, err
	}
	st.Digest = d
	return st, nil
}

// Submission is the central's answer to a batch, ready once the batch's
// new bets are on stable storage.
type Submission struct {
	central *Central
	receipt Receipt // nil when nothing is to be waited for
	stored  uint64  // the agency's stored bets once receipt is ready
	fresh   int     // bets of the batch that are new
	err     error   // the batch is refused
}

// Wait waits for the batch to be durable. It returns how many bets the
// agency then has on stable storage, and how many of the batch's were
// new (0 for a batch stored before, which is acknowledged again), or the
// error that refused the batch: ErrInvalidBet, ErrOutOfOrder, ErrClosed or
// ErrUnavailable, wrapped.
func (s *Submission) Wait() (stored uint64, fresh int, err error) {
	if s.err != nil {
		return 0, 0, s.err
	}
	if s.receipt != nil {
		if _, err := s.central.wait(s.receipt); err != nil {
			return 0, 0, err
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
	switch {
	case c.failure() != nil:
		return &Submission{err: c.failure()}
	case first > a.accepted:
		return &Submission{err: fmt.Errorf("%w: agency %d batch starts at bet %d, stored %d", ErrOutOfOrder, agency, first, a.accepted)}
	case first+n <= a.accepted:
		return &Submission{central: c, receipt: a.last, stored: a.accepted} // sent before
	case a.done:
		return &Submission{err: fmt.Errorf("%w: agency %d has notified", ErrClosed, agency)}
	case c.closed.Load():
		return &Submission{err: fmt.Errorf("%w: agency %d: sales are closed", ErrClosed, agency)}
	}
	fresh := bets[a.accepted-first:]
	a.last = c.ledger.Append(agency, a.accepted, fresh)
	a.accepted += uint64(len(fresh))
	return &Submission{central: c, receipt: a.last, stored: a.accepted, fresh: len(fresh)}
}

// Notify records that agency has sent all of its total bets, and returns
// the agency's digest over them. The call that completes the set of
// agencies holds the draw before it returns. Notifying again with the
// same total is answered as the first time.
func (c *Central) Notify(agency int, total uint64) (Digest, error) {
	a, err := c.account(agency)
	if err != nil {
		return Digest{}, err
	}
	a.mu.Lock()
	if err := c.failure(); err != nil {
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
	st, err := a.standing(c)
	if err != nil {
		return Digest{}, err
	}
	// Told here, before a draw this notification may start, so that the
	// log reads in the order things happened.
	c.events.Notified(agency, total)
	if !first {
		return st.Digest, nil
	}
	c.mu.Lock()
	c.notified++
	start := c.notified == c.agencies && !c.drawing
	if start {
		c.drawing = true
	}
	c.mu.Unlock()
	if start {
		c.closed.Store(true) // every agency is done: nothing changes it
		return st.Digest, c.draw()
	}
	return st.Digest, nil
}

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

// account returns agency's account, or ErrInvalidBet for an agency the
// draw does not cover.
func (c *Central) account(agency int) (*account, error) {
	if err := ValidateAgency(agency, c.agencies); err != nil {
		return nil, err
	}
	return &c.accounts[agency], nil
}

// wait waits for a ledger write. A write that failed leaves the central
// failed: the ledger's state is no longer known, so nothing more is
// decided until a restart recovers it.
func (c *Central) wait(r Receipt) (Digest, error) {
	d, err := r.Wait()
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

// draw evaluates every stored bet, records the result (or, after a
// restart, checks it against the one recorded) and keeps each agency's
// winners. Only one draw runs: the caller set c.drawing. A draw that
// fails for want of the bets can be tried again by the next Notify or
// Winners.
func (c *Central) draw() error {
	began := time.Now()
	digests := make([]Digest, c.agencies)
	var stored uint64
	var absent []int
	for a := 1; a <= c.agencies; a++ {
		st, err := c.accounts[a].standing(c)
		if err != nil {
			return c.drawFailed(err)
		}
		digests[a-1], stored = st.Digest, stored+st.Stored
		if !st.Done {
			absent = append(absent, a) // sales are closed: Done no longer changes
		}
	}
	r, winners, err := Decide(c.ctx, c.ledger.LoadBets(), digests)
	if err != nil {
		return c.drawFailed(err)
	}
	if r.Bets != stored {
		return c.drawFailed(fmt.Errorf("the ledger yields %d bets, its agencies hold %d", r.Bets, stored))
	}
	if c.recorded != nil {
		if r != *c.recorded {
			return fmt.Errorf("%w: the stored bets give a draw (%s) other than the recorded one (%s)", ErrInconsistent, r, *c.recorded)
		}
	} else if _, err := c.wait(c.ledger.RecordDraw(r)); err != nil {
		return err
	}
	c.events.Drawn(r, absent) // before any winner is answered
	c.mu.Lock()
	defer c.mu.Unlock()
	c.winners, c.result = winners, r
	c.drawnAt, c.drawTook = time.Now(), time.Since(began)
	close(c.drawn)
	return nil
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

// String describes a result in a line of a log or an error.
func (r Result) String() string {
	return fmt.Sprintf("agencies 1..%d, %d bets, digest %s, %d winners, winners digest %s", r.Agencies, r.Bets, r.Digest, r.Winners, r.WinnersDigest)
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
	select {
	case <-c.drawn:
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
