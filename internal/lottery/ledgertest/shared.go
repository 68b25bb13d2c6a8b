package ledgertest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// shared returns the ledger as a lottery.SharedLedger and a second one
// over the same state, or skips the case for a ledger one central owns.
func (h *harness) shared() (lottery.SharedLedger, lottery.SharedLedger) {
	h.t.Helper()
	one, ok := h.l.(lottery.SharedLedger)
	if !ok || h.inst.Another == nil {
		h.t.Skip("not a lottery.SharedLedger with an Another hook: one central owns it")
	}
	two, ok := h.inst.Another().(lottery.SharedLedger)
	if !ok {
		h.t.Fatal("Another returned a ledger that is not a lottery.SharedLedger")
	}
	return one, two
}

// mustRefuse waits for r, which must fail with an error that wraps want.
func (h *harness) mustRefuse(what string, r lottery.Receipt, want error) {
	h.t.Helper()
	if _, err := h.wait(r); !errors.Is(err, want) {
		h.t.Fatalf("%s: %v, want an error wrapping %v", what, err, want)
	}
}

// state reads l's state, failing the case on an error.
func (h *harness) state(l lottery.SharedLedger) lottery.LedgerState {
	h.t.Helper()
	st, err := l.State(context.Background())
	if err != nil {
		h.t.Fatalf("State: %v", err)
	}
	return st
}

// testSharedWritesAfterFailure: a SharedLedger's write that fails changes
// nothing, and the ledger takes writes again at once, judged by what it
// holds.
func testSharedWritesAfterFailure(t *testing.T, h *harness) {
	if _, ok := h.l.(lottery.SharedLedger); !ok {
		t.Skip("not a lottery.SharedLedger: see NothingAfterFailure")
	}
	one := makeBets(1, 0, 6)
	h.appendOK(1, 0, one[:3])
	h.breakNext()
	h.mustFail("Append after Break", h.l.Append(1, 3, one[3:]))
	h.appendOK(1, 3, one)
	h.mustWait("Notify(1, 6)", h.l.Notify(1, 6), agencyDigest(one))
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(one, true)})
}

// testSharedSeesOthers: what one central writes, another reads at once
// through Holding and State; Holdings stays what the ledger held when
// opened.
func testSharedSeesOthers(t *testing.T, h *harness) {
	one, two := h.shared()
	bets := makeBets(2, 0, 4)
	h.mustWait("Append on the first", one.Append(2, 0, bets), agencyDigest(bets))
	h.mustWait("Notify on the first", one.Notify(2, 4), agencyDigest(bets))
	got, err := two.Holding(context.Background(), 2)
	if err != nil || got != holding(bets, true) {
		t.Fatalf("Holding(2) on the second: %+v, %v; want %+v", got, err, holding(bets, true))
	}
	if got, err := two.Holding(context.Background(), 3); err != nil || got != holding(nil, false) {
		t.Errorf("Holding(3) of an agency with nothing: %+v, %v; want %+v", got, err, holding(nil, false))
	}
	st := h.state(two)
	if st.Holdings[2] != holding(bets, true) || st.Closed || st.Recorded != nil || st.Notified(3) != 1 {
		t.Errorf("State on the second: %+v; want agency 2 done, one notified, sales open, no draw", st)
	}
}

// testSharedPositionOnce: two centrals write the same agency's positions
// at once: each position is stored once, and the writes that came second
// are refused with ErrConflict.
func testSharedPositionOnce(t *testing.T, h *harness) {
	one, two := h.shared()
	bets := makeBets(1, 0, 5)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, l := range []lottery.Ledger{one, two} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.wait(l.Append(1, 0, bets))
		}()
	}
	wg.Wait()
	switch {
	case (errs[0] == nil) == (errs[1] == nil):
		t.Fatalf("both writes at position 0 answered alike: %v, %v; want one stored, one ErrConflict", errs[0], errs[1])
	case !errors.Is(errs[0], lottery.ErrConflict) && !errors.Is(errs[1], lottery.ErrConflict):
		t.Fatalf("the refused write: %v, %v; want ErrConflict", errs[0], errs[1])
	}
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
}

// testSharedCloseSales: once CloseSales is acknowledged, no central's
// Append or Notify is taken (ErrClosed), and State says so.
func testSharedCloseSales(t *testing.T, h *harness) {
	one, two := h.shared()
	bets := makeBets(1, 0, 3)
	h.mustWait("Append", one.Append(1, 0, bets), agencyDigest(bets))
	if _, err := h.wait(two.CloseSales()); err != nil {
		t.Fatalf("CloseSales: %v", err)
	}
	if _, err := h.wait(one.CloseSales()); err != nil {
		t.Fatalf("CloseSales again: %v", err)
	}
	h.mustRefuse("Append after CloseSales", one.Append(1, 3, makeBets(1, 3, 1)), lottery.ErrClosed)
	h.mustRefuse("Notify after CloseSales", two.Notify(1, 3), lottery.ErrClosed)
	if st := h.state(one); !st.Closed || st.Holdings[1] != holding(bets, false) {
		t.Errorf("State after CloseSales: %+v; want closed, agency 1's 3 bets", st)
	}
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
}

// testSharedAppendAfterNotify: a batch of an agency that another central
// has notified is a write that notification made moot (ErrConflict): a
// central's queued write that the ledger takes late, after an outage, must
// not read as sales closed (ErrClosed), which would have that central
// hold the draw without the agencies still uploading.
func testSharedAppendAfterNotify(t *testing.T, h *harness) {
	one, two := h.shared()
	bets := makeBets(1, 0, 4)
	h.mustWait("Append", one.Append(1, 0, bets[:3]), agencyDigest(bets[:3]))
	h.mustWait("Notify", one.Notify(1, 3), agencyDigest(bets[:3]))
	h.mustRefuse("Append of stored bets after Notify", two.Append(1, 0, bets[:3]), lottery.ErrConflict)
	h.mustRefuse("Append of new bets after Notify", two.Append(1, 3, bets[3:]), lottery.ErrConflict)
	if st := h.state(two); st.Closed || st.Holdings[1] != holding(bets[:3], true) {
		t.Errorf("State: %+v; want sales open, agency 1 done with its 3 bets", st)
	}
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets[:3]})
}

// testSharedDrawOnce: the draw is recorded once: a second RecordDraw or
// RecordDecision, of any central, is refused with ErrConflict, and every
// central reads the first, with the winners recorded with it.
func testSharedDrawOnce(t *testing.T, h *harness) {
	one, two := h.shared()
	bets := makeBets(1, 0, 3)
	h.mustWait("Append", one.Append(1, 0, bets), agencyDigest(bets))
	h.mustWait("Notify", one.Notify(1, 3), agencyDigest(bets))
	r := h.decide(1)
	if w, err := two.Winners(context.Background()); err != nil || w != nil {
		t.Fatalf("Winners before the draw: %v, %v; want none", w, err)
	}
	winners := map[int][]string{1: {bets[0].Document, bets[2].Document}}
	h.mustWait("RecordDecision", one.RecordDecision(r, winners), r.Digest)
	h.mustRefuse("RecordDraw on the second", two.RecordDraw(r), lottery.ErrConflict)
	h.mustRefuse("RecordDecision on the second", two.RecordDecision(r, nil), lottery.ErrConflict)
	if st := h.state(two); st.Recorded == nil || *st.Recorded != r {
		t.Errorf("State.Recorded on the second: %v, want %v", st.Recorded, r)
	}
	if got, err := two.Winners(context.Background()); err != nil || len(got) != 1 || !slices.Equal(got[1], winners[1]) {
		t.Errorf("Winners on the second: %v, %v; want %v, as recorded", got, err, winners)
	}
}

// testSharedHoldDraw: one central at a time has the right to hold the
// draw; released, another takes it.
func testSharedHoldDraw(t *testing.T, h *harness) {
	one, two := h.shared()
	ctx := context.Background()
	release, ok, err := one.HoldDraw(ctx)
	if err != nil || !ok {
		t.Fatalf("HoldDraw on the first: %v, %v; want it held", ok, err)
	}
	if _, ok, err := two.HoldDraw(ctx); err != nil || ok {
		t.Fatalf("HoldDraw on the second while the first holds it: %v, %v; want refused", ok, err)
	}
	release()
	release2, ok, err := two.HoldDraw(ctx)
	if err != nil || !ok {
		t.Fatalf("HoldDraw on the second after the first released it: %v, %v; want it held", ok, err)
	}
	release2()
}
