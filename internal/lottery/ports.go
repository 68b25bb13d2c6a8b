package lottery

import (
	"context"
	"fmt"
	"iter"
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
	// Recorded returns the draw the ledger held when it was opened, if any.
	Recorded() (Result, bool)
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
	// draw is decided, and a ledger opened again returns it from Recorded.
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
	//
	// When ctx is done first, Wait returns ctx's error, wrapped: the
	// caller stops waiting (a shutdown past its grace period), and
	// nothing else changes. The write goes on, is durable or fails as it
	// would have, and a later Wait has its answer.
	Wait(ctx context.Context) (Digest, error)
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

// String describes a result in a line of a log or an error.
func (r Result) String() string {
	return fmt.Sprintf("agencies 1..%d, %d bets, digest %s, %d winners, winners digest %s", r.Agencies, r.Bets, r.Digest, r.Winners, r.WinnersDigest)
}

// SharedLedger is a ledger that several centrals write at once: replicas
// of the central over one database, so that a machine that dies stops no
// agency. What it holds changes under each central (another stores an
// agency's bets, takes its notification, closes sales, records the
// draw), so a central over a SharedLedger decides from what the ledger
// holds, read again where its own record may be behind, and the ledger
// refuses a write that another central made first or made moot
// (ErrConflict: a batch of an agency another central took the
// notification of, too) or that comes after sales closed (ErrClosed,
// which a central takes to mean sales are closed for every agency, and
// which the ledger gives for nothing else).
//
// Its writes are transactions: a write that fails changes nothing, and
// the ledger takes writes again afterwards (unlike a Ledger, whose state
// after a failed write is unknown until it is opened again). The central
// then reads again what it holds of the agencies the failure touched.
type SharedLedger interface {
	Ledger
	// Holding reads what the ledger holds now of agency, as written by
	// any central.
	Holding(ctx context.Context, agency int) (Holding, error)
	// State reads what the ledger holds now of the whole lottery.
	State(ctx context.Context) (LedgerState, error)
	// RecordDecision records the draw's result with its winners, the
	// answer every agency is given: a central that finds the draw
	// recorded by another takes the winners from the ledger, checked
	// against the result's WinnersDigest, instead of holding the draw
	// again. Like RecordDraw, it is refused with ErrConflict once a draw
	// is recorded.
	RecordDecision(r Result, winners map[int][]string) Receipt
	// Winners reads the winners recorded with the draw: nil, without an
	// error, when none are (a draw recorded by RecordDraw).
	Winners(ctx context.Context) (map[int][]string, error)
	// HoldDraw takes the right to hold the draw, which one central at a
	// time has: the others wait for its record rather than evaluate
	// every bet at the same time. ok is false while another central has
	// it; a central that dies loses it. release gives it back.
	HoldDraw(ctx context.Context) (release func(), ok bool, err error)
	// CloseSales records that sales are closed. Once its receipt is
	// ready, every Append and Notify of every central is refused with
	// ErrClosed, and every one acknowledged before it is in LoadBets and
	// in State: the draw that follows covers exactly those.
	CloseSales() Receipt
}

// LedgerState is what a SharedLedger holds of the whole lottery at one
// moment.
type LedgerState struct {
	Holdings map[int]Holding // agencies it holds anything of
	Closed   bool            // sales are closed (SharedLedger.CloseSales)
	Recorded *Result         // the draw, once recorded
}

// Notified returns how many of agencies 1..agencies have notified.
func (s LedgerState) Notified(agencies int) int {
	n := 0
	for a, h := range s.Holdings {
		if h.Done && a >= 1 && a <= agencies {
			n++
		}
	}
	return n
}
