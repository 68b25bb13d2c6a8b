// Package netguard keeps the central's listeners serving when its host
// runs short. An Accept that fails for a reason that passes (no file
// descriptor left, a connection aborted before it was accepted) is
// retried after a back-off, as net/http's Server.Serve does, instead of
// ending the server, and is said once per episode with a count rather than
// once per error; Limit caps the connections one listener holds open; and
// CheckFileLimit refuses a start whose file limit cannot hold what the
// central may open.
package netguard

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// The back-off after a temporary Accept error: MinBackoff after the first,
// doubling up to MaxBackoff, as net/http's Server.Serve waits. Any
// connection accepted starts it over.
const (
	MinBackoff = 5 * time.Millisecond
	MaxBackoff = time.Second
)

// SummaryEvery is how often an episode of Accept errors that does not
// end is said again, with the count since its last line: an operator
// sees that it goes on, at most one line per SummaryEvery.
const SummaryEvery = 10 * time.Second

// temporaryErrnos are the Accept errors that pass: the process or the
// system is out of descriptors or buffers for now, or a peer gave up
// before its connection was accepted.
var temporaryErrnos = []error{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
	syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN,
}

// Temporary reports whether an Accept error passes, so that the listener
// is worth accepting on again: one of temporaryErrnos, or a timeout.
// (net.Error's Temporary, which net/http asks, is deprecated.)
func Temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range temporaryErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Backoff returns ln whose Accept retries temporary errors (Temporary)
// after a back-off from MinBackoff doubling to MaxBackoff, and returns
// only a connection or an error that does not pass (ln closed). Each
// episode of errors is logged once, when a connection is accepted again
// or the listener closes, and every SummaryEvery while it lasts:
//
//	action: accept | result: fail | address: ... | error: accept4: too many open files | count: 212
//
// Close interrupts a back-off at once.
func Backoff(ln net.Listener, log *slog.Logger) net.Listener {
	return &backoffListener{Listener: ln, log: log, done: make(chan struct{}), now: time.Now}
}

type backoffListener struct {
	net.Listener
	log       *slog.Logger
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	now       func() time.Time

	mu    sync.Mutex
	count int       // errors since the episode's last line
	last  error     // the latest of them
	since time.Time // the episode's first error or its last line
}

func (l *backoffListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil || !Temporary(err) {
			l.settle()
			return c, err
		}
		delay = min(max(2*delay, MinBackoff), MaxBackoff)
		l.failed(err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.done: // the next Accept returns ln's closed error
			t.Stop()
		}
	}
}

// Close closes the listener, ending any back-off, and logs the episode
// that was going on.
func (l *backoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	err := l.Listener.Close()
	l.settle()
	return err
}

// failed counts err in the episode, and says it where the episode's last
// line is SummaryEvery old.
func (l *backoffListener) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.since.IsZero() {
		l.since = now
	}
	l.count++
	l.last = err
	if now.Sub(l.since) >= SummaryEvery {
		l.sayLocked()
		l.since = now
	}
}

// settle ends the episode, saying what it has not said yet.
func (l *backoffListener) settle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sayLocked()
	l.since = time.Time{}
}

// sayLocked logs the errors counted since the last line, if any. l.mu is
// held.
func (l *backoffListener) sayLocked() {
	if l.count == 0 {
		return
	}
	l.log.Error("accept", logging.Fail, "address", l.Addr().String(), "error", l.last.Error(), "count", l.count)
	l.count, l.last = 0, nil
}
