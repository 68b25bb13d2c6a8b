package server

import (
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// toldWaiting is what a connection's held winners queries told the
// agency: the count of notified agencies last told (-1 before any), and
// when. Only the goroutine of tellWaiting that runs uses it; one runs at
// a time, each after the last has stopped.
type toldWaiting struct {
	count int
	at    time.Time
}

// waitingPerAgency paces the Waiting frames with the agencies expected:
// a held query is told at most once per this many agencies' worth of
// time (10 s at 10,000 agencies), so that the central sends about a
// thousand Waiting frames a second at most, however many agencies wait.
const waitingPerAgency = time.Millisecond

// tellWaiting tells the agency of a held winners query what the draw
// waits for, each time the count of notified agencies differs from what
// the connection last told (at once, the first time), but for the count
// that completes it (the draw is then being held, and the next frame is
// the winners), until the returned stop is called. Tells are paced: at
// least Settings.WaitingEvery apart, or waitingPerAgency per agency
// expected, and then the newest count. stop returns once nothing more
// will be sent, so that the hold's answer (Winners or NotYet) is the last
// frame of it. Only for connections of version 3 and later.
func (c *conn) tellWaiting() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			notified, drawn, changed := c.srv.central.StatusChanged()
			if drawn {
				return // the answer is the winners
			}
			expected := c.srv.central.Agencies()
			if notified == c.told.count || notified >= expected {
				select {
				case <-changed:
					continue
				case <-done:
					return
				}
			}
			every := max(c.srv.settings.WaitingEvery, time.Duration(expected)*waitingPerAgency)
			if wait := time.Until(c.told.at.Add(every)); wait > 0 {
				if !pause(wait, done) {
					return
				}
				continue // the count may have changed meanwhile
			}
			w := protocol.WaitingUntil(expected, notified, c.srv.settings.DrawDeadline)
			select {
			case c.replies <- reply{msgs: []protocol.Message{w}}:
				c.told = toldWaiting{count: notified, at: time.Now()}
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
