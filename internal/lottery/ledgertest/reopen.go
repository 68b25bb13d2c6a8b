package ledgertest

import (
	"context"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// testHoldingsAsOpened: Holdings and Recorded return what the ledger held
// when it was opened, whatever is written to it since, and the map
// Holdings returns is the caller's.
func testHoldingsAsOpened(t *testing.T, h *harness) {
	one := makeBets(1, 0, 6)
	h.appendOK(1, 0, one[:4])
	h.reopen()
	opened := map[int]lottery.Holding{1: holding(one[:4], false)}
	h.checkHoldings(opened)
	h.appendOK(1, 4, one)
	h.mustWait("Notify(1, 6)", h.l.Notify(1, 6), agencyDigest(one))
	h.appendOK(2, 0, makeBets(2, 0, 2))
	r := h.decide(2)
	h.mustWait("RecordDraw", h.l.RecordDraw(r), r.Digest)
	clear(h.l.Holdings())
	h.checkHoldings(opened)
	if got, ok := h.l.Recorded(); ok {
		t.Errorf("Recorded: %v, want none: the ledger held none when it was opened", got)
	}
}

// testHoldingsAfterReopen: a ledger opened again holds every agency's
// acknowledged bets, notification and digest.
func testHoldingsAfterReopen(t *testing.T, h *harness) {
	one, two, three := makeBets(1, 0, 5), makeBets(2, 0, 1), makeBets(3, 0, 12)
	h.appendOK(1, 0, one)
	h.appendOK(2, 0, two)
	h.appendOK(3, 0, three[:7])
	h.appendOK(3, 7, three)
	h.mustWait("Notify(2, 1)", h.l.Notify(2, 1), agencyDigest(two))
	want := map[int]lottery.Holding{1: holding(one, false), 2: holding(two, true), 3: holding(three, false)}
	h.reopen()
	h.checkHoldings(want)
	h.reopen()
	h.checkHoldings(want)
}

// testAppendAfterReopen: a ledger opened again carries on where the last
// one stopped: positions continue and the digest runs on over every bet.
func testAppendAfterReopen(t *testing.T, h *harness) {
	bets := makeBets(1, 0, 10)
	h.appendOK(1, 0, bets[:4])
	h.reopen()
	h.appendOK(1, 4, bets[:7])
	h.reopen()
	h.appendOK(1, 7, bets)
	h.mustWait("Notify(1, 10)", h.l.Notify(1, 10), agencyDigest(bets))
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(bets, true)})
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
}

// decide holds the draw over the ledger's bets of agencies
// 1..agencies, as lottery.Central does, and returns the result it
// records.
func (h *harness) decide(agencies int) lottery.Result {
	h.t.Helper()
	bets := h.loadBets()
	digests := make([]lottery.Digest, agencies)
	for a := range agencies {
		var mine []lottery.Bet
		for _, b := range bets {
			if b.Agency == a+1 {
				mine = append(mine, b)
			}
		}
		digests[a] = agencyDigest(mine)
	}
	r, _, err := lottery.Decide(context.Background(), h.l.LoadBets(), digests)
	if err != nil {
		h.t.Fatalf("Decide: %v", err)
	}
	return r
}

// testRecordDrawDigest: RecordDraw's receipt carries the result's digest.
func testRecordDrawDigest(t *testing.T, h *harness) {
	h.appendOK(1, 0, makeBets(1, 0, 20))
	h.mustWait("Notify(1, 20)", h.l.Notify(1, 20), agencyDigest(makeBets(1, 0, 20)))
	r := h.decide(1)
	if r.Winners == 0 {
		t.Fatalf("the suite's draw has no winners: %v", r)
	}
	h.mustWait("RecordDraw", h.l.RecordDraw(r), r.Digest)
}

// testRecordedAfterReopen: a ledger opened after a draw was recorded returns
// it from Recorded, every field as it was recorded.
func testRecordedAfterReopen(t *testing.T, h *harness) {
	one, two := makeBets(1, 0, 15), makeBets(2, 0, 4)
	h.appendOK(1, 0, one)
	h.appendOK(2, 0, two)
	h.mustWait("Notify(1, 15)", h.l.Notify(1, 15), agencyDigest(one))
	r := h.decide(3) // held at a deadline: agency 2 had not notified, 3 sent nothing
	h.mustWait("RecordDraw", h.l.RecordDraw(r), r.Digest)
	for range 2 {
		h.reopen()
		got, ok := h.l.Recorded()
		if !ok || got != r {
			t.Fatalf("Recorded after reopen: %v, %t; want %v", got, ok, r)
		}
		h.checkHoldings(map[int]lottery.Holding{1: holding(one, true), 2: holding(two, false)})
	}
}

// testWriteAfterDrawRefused: once the draw is recorded nothing more is
// written: a central opened again holds the draw again over the stored
// bets, and one bet more would make it refuse to start.
func testWriteAfterDrawRefused(t *testing.T, h *harness) {
	one := makeBets(1, 0, 3)
	h.appendOK(1, 0, one)
	h.mustWait("Notify(1, 3)", h.l.Notify(1, 3), agencyDigest(one))
	r := h.decide(2)
	h.mustWait("RecordDraw", h.l.RecordDraw(r), r.Digest)
	h.mustFail("Append after the draw", h.l.Append(2, 0, makeBets(2, 0, 1)))
	h.mustFail("Notify after the draw", h.l.Notify(2, 0))
	h.mustFail("RecordDraw after the draw", h.l.RecordDraw(r))
	h.reopen()
	if got, ok := h.l.Recorded(); !ok || got != r {
		t.Errorf("Recorded after reopen: %v, %t; want %v", got, ok, r)
	}
	h.checkHoldings(map[int]lottery.Holding{1: holding(one, true)})
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: one})
}

// testLoadBetsOrder: LoadBets yields every acknowledged bet once, each
// agency's in position order, from the ledger they were written to; a
// loop over it may stop early and run again.
func testLoadBetsOrder(t *testing.T, h *harness) {
	want := interleaved(h)
	for range h.l.LoadBets() {
		break
	}
	h.checkBets(h.loadBets(), want)
	h.checkBets(h.loadBets(), want)
}

// testLoadBetsAfterReopen: a ledger opened again yields the same bets.
func testLoadBetsAfterReopen(t *testing.T, h *harness) {
	want := interleaved(h)
	h.reopen()
	h.checkBets(h.loadBets(), want)
}

// interleaved appends batches of three agencies in turn and returns
// each agency's bets.
func interleaved(h *harness) map[int][]lottery.Bet {
	h.t.Helper()
	want := map[int][]lottery.Bet{1: makeBets(1, 0, 30), 2: makeBets(2, 0, 20), 3: makeBets(3, 0, 10)}
	for i := range 10 {
		for a := 1; a <= 3; a++ {
			n := (4 - a) * i
			h.appendOK(a, uint64(n), want[a][:n+4-a])
		}
	}
	return want
}
