package server

import (
	"context"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// toldWaiting is what a connection's held winners queries told the
// agency: the count of notified agencies last told (-1 before any), and
// when. The teller owns it (under its mutex).
type toldWaiting struct {
	count int
	at    time.Time
}

// waitingPerAgency paces the Waiting frames with the agencies expected:
// a connection is told at most once per this many agencies' worth of
// time (10 s at 10,000 agencies), so that the central sends about a
// thousand Waiting frames a second at most, however many agencies wait.
const waitingPerAgency = time.Millisecond

// tellerGap is the least time between two of the teller's passes over
// the held queries: changes closer together are told as one.
const tellerGap = 50 * time.Millisecond

// teller tells the agencies of held winners queries what the draw waits
// for (protocol.Waiting), each time the count of notified agencies
// differs from what their connection was last told, but for the count
// that completes it (the draw is then being held, and the next frame is
// the winners). Tells are paced: at least every apart, or
// waitingPerAgency per agency expected, and then the newest count. One
// goroutine (run) serves every held query: a goroutine each would be
// 10,000 more stacks to keep and for the collector to scan at 10,000
// agencies, all waiting at once.
type teller struct {
	central  *lottery.Central
	every    time.Duration
	deadline time.Time // DRAW_DEADLINE, told with the counts

	mu   sync.Mutex
	held map[*conn]struct{} // the connections whose query is held
	// wake tells run that a query began to be held that is due later,
	// which run's timer may not cover.
	wake chan struct{}
}

func newTeller(central *lottery.Central, every time.Duration, deadline time.Time) *teller {
	return &teller{central: central, every: every, deadline: deadline, held: make(map[*conn]struct{}), wake: make(chan struct{}, 1)}
}

// hold tells c's agency, at once, what the draw waits for, unless its
// connection was told that already, and then each change until the
// returned release is called. After release nothing more is queued for
// c, so that the hold's answer (Winners or NotYet) is the last frame of
// it. Only for connections of version 3 and later (protocol.Has).
func (t *teller) hold(c *conn) (release func()) {
	notified, drawn, _ := t.central.StatusChanged()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.held[c] = struct{}{}
	if !drawn && !t.tell(c, notified, t.central.Agencies(), time.Now()).IsZero() {
		select {
		case t.wake <- struct{}{}:
		default: // run is woken already
		}
	}
	return func() {
		t.mu.Lock()
		delete(t.held, c)
		t.mu.Unlock()
	}
}

// run tells the held queries of each change, until ctx is done.
func (t *teller) run(ctx context.Context) {
	for {
		_, _, changed := t.central.StatusChanged() // before the pass: no change is missed
		next := t.pass(time.Now())
		var due <-chan time.Time
		if !next.IsZero() {
			due = time.After(time.Until(next))
		}
		select {
		case <-changed:
		case <-due:
		case <-t.wake:
		case <-ctx.Done():
			return
		}
		if !pause(tellerGap, ctx.Done()) {
			return
		}
	}
}

// pass tells each held query that is due, and returns when the next one
// not yet told the newest count will be (zero if none).
func (t *teller) pass(now time.Time) (next time.Time) {
	notified, drawn, _ := t.central.StatusChanged()
	if drawn {
		return time.Time{} // the answers are the winners
	}
	expected := t.central.Agencies()
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.held {
		if due := t.tell(c, notified, expected, now); !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// tell queues, without waiting, a Waiting for c where it is due, and
// returns when to try again where it was not told the newest count (zero
// otherwise). The caller holds t.mu.
func (t *teller) tell(c *conn, notified, expected int, now time.Time) (retry time.Time) {
	if notified == c.told.count || notified >= expected {
		return time.Time{}
	}
	if due := c.told.at.Add(max(t.every, time.Duration(expected)*waitingPerAgency)); now.Before(due) {
		return due
	}
	w := protocol.WaitingUntil(expected, notified, t.deadline)
	select {
	case c.replies <- reply{msgs: []protocol.Message{w}}:
		c.told = toldWaiting{count: notified, at: now}
		return time.Time{}
	default: // its replies are full: not now
		return now.Add(tellerGap)
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
