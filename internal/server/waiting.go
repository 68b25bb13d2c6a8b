package server

import (
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// tellWaiting tells the agency of a held winners query what the draw
// waits for: once now, unless the draw is held, and again when the count
// of notified agencies changes (lottery.Central.StatusChanged), at most
// once per Settings.WaitingEvery and then the newest count, until the
// returned stop is called. stop returns once nothing more will be sent,
// so that the hold's answer (Winners or NotYet) is the last frame of it.
// Only for connections of version 3 and later (protocol.Has).
func (c *conn) tellWaiting() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		told := -1
		for {
			notified, drawn, changed := c.srv.central.StatusChanged()
			if drawn {
				return // the answer is the winners
			}
			// Once every agency has notified the draw is being held: the
			// next frame is the winners.
			if expected := c.srv.central.Agencies(); notified != told && notified < expected {
				w := protocol.WaitingUntil(expected, notified, c.srv.settings.DrawDeadline)
				select {
				case c.replies <- reply{msgs: []protocol.Message{w}}:
					told = notified
				case <-done:
					return
				}
				if !pause(c.srv.settings.WaitingEvery, done) {
					return
				}
				continue // the count may have changed meanwhile
			}
			select {
			case <-changed:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// pause waits for d, and reports false if done closed first.
func pause(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// declare records an agency's declared total, for operators only: the
// central decides nothing by it (Done's total is the one that counts).
func (c *conn) declare(m protocol.Declare) {
	c.srv.mu.Lock()
	c.srv.seen(c.agency).Declared = m.Total
	c.srv.mu.Unlock()
	c.srv.log.Info("declaracion", logging.Success, "agencia", c.agency, "apuestas", m.Total, "digest", m.Digest.String())
}
