package lottery

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"sync"
)

// Ledger is what the central needs of the store of bets.
type Ledger interface {
	// Notify durably records that agency has sent all of its total bets.
	Notify(agency int, total uint64) error
	// Notified returns the agencies that have notified.
	Notified() []int
	// LoadBets yields every stored bet in storage order.
	LoadBets() iter.Seq2[Bet, error]
}

// Central is the draw barrier: it knows which agencies have notified, holds
// the draw once all of them have, and answers each agency with its own
// winners. It is the one owner of that state; its methods are safe for
// concurrent use.
type Central struct {
	ledger   Ledger
	agencies int
	log      *slog.Logger
	// afterDrawLogged runs between the sorteo line and the release of
	// the winners; nil when nothing needs to wait (see AfterDrawLogged).
	afterDrawLogged func()

	mu       sync.Mutex
	notified map[int]bool
	drawing  bool
	winners  map[int][]string // set once by the draw, as it releases them
	drawn    chan struct{}    // closed once winners is set
}

// Option configures a Central.
type Option func(*Central)

// AfterDrawLogged makes the draw call wait after it has logged its sorteo
// line and before it releases any winners: no held or later Winners call
// returns, and Status does not report the draw, until wait returns. A
// merged log (docker compose logs) orders the lines of the central and of
// the agencies by when its reader took each one; an agency answered
// microseconds after the sorteo line can have its winners line taken
// first. wait gives the reader of the central's log the time to take the
// sorteo line (see logging.AfterWrite), so that causality survives the
// merge. It should be bounded: the draw's notification is acknowledged
// only after it.
func AfterDrawLogged(wait func()) Option {
	return func(c *Central) { c.afterDrawLogged = wait }
}

// NewCentral returns the central for agencies 1..agencies over ledger,
// with the notifications the ledger already holds. When every agency had
// notified (a restart after the draw), it holds the draw again before it
// returns, so that winners are answered at once.
func NewCentral(ledger Ledger, agencies int, log *slog.Logger, opts ...Option) (*Central, error) {
	c := &Central{
		ledger:   ledger,
		agencies: agencies,
		log:      log,
		notified: make(map[int]bool),
		drawn:    make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	for _, a := range ledger.Notified() {
		if a >= 1 && a <= agencies {
			c.notified[a] = true
		}
	}
	if len(c.notified) == agencies {
		c.drawing = true
		if err := c.draw(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Agencies returns how many agencies the draw waits for.
func (c *Central) Agencies() int { return c.agencies }

// Status returns how many agencies have notified and whether the draw has
// been held.
func (c *Central) Status() (notified int, drawn bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.notified), c.winners != nil
}

// Drawn reports whether the draw has been held.
func (c *Central) Drawn() bool {
	_, drawn := c.Status()
	return drawn
}

// Notify records that agency has sent all of its total bets. The call that
// completes the set of agencies holds the draw before it returns.
// Notifying twice is harmless.
func (c *Central) Notify(agency int, total uint64) error {
	if err := ValidateAgency(agency, c.agencies); err != nil {
		return err
	}
	if err := c.ledger.Notify(agency, total); err != nil {
		return err
	}
	// Logged here, before a draw this notification may start, so that the
	// log reads in the order things happened.
	c.log.Info("notificacion", "result", "success", "agencia", agency, "apuestas", total)
	c.mu.Lock()
	c.notified[agency] = true
	start := len(c.notified) == c.agencies && !c.drawing
	if start {
		c.drawing = true
	}
	c.mu.Unlock()
	if start {
		return c.draw()
	}
	return nil
}

// draw evaluates every stored bet and keeps each agency's winners. Only one
// draw runs: the caller set c.drawing. A draw that fails can be tried
// again by the next Notify or Winners.
//
// The sorteo line is logged, and afterDrawLogged has returned, before the
// winners are released: an agency cannot log its winners before the
// central's log holds the draw.
func (c *Central) draw() error {
	winners, err := Draw(c.ledger.LoadBets())
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.drawing = false
		c.log.Error("sorteo", "result", "fail", "error", err)
		return fmt.Errorf("draw: %w", err)
	}
	total := 0
	for _, w := range winners {
		total += len(w)
	}
	c.log.Info("sorteo", "result", "success", "ganadores", total)
	if c.afterDrawLogged != nil {
		c.afterDrawLogged()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.winners = winners
	close(c.drawn)
	return nil
}

// Winners returns the documents of agency's winners, waiting for the draw
// until ctx is done. It never answers before the draw.
func (c *Central) Winners(ctx context.Context, agency int) ([]string, error) {
	if err := ValidateAgency(agency, c.agencies); err != nil {
		return nil, err
	}
	c.mu.Lock()
	retry := len(c.notified) == c.agencies && !c.drawing
	if retry {
		c.drawing = true
	}
	c.mu.Unlock()
	if retry {
		if err := c.draw(); err != nil {
			return nil, err
		}
	}
	select {
	case <-c.drawn:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.winners[agency], nil
}

// Draw evaluates bets with HasWon and returns, per agency, the documents
// of its winning bets in storage order. It keeps only the winners.
func Draw(bets iter.Seq2[Bet, error]) (map[int][]string, error) {
	winners := make(map[int][]string)
	for bet, err := range bets {
		if err != nil {
			return nil, err
		}
		if HasWon(bet) {
			// Cloned: the bet's text may share memory with many others.
			winners[bet.Agency] = append(winners[bet.Agency], strings.Clone(bet.Document))
		}
	}
	return winners, nil
}
