package server_test

import (
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// helloAt opens a session of agency at protocol version v.
func (c *rawConn) helloAt(agency int, v uint16) protocol.Welcome {
	c.t.Helper()
	c.send(protocol.Hello{Agency: uint32(agency), Version: v})
	w, ok := c.read().(protocol.Welcome)
	if !ok {
		c.t.Fatalf("hello of version %d not answered with welcome", v)
	}
	return w
}

// notifyEmpty notifies for agency, which has stored no bets, on a
// connection of its own.
func notifyEmpty(t *testing.T, ts *testServer, agency int) {
	t.Helper()
	c := dial(t, ts)
	c.helloAt(agency, protocol.Version)
	c.send(protocol.Done{Total: 0})
	if _, ok := c.read().(protocol.DoneAck); !ok {
		t.Fatalf("agency %d's done not acknowledged", agency)
	}
	c.nc.Close()
}

// heldQuery opens a session of agency 1 at this version, notifies with
// no bets and asks for its winners, which the central holds.
func heldQuery(t *testing.T, ts *testServer) *rawConn {
	t.Helper()
	c := dial(t, ts)
	c.helloAt(1, protocol.Version)
	c.send(protocol.Done{Total: 0}, protocol.WinnersQuery{})
	if _, ok := c.read().(protocol.DoneAck); !ok {
		t.Fatal("done not acknowledged")
	}
	return c
}

// readWaiting reads the next frame, which must be a Waiting with the
// counts given.
func (c *rawConn) readWaiting(expected, notified int) protocol.Waiting {
	c.t.Helper()
	m := c.read()
	w, ok := m.(protocol.Waiting)
	if !ok || w.Expected != expected || w.Notified != notified {
		c.t.Fatalf("got %#v, want Waiting %d of %d", m, notified, expected)
	}
	return w
}

// TestWaitingTold: an agency of version 3 whose winners query the
// central holds is told the count of notified agencies at once and at
// each change, with the draw's deadline, and then its winners.
func TestWaitingTold(t *testing.T) {
	ts := startServer(t, 3, withWinnersHold(20*time.Second), func(s *serverSetup) { s.cfg.DrawDeadline = "1h" })
	c := heldQuery(t, ts)
	w := c.readWaiting(3, 1)
	at, ok := w.Deadline()
	if left := time.Until(at); !ok || left < 50*time.Minute || left > time.Hour {
		t.Errorf("the deadline told is %v (%v from now), want DRAW_DEADLINE=1h from the start", at, left)
	}
	notifyEmpty(t, ts, 2)
	c.readWaiting(3, 2)
	notifyEmpty(t, ts, 3)
	if m, ok := c.read().(protocol.Winners); !ok || m.More {
		t.Fatalf("after the last notification got %#v, want the winners", m)
	}
}

// TestWaitingPaced: notifications that come faster than WaitingEvery
// are told as one, the newest count, WaitingEvery after the last tell:
// a held query is not told each of N agencies' notifications (N frames
// to each of N agencies).
func TestWaitingPaced(t *testing.T) {
	const every = 2 * time.Second
	ts := startServer(t, 10, withWinnersHold(20*time.Second), withWaitingEvery(every))
	c := heldQuery(t, ts)
	c.readWaiting(10, 1)
	first := time.Now()
	for agency := 2; agency <= 9; agency++ {
		notifyEmpty(t, ts, agency)
	}
	if took := time.Since(first); took >= every {
		t.Skipf("eight notifications took %v, not within the pacing's %v: nothing to tell", took, every)
	}
	c.readWaiting(10, 9)
	if gap := time.Since(first); gap < every-50*time.Millisecond {
		t.Errorf("the second Waiting came %v after the first, want at least %v", gap, every)
	}
	notifyEmpty(t, ts, 10)
	if m, ok := c.read().(protocol.Winners); !ok || m.More {
		t.Fatalf("after the last notification got %#v, want the winners", m)
	}
}

// TestWaitingNotRepeated: a query asked again after NotYet is not told
// the count its connection was told already; a new count is.
func TestWaitingNotRepeated(t *testing.T) {
	ts := startServer(t, 3, withWinnersHold(200*time.Millisecond), withWaitingEvery(50*time.Millisecond))
	c := heldQuery(t, ts)
	c.readWaiting(3, 1)
	for range 2 {
		if m := c.read(); m.Type() != protocol.TypeNotYet {
			t.Fatalf("got %#v, want NotYet (1 of 3 was told already)", m)
		}
		c.send(protocol.WinnersQuery{})
	}
	notifyEmpty(t, ts, 2)
	for {
		switch m := c.read().(type) {
		case protocol.NotYet:
			c.send(protocol.WinnersQuery{}) // the notification came between two holds
			continue
		case protocol.Waiting:
			if m.Notified != 2 {
				t.Fatalf("got %#v, want Waiting 2 of 3", m)
			}
		default:
			t.Fatalf("got %#v, want Waiting 2 of 3", m)
		}
		break
	}
}

// TestWaitingDueLater: a query held again before its connection may be
// told the count that changed while none was held is told it when due,
// with no other change to wake the teller.
func TestWaitingDueLater(t *testing.T) {
	const every, hold = 2 * time.Second, time.Second
	ts := startServer(t, 3, withWinnersHold(hold), withWaitingEvery(every))
	c := heldQuery(t, ts)
	c.readWaiting(3, 1)
	told := time.Now()
	if m := c.read(); m.Type() != protocol.TypeNotYet {
		t.Fatalf("got %#v, want NotYet", m)
	}
	notifyEmpty(t, ts, 2) // no query is held: the teller has no one to tell
	time.Sleep(time.Until(told.Add(every * 3 / 4)))
	if time.Since(told) >= every {
		t.Skip("the machine is too slow to ask again before the count is due")
	}
	c.send(protocol.WinnersQuery{})
	c.readWaiting(3, 2)
	if gap := time.Since(told); gap < every-50*time.Millisecond {
		t.Errorf("told 2 of 3 %v after 1 of 3, want at least %v", gap, every)
	}
}

// TestWaitingNoDeadline: without DRAW_DEADLINE the Waiting says none.
func TestWaitingNoDeadline(t *testing.T) {
	ts := startServer(t, 2, withWinnersHold(200*time.Millisecond))
	c := dial(t, ts)
	c.helloAt(1, protocol.Version)
	c.send(protocol.WinnersQuery{})
	if _, ok := c.readWaiting(2, 0).Deadline(); ok {
		t.Error("a Waiting with a deadline from a central with none")
	}
	if m, ok := c.read().(protocol.NotYet); !ok {
		t.Fatalf("the hold ended with %#v, want NotYet", m)
	}
}

// TestVersion2Agency: an agency of the previous version is served as
// before, sent neither Waiting nor anything else of version 3, and
// refused a Declare, which its version does not have.
func TestVersion2Agency(t *testing.T) {
	ts := startServer(t, 2, withWinnersHold(200*time.Millisecond))
	c := dial(t, ts)
	c.helloAt(1, protocol.MinVersion)
	c.send(protocol.Batch{First: 0, Bets: validBets(1, 2, 0)}, protocol.WinnersQuery{})
	if ack, ok := c.read().(protocol.Ack); !ok || ack.Committed != 2 {
		t.Fatalf("batch answered %#v, want Ack 2", ack)
	}
	if m := c.read(); m.Type() != protocol.TypeNotYet {
		t.Fatalf("a held query of version 2 answered %#v, want NotYet alone", m)
	}
	c.send(protocol.Declare{Total: 2})
	if e := c.expectError(protocol.CodeUnexpected); e.Message != "declare in a session of protocol 2" {
		t.Errorf("refused with %q", e.Message)
	}
	c.expectClosed()
	if d := ts.Server().Activity()[1].Declared; d != 0 {
		t.Errorf("Activity().Declared = %d after a refused Declare, want 0", d)
	}
}

// TestDeclare: a Declare has no answer, and the central keeps its total
// for operators only: a Done with another total is still what counts.
func TestDeclare(t *testing.T) {
	ts := startServer(t, 2)
	c := dial(t, ts)
	c.helloAt(1, protocol.Version)
	c.send(protocol.Declare{Total: 5}, protocol.Batch{First: 0, Bets: validBets(1, 2, 0)})
	if ack, ok := c.read().(protocol.Ack); !ok || ack.Committed != 2 {
		t.Fatalf("after a Declare the batch got %#v, want Ack 2: a Declare has no answer", ack)
	}
	if d := ts.Server().Activity()[1].Declared; d != 5 {
		t.Errorf("Activity().Declared = %d, want 5", d)
	}
	c.send(protocol.Done{Total: 2})
	if ack, ok := c.read().(protocol.DoneAck); !ok || ack.Total != 2 {
		t.Fatalf("done of 2 after declaring 5 got %#v, want DoneAck 2", ack)
	}
	if n := len(ts.log.lines("action: declaracion", "result: success", "agencia: 1", "apuestas: 5")); n != 1 {
		t.Errorf("%d declaracion lines, want 1; log:\n%s", n, ts.log)
	}
}
