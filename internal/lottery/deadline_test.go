package lottery

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// checkDeadlineDraw checks a central after sales closed with agencies 1
// and 2 notified and agency 3 absent: every agency's stored bets are in
// the draw, the absent one is answered its winners (none: its one bet does
// not win), and a new bet or notification of it is refused.
func checkDeadlineDraw(t *testing.T, c *Central, l *fakeLedger) {
	t.Helper()
	want := Result{
		Agencies: 3, Bets: 7, Winners: 4, WinnersDigest: WinnersDigest(wantWinners, 3),
		Digest: DrawDigest([]Digest{digestOf(l.bets, 1), digestOf(l.bets, 2), digestOf(l.bets, 3)}),
	}
	if got, ok := l.Recorded(); !ok || got != want || l.records != 1 {
		t.Errorf("recorded %+v (%v, %d records), want %+v once", got, ok, l.records, want)
	}
	for a := 1; a <= 3; a++ {
		got, d, err := c.Winners(boundedCtx(t), a)
		if err != nil || d != want.Digest || !slices.Equal(got, wantWinners[a]) {
			t.Errorf("Winners(%d) = %v, %s, %v; want %v with the draw's digest", a, got, d, err, wantWinners[a])
		}
	}
	if _, _, err := c.Submit(3, 1, someBets(3, 1, 1)).Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("a new bet of the absent agency = %v, want ErrClosed", err)
	}
	if _, err := c.Notify(context.Background(), 3, l.total(3)); !errors.Is(err, ErrClosed) {
		t.Errorf("a late notification = %v, want ErrClosed", err)
	}
	for _, call := range l.notifyCalls() {
		if call.agency == 3 {
			t.Errorf("the late notification reached the ledger: %+v", call)
		}
	}
	if d, err := c.Notify(context.Background(), 1, l.total(1)); err != nil || d != digestOf(l.bets, 1) {
		t.Errorf("agency 1 notifying again = %s, %v; want its digest, as the first time", d, err)
	}
}

// TestCentralDeadlineWhileWaiting: the deadline passes while the central
// waits for agency 3; the draw is held with every stored bet, agency 3's
// included, a query held for the draw is answered, and agency 3 is told
// absent.
func TestCentralDeadlineWhileWaiting(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(3)}
	events := &recorder{}
	c, err := NewCentral(t.Context(), l, 3, events)
	if err != nil {
		t.Fatal(err)
	}
	for a := 1; a <= 2; a++ {
		if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
			t.Fatal(err)
		}
	}
	held := make(chan error, 1)
	go func() {
		got, _, err := c.Winners(boundedCtx(t), 1)
		if err == nil && !slices.Equal(got, wantWinners[1]) {
			t.Errorf("held query answered %v, want %v", got, wantWinners[1])
		}
		held <- err
	}()
	c.CloseSalesAt(time.Now().Add(50 * time.Millisecond))
	if c.Drawn() {
		t.Fatal("drawn before the deadline")
	}
	if err := <-held; err != nil {
		t.Fatalf("held query: %v", err)
	}
	if got, want := events.list(), []string{"notified 1 3", "notified 2 3", "drawn 7 4 absent [3]"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	checkDeadlineDraw(t, c, l)

	// Started again, the central answers from the record: the same
	// result, the same absent agency, nothing recorded again.
	l.notified = []int{1, 2}
	events = &recorder{}
	c, err = NewCentral(t.Context(), l, 3, events)
	if err != nil {
		t.Fatalf("NewCentral after a deadline draw: %v", err)
	}
	if !c.Drawn() {
		t.Fatal("not drawn after a restart")
	}
	if got, want := events.list(), []string{"drawn 7 4 absent [3]"}; !slices.Equal(got, want) {
		t.Errorf("events after the restart %q, want %q", got, want)
	}
	checkDeadlineDraw(t, c, l)
}

// TestCentralDeadlinePassedAtStart: a deadline already past holds the
// draw before CloseAt returns; an agency that stored nothing is in it
// with the empty digest and answered no winners.
func TestCentralDeadlinePassedAtStart(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(2)}
	events := &recorder{}
	c, err := NewCentral(t.Context(), l, 3, events)
	if err != nil {
		t.Fatal(err)
	}
	c.CloseSalesAt(time.Now().Add(-time.Hour))
	if !c.Drawn() {
		t.Fatal("a deadline in the past: not drawn when CloseAt returns")
	}
	if got, want := events.list(), []string{"drawn 6 4 absent [1 2 3]"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	r, _ := l.Recorded()
	if want := DrawDigest([]Digest{digestOf(l.bets, 1), digestOf(l.bets, 2), EmptyDigest}); r.Digest != want {
		t.Errorf("draw digest %s, want %s (agency 3's empty digest included)", r.Digest, want)
	}
	if got, _, err := c.Winners(boundedCtx(t), 3); err != nil || got != nil {
		t.Errorf("Winners(3) = %v, %v; want none", got, err)
	}
	checkWinners(t, c, 1)
	if _, _, err := c.Submit(1, 0, someBets(1, 0, 1)).Wait(context.Background()); err != nil {
		t.Errorf("a batch stored before = %v, want it acknowledged again", err)
	}
	if _, _, err := c.Submit(1, 3, someBets(1, 3, 1)).Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("a new bet after the deadline = %v, want ErrClosed", err)
	}
	c.CloseSalesAt(time.Now()) // again: nothing more
	if l.records != 1 {
		t.Errorf("%d draws recorded, want 1", l.records)
	}
}

// TestCentralDeadlineStoppedWithCentral: a deadline timer ends with the
// central's lifetime and holds no draw after it.
func TestCentralDeadlineStoppedWithCentral(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(3)}
	ctx, cancel := contextWithCancel(t)
	c, err := NewCentral(ctx, l, 3, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseSalesAt(time.Now().Add(30 * time.Millisecond))
	cancel()
	time.Sleep(100 * time.Millisecond)
	if c.Drawn() || l.records != 0 {
		t.Errorf("drawn %v, %d records after the central stopped; want no draw", c.Drawn(), l.records)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
