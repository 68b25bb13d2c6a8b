package client

import (
	"context"
	"iter"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Observer is told how an agency's upload goes. The load generator
// measures through it; cmd/client's progress bar, on a terminal, shows
// it.
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

// Option changes where an agency's bets come from, how they are sent or
// how the agency reconnects (see New). The load generator drives many
// agencies of the real client code in one process through them, and
// cmd/client its single-bet mode and progress bar.
type Option func(*Agency)

// WithSingleBet makes bet the agency's one bet instead of the data file:
// the single-bet mode of NOMBRE, APELLIDO, ... (SingleBetFromEnv). The
// bet is checked before the first connection. With a nil bet the agency
// sends its data file.
func WithSingleBet(bet *lottery.Bet) Option {
	return func(a *Agency) { a.single = bet }
}

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

// WithBackoff sets the first wait before reconnecting, which doubles up
// to maxWait, with jitter; tests shorten them.
func WithBackoff(first, maxWait time.Duration) Option {
	return func(a *Agency) { a.backoff, a.maxBackoff = first, maxWait }
}

// WithResolver makes lookup how the agency finds a name's addresses, in
// place of net.DefaultResolver.LookupHost: each name of server.address is
// looked up at each round of its addresses, and one with several
// addresses is several replicas, tried in turn. Tests give a name the
// addresses of their listeners through it.
func WithResolver(lookup func(ctx context.Context, host string) ([]string, error)) Option {
	return func(a *Agency) { a.lookup = lookup }
}

// noObserver is the Observer of an agency that has none.
type noObserver struct{}

func (noObserver) OnAck(int, time.Duration) {}
func (noObserver) OnDone()                  {}
