package ledgertest

import (
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// testEmptyLedger: new state holds no bets, no notification and no draw.
func testEmptyLedger(t *testing.T, h *harness) {
	h.checkHoldings(nil)
	if r, ok := h.l.Recorded(); ok {
		t.Errorf("Recorded of a new ledger: %v, want none", r)
	}
	if bets := h.loadBets(); len(bets) != 0 {
		t.Errorf("LoadBets of a new ledger yields %d bets, want none", len(bets))
	}
}

// testAppendDigest: an Append's receipt carries the agency's digest over
// every bet it has once the batch is stored, as lottery.Digest defines
// it: over the agency's bets before the batch too, not the batch's alone.
func testAppendDigest(t *testing.T, h *harness) {
	bets := makeBets(1, 0, 5)
	h.appendOK(1, 0, bets[:2])
	h.appendOK(1, 2, bets)
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
}

// testPositionsInOrder: an agency's bets are numbered from 0 in the order
// they are appended, each Append at the agency's next position, and
// agencies are numbered apart.
func testPositionsInOrder(t *testing.T, h *harness) {
	one, two := makeBets(1, 0, 7), makeBets(2, 0, 4)
	h.appendOK(1, 0, one[:3])
	h.appendOK(2, 0, two[:1])
	h.appendOK(1, 3, one[:4])
	h.appendOK(2, 1, two)
	h.appendOK(1, 4, one)
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: one, 2: two})
}

// testDigestIndependentOfBatching: an agency's digest depends on its bets
// and their order only, not on the batches they were appended in.
func testDigestIndependentOfBatching(t *testing.T, h *harness) {
	one, two := makeBets(1, 0, 9), makeBets(2, 0, 9)
	h.appendOK(1, 0, one)
	from := 0
	for _, end := range []int{1, 2, 6, 9} {
		h.appendOK(2, uint64(from), two[:end])
		from = end
	}
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(one, false), 2: holding(two, false)})
}

// testStaleAppendRefused: an Append at a position the agency has stored
// already is refused, and stores nothing: the central acknowledges a
// batch sent again itself, so a ledger that gets one was written by
// another central, or by a bug.
func testStaleAppendRefused(t *testing.T, h *harness) {
	tests := []struct {
		name string
		from uint64
		n    int
	}{
		{"sent again", 0, 5},
		{"overlapping", 3, 4},
		{"last bet again", 4, 1},
	}
	bets := makeBets(1, 0, 5)
	h.appendOK(1, 0, bets)
	for _, tt := range tests {
		h.mustFail("Append "+tt.name, h.l.Append(1, tt.from, makeBets(1, int(tt.from), tt.n)))
	}
	want := map[int][]lottery.Bet{1: bets}
	h.checkBets(h.loadBets(), want)
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(bets, false)})
	h.checkBets(h.loadBets(), want)
}

// testGappedAppendRefused: an Append past the agency's next position,
// which would leave a gap, is refused and stores nothing.
func testGappedAppendRefused(t *testing.T, h *harness) {
	bets := makeBets(1, 0, 5)
	h.appendOK(1, 0, bets)
	h.mustFail("Append past the next position", h.l.Append(1, 6, makeBets(1, 6, 2)))
	h.mustFail("Append of a new agency past 0", h.l.Append(2, 1, makeBets(2, 1, 2)))
	want := map[int][]lottery.Bet{1: bets}
	h.checkBets(h.loadBets(), want)
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(bets, false)})
	h.checkBets(h.loadBets(), want)
}

// testNotifyDigest: a Notify's receipt carries the agency's digest over
// its bets, and a ledger opened again holds the agency as done.
func testNotifyDigest(t *testing.T, h *harness) {
	one, two := makeBets(1, 0, 4), makeBets(2, 0, 3)
	h.appendOK(1, 0, one)
	h.appendOK(2, 0, two)
	h.mustWait("Notify(1, 4)", h.l.Notify(1, 4), agencyDigest(one))
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(one, true), 2: holding(two, false)})
}

// testNotifyWithoutBets: an agency may notify having stored nothing: its
// digest is lottery.EmptyDigest, and it is held as done with no bets.
func testNotifyWithoutBets(t *testing.T, h *harness) {
	h.mustWait("Notify(3, 0)", h.l.Notify(3, 0), lottery.EmptyDigest)
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{3: {Done: true, Digest: lottery.EmptyDigest}})
	if bets := h.loadBets(); len(bets) != 0 {
		t.Errorf("LoadBets yields %d bets, want none", len(bets))
	}
}
