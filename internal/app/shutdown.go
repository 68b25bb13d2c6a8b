package app

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/server"
)

// ErrShutdownAbandoned is returned by Run, and by Close, when the shutdown's
// grace period (SERVER_SHUTDOWN_GRACE) ended before what it waited for: a
// request waiting for storage, the store's close. Close has said what in
// one line; the caller exits non-zero without saying it again.
var ErrShutdownAbandoned = errors.New("shutdown abandoned")

// storeCloseFloor is the least time the store is given to close, even
// once the grace period is over: a store whose writer is not stuck closes
// well within it (one fsync), so that a shutdown that gave up a request
// of a fake ledger (tests) still closes the store it has.
const storeCloseFloor = 500 * time.Millisecond

// beginShutdown notes when the shutdown began, once: the grace period
// counts from then.
func (m *Main) beginShutdown() {
	m.stopping.CompareAndSwap(0, time.Now().UnixNano())
}

// graceLeft is what remains of the shutdown's grace period, and at least
// storeCloseFloor.
func (m *Main) graceLeft() time.Duration {
	m.beginShutdown() // Close without Run: the grace counts from now
	ends := time.Unix(0, m.stopping.Load()).Add(m.cfg.ShutdownGrace)
	return max(time.Until(ends), storeCloseFloor)
}

// abandon takes Serve's error: where the server gave up requests at the
// end of its grace period, Close will say so, and Run returns
// ErrShutdownAbandoned.
func (m *Main) abandon(err error) error {
	var ab *server.AbandonError
	if !errors.As(err, &ab) {
		return err
	}
	m.abandoned = append(m.abandoned, ab.What())
	return fmt.Errorf("%w: %w", ErrShutdownAbandoned, err)
}

// tellAbandoned logs, in one line, what the shutdown abandoned, and
// returns ErrShutdownAbandoned; nil where it abandoned nothing. Nothing
// abandoned was acknowledged: an agency is answered only once its write
// is durable, and resends what it was not answered.
func (m *Main) tellAbandoned() error {
	if len(m.abandoned) == 0 {
		return nil
	}
	what := strings.Join(m.abandoned, "; ")
	m.abandoned = nil
	m.log.Error("shutdown", logging.Fail, "grace", m.cfg.ShutdownGrace, "abandoned", what,
		"nota", "nothing acknowledged is affected; the next start recovers the store")
	return fmt.Errorf("%w: %s", ErrShutdownAbandoned, what)
}
