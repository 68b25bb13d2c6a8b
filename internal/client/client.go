// Package client is the agency ("agencia de quiniela"): it uploads its
// bets to the central in batches, several in flight at once, tells the
// central when it is done and asks for its winners. It survives a central
// that restarts or a connection that breaks: it reconnects with
// exponential backoff and jitter, resumes from the count of bets the
// central has committed, and never sends a bet the central already holds.
//
// It trusts the central's count only once it has checked the central's
// digest of those bets against its own (PROTOCOL.md, section 4), and
// checks the digest of all of them when the central acknowledges its
// done notification: a central that holds other bets than the agency's
// file stops the agency, with one verificacion line naming both digests.
package client

import (
	"crypto/tls"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

// Window is how many batches an agency keeps in flight: enough to keep
// the central's group commit fed while one batch is being synced.
const Window = 16

// Agency is one agency's run.
type Agency struct {
	cfg config.Client
	log *slog.Logger
	// Single, when set, is the one bet to send instead of the data file
	// (the single-bet mode of NOMBRE, APELLIDO, ...).
	Single *lottery.Bet
	// Backoff is the first wait before reconnecting; it doubles up to
	// MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration

	bets     func() iter.Seq2[lottery.Bet, error] // nil: the data file
	pace     func(bets int)                       // nil: send at once
	observer Observer
	tls      *tls.Config // mutual TLS, loaded by preflight; nil: plaintext
}

// Observer is told how an agency's upload goes. The load generator
// measures through it; an agency of cmd/client has none.
type Observer interface {
	// OnAck is called with each acknowledged batch's size and the time
	// from sending it to its Ack.
	OnAck(bets int, latency time.Duration)
	// OnDone is called just before the done notification.
	OnDone()
}

// Resumer is an Observer that is also told, on each connection, how
// many of the agency's bets the central already holds: those OnAck will
// not count. The progress bar of cmd/client is one.
type Resumer interface {
	OnResume(held uint64)
}

// Option changes where an agency's bets come from or how they are sent.
// The options serve the load generator, which drives many agencies of
// the real client code in one process.
type Option func(*Agency)

// WithSource makes bets the source of the agency's bets instead of the
// data file: it yields all of them, from bet number 0, each time it is
// called. The agency reads again, on every connection, the bets the
// central already holds, to check the central's digest of them.
func WithSource(bets func() iter.Seq2[lottery.Bet, error]) Option {
	return func(a *Agency) { a.bets = bets }
}

// WithPace makes the agency call pace before it sends each batch, with
// the batch's size; the load generator sleeps in it to offer a steady
// rate.
func WithPace(pace func(bets int)) Option {
	return func(a *Agency) { a.pace = pace }
}

// WithObserver makes the agency tell o how its upload goes; a nil o
// changes nothing.
func WithObserver(o Observer) Option {
	return func(a *Agency) {
		if o != nil {
			a.observer = o
		}
	}
}

// noObserver is the Observer of an agency that has none.
type noObserver struct{}

func (noObserver) OnAck(int, time.Duration) {}
func (noObserver) OnDone()                  {}

// New returns the agency described by cfg, changed by opts.
func New(cfg config.Client, log *slog.Logger, opts ...Option) *Agency {
	a := &Agency{cfg: cfg, log: log, Backoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second, observer: noObserver{}}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

// Result is what a run ends with.
type Result struct {
	Winners []string       // documents of the agency's winners
	Sent    uint64         // bets of the agency that the central holds
	Digest  lottery.Digest // of those bets: the agency's, which the central's matched
	Draw    lottery.Digest // the draw's digest, as the Winners frames carried it
}

// preflight checks, before the first connection, what no reconnection
// can fix, so that the agency fails at once instead of retrying for
// retry.timeout: an id that no central takes (and that would not survive
// the wire's 32 bits), a data file that does not open or whose first bet
// does not read, a single bet that is not valid.
func (a *Agency) preflight() error {
	if a.cfg.ID < 1 || a.cfg.ID > lottery.MaxAgencies {
		return fmt.Errorf("agency id %d is outside 1..%d", a.cfg.ID, lottery.MaxAgencies)
	}
	if a.cfg.TLS() {
		host, _, err := net.SplitHostPort(a.cfg.ServerAddress)
		if err != nil {
			return fmt.Errorf("server.address %q: %w", a.cfg.ServerAddress, err)
		}
		if a.tls, err = mtls.Client(a.cfg.TLSCA, a.cfg.TLSCert, a.cfg.TLSKey, host); err != nil {
			return fmt.Errorf("%w: %w", ErrTLS, err)
		}
	}
	switch {
	case a.bets != nil:
		return nil
	case a.Single != nil:
		bet := *a.Single
		bet.Agency = a.cfg.ID
		return lottery.Validate(bet)
	}
	return betcsv.CheckAgencyFile(a.cfg.DataFile, a.cfg.ID)
}
