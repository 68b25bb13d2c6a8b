// Package client is the agency ("agencia de quiniela"): it uploads its
// bets to the central in batches, several in flight at once, tells the
// central when it is done and asks for its winners. It survives a central
// that restarts or a connection that breaks: it reconnects with
// exponential backoff and jitter, resumes from the count of bets the
// central has committed, and never sends a bet the central already holds.
// Where the central has replicas over one database (several addresses in
// server.address), it moves to the next one at once (route.go).
//
// It trusts the central's count only once it has checked the central's
// digest of those bets against its own (PROTOCOL.md, section 4), and
// checks the digest of all of them when the central acknowledges its
// done notification: a central that holds other bets than the agency's
// file stops the agency, with one verificacion line naming both digests.
package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// Window is how many batches an agency keeps in flight: enough to keep
// the central's group commit fed while one batch is being synced.
const Window = 16

// Agency is one agency's run. It is configured once, by New, and has no
// fields to set after it.
type Agency struct {
	cfg config.Client
	log *slog.Logger

	// Where the bets come from: bets (WithSource), else single
	// (WithSingleBet), else, both nil, the data file.
	bets   func() iter.Seq2[lottery.Bet, error]
	single *lottery.Bet

	pace                func(bets int)                                           // nil: send at once
	lookup              func(ctx context.Context, host string) ([]string, error) // a name's addresses
	observer            Observer
	backoff, maxBackoff time.Duration // the first wait before reconnecting, and the longest
	tls                 *tls.Config   // mutual TLS, loaded by preflight; nil: plaintext
	composeGrace        time.Duration // see composeDefault; tests shorten it
	waitEvery           time.Duration // see waitReport; tests shorten it

	// What a run learns as it goes: the protocol version it speaks
	// (protocol.Version, until a central refuses it: downgrade), its
	// total and digest as read before the first connection (count; nil
	// when not declared), and how many connections the central welcomed.
	version  uint16
	declared *protocol.Declare
	kept     [][]lottery.Bet // all the bets, as count read them, for a small file (keep)
	sessions int
}

// New returns the agency described by cfg, changed by opts.
//
// The configuration has one shape. cfg holds the agency's settings, all
// that an operator sets in config.yaml or CLI_* (config.LoadClient):
// its id, the central, timeouts, files, TLS. opts are what a program
// passes in code rather than an operator sets: where the bets come from
// when not the data file (WithSingleBet, WithSource), and the seams that
// tools and tests drive the real client code through (WithObserver,
// WithPace, WithBackoff, WithResolver). Without options an agency sends its data file,
// as fast as the central takes it, and reconnects after 50ms, doubling up
// to 2s.
func New(cfg config.Client, log *slog.Logger, opts ...Option) *Agency {
	a := &Agency{
		cfg: cfg, log: log, backoff: 50 * time.Millisecond, maxBackoff: 2 * time.Second,
		observer: noObserver{}, lookup: net.DefaultResolver.LookupHost, composeGrace: composeGrace,
		waitEvery: waitEvery, version: protocol.Version,
	}
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
	// CutOff says that sales closed (DRAW_DEADLINE) before the agency
	// notified: the draw took its Sent bets, and Winners are among them;
	// Left more bets of its file took no part in it.
	CutOff bool
	Left   uint64
}

// preflight checks, before the first connection, what no reconnection
// can fix, so that the agency fails at once instead of retrying for
// retry.timeout: an id that no central takes (and that would not survive
// the wire's 32 bits), a winners.file that could not be written
// (checkWinnersFile), a data file that does not open or whose first bet
// does not read, a single bet that is not valid. The pass over the data
// file that checks it also counts the agency's bets, for its Declare.
func (a *Agency) preflight() error {
	if a.cfg.ID < 1 || a.cfg.ID > lottery.MaxAgencies {
		return fmt.Errorf("agency id %d is outside 1..%d", a.cfg.ID, lottery.MaxAgencies)
	}
	if err := checkWinnersFile(a.cfg.WinnersFile, a.cfg.DataFile); err != nil {
		return err
	}
	if a.cfg.TLS() {
		// Each replica's certificate is checked for its own name
		// (handshake); the first is the configuration's.
		first := a.cfg.Addresses()[0]
		host, _, err := net.SplitHostPort(first)
		if err != nil {
			return fmt.Errorf("server.address %q: %w", first, err)
		}
		if a.tls, err = mtls.Client(a.cfg.TLSCA, a.cfg.TLSCert, a.cfg.TLSKey, host); err != nil {
			return fmt.Errorf("%w: %w", ErrTLS, err)
		}
	}
	if a.single != nil {
		bet := *a.single
		bet.Agency = a.cfg.ID
		if err := lottery.Validate(bet); err != nil {
			return err
		}
	}
	var err error
	a.declared, err = a.count()
	return err
}
