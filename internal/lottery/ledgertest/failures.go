package ledgertest

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// write is one write of an agency made by a case, for checking what a
// ledger opened after a failure holds of the agency.
type write struct {
	what    string
	agency  int
	bets    []lottery.Bet // the agency's bets once the write is stored
	done    bool          // whether the agency has notified once it is stored
	receipt lottery.Receipt
	acked   bool // its receipt was ready without an error
}

// appendW appends all[from:] as agency's bets from on, without waiting.
func (h *harness) appendW(agency int, from uint64, all []lottery.Bet) *write {
	return &write{what: fmt.Sprintf("Append(%d, %d, %d bets)", agency, from, len(all)-int(from)),
		agency: agency, bets: all, receipt: h.l.Append(agency, from, all[from:])}
}

// notifyW notifies agency, whose bets are all, without waiting.
func (h *harness) notifyW(agency int, all []lottery.Bet) *write {
	return &write{what: fmt.Sprintf("Notify(%d, %d)", agency, len(all)),
		agency: agency, bets: all, done: true, receipt: h.l.Notify(agency, uint64(len(all)))}
}

// settle waits for every write and records which were acknowledged. A
// write that failed must say so with lottery.ErrUnavailable.
func (h *harness) settle(writes []*write) {
	h.t.Helper()
	for _, w := range writes {
		d, err := h.wait(w.receipt)
		switch {
		case err == nil && d != agencyDigest(w.bets):
			h.t.Errorf("%s: digest %s, want %s", w.what, d, agencyDigest(w.bets))
		case err == nil:
			w.acked = true
		default:
			h.mustFail(w.what, w.receipt)
		}
	}
}

// checkWrites checks what the ledger holds against writes, every write
// made since its state was new, in the order they were made: of each
// agency it holds what the agency's writes up to one of them stored
// (its bets, in order, and whether it notified), and that one is at or
// after its last acknowledged write. Nothing acknowledged is lost, a
// failed write is stored whole or not at all, and no write is stored
// without every earlier write of its agency.
func (h *harness) checkWrites(writes []*write) {
	h.t.Helper()
	per := make(map[int][]*write)
	for _, w := range writes {
		per[w.agency] = append(per[w.agency], w)
	}
	held, bets := h.l.Holdings(), byAgency(h.loadBets())
	for a, got := range held {
		if _, ok := per[a]; !ok && got != (lottery.Holding{Digest: lottery.EmptyDigest}) {
			h.t.Errorf("Holdings: agency %d holds %+v, but was never written", a, got)
		}
	}
	for _, a := range slices.Sorted(maps.Keys(per)) {
		got, ok := held[a]
		if !ok {
			got.Digest = lottery.EmptyDigest
		}
		ws, last := per[a], -1
		for i, w := range ws {
			if w.acked {
				last = i
			}
		}
		matches := func(w *write) bool {
			return got == holding(w.bets, w.done) && slices.Equal(bets[a], w.bets)
		}
		found := last == -1 && got == (lottery.Holding{Digest: lottery.EmptyDigest}) && len(bets[a]) == 0
		for i := max(last, 0); i < len(ws) && !found; i++ {
			found = matches(ws[i])
		}
		if !found {
			h.t.Errorf("agency %d: holds %+v and %d bets; want what its writes up to one at or after its last acknowledged one stored (%d acknowledged of %d)",
				a, got, len(bets[a]), last+1, len(ws))
		}
	}
}

// byAgency groups bets by agency, keeping their order.
func byAgency(bets []lottery.Bet) map[int][]lottery.Bet {
	out := make(map[int][]lottery.Bet)
	for _, b := range bets {
		out[b.Agency] = append(out[b.Agency], b)
	}
	return out
}

// testFailedWriteIsErrUnavailable: a write that fails, of any kind, fails
// its receipt with an error that wraps lottery.ErrUnavailable, and is
// stored whole or not at all.
func testFailedWriteIsErrUnavailable(t *testing.T, h *harness) {
	h.run("Append", func(t *testing.T, h *harness) {
		bets := makeBets(1, 0, 5)
		h.appendOK(1, 0, bets[:3])
		h.breakNext()
		w := h.appendW(1, 3, bets)
		h.mustFail(w.what, w.receipt)
		h.reopen()
		h.checkWrites([]*write{{agency: 1, bets: bets[:3], acked: true}, w})
	})
	h.run("Notify", func(t *testing.T, h *harness) {
		bets := makeBets(1, 0, 3)
		h.appendOK(1, 0, bets)
		h.breakNext()
		w := h.notifyW(1, bets)
		h.mustFail(w.what, w.receipt)
		h.reopen()
		h.checkWrites([]*write{{agency: 1, bets: bets, acked: true}, w})
	})
	h.run("RecordDraw", func(t *testing.T, h *harness) {
		bets := makeBets(1, 0, 3)
		h.appendOK(1, 0, bets)
		h.mustWait("Notify(1, 3)", h.l.Notify(1, 3), agencyDigest(bets))
		r := h.decide(1)
		h.breakNext()
		h.mustFail("RecordDraw", h.l.RecordDraw(r))
		h.reopen()
		if got, ok := h.l.Recorded(); ok && got != r {
			t.Errorf("Recorded after a failed RecordDraw: %v, want none or %v", got, r)
		}
		h.checkHoldings(map[int]lottery.Holding{1: holding(bets, true)})
	})
}

// testNothingAfterFailure: once a write has failed, what the ledger
// holds is no longer known, and every later write fails too, of every
// agency, until the ledger is opened again: none of them is stored.
func testNothingAfterFailure(t *testing.T, h *harness) {
	if _, ok := h.l.(lottery.SharedLedger); ok {
		t.Skip("a SharedLedger's writes are transactions: it takes writes again after a failure (see SharedWritesAfterFailure)")
	}
	one := makeBets(1, 0, 6)
	h.appendOK(1, 0, one[:3])
	h.breakNext()
	failed := h.appendW(1, 3, one)
	h.mustFail(failed.what, failed.receipt)
	two := makeBets(2, 0, 2)
	h.mustFail("Append of another agency after a failure", h.l.Append(2, 0, two))
	h.mustFail("Append again after a failure", h.l.Append(1, 3, one[3:]))
	h.mustFail("Notify after a failure", h.l.Notify(3, 0))
	h.mustFail("RecordDraw after a failure", h.l.RecordDraw(lottery.Result{Agencies: 1, Bets: 3}))
	h.reopen()
	if r, ok := h.l.Recorded(); ok {
		t.Errorf("Recorded after reopen: %v, want none", r)
	}
	h.checkWrites([]*write{{agency: 1, bets: one[:3], acked: true}, failed})
	// A ledger opened again takes writes again, from what it holds.
	held := uint64(len(h.held(1)))
	h.appendOK(1, held, one)
	h.appendOK(2, 0, two)
}

// testOnlyAcknowledgedSurvivesReopen: after a failure among writes in
// flight, of several agencies, a ledger opened again holds every
// acknowledged write, and of each agency nothing it did not store in
// order (see checkWrites).
func testOnlyAcknowledgedSurvivesReopen(t *testing.T, h *harness) {
	one, two, four := makeBets(1, 0, 8), makeBets(2, 0, 6), makeBets(4, 0, 4)
	writes := []*write{h.appendW(1, 0, one[:2]), h.appendW(2, 0, two[:3]), h.notifyW(3, nil)}
	h.settle(writes)
	h.breakNext()
	writes = append(writes,
		h.appendW(1, 2, one[:5]), h.appendW(2, 3, two), h.appendW(1, 5, one),
		h.notifyW(2, two), h.appendW(4, 0, four), h.notifyW(1, one))
	h.settle(writes[3:])
	if !slices.ContainsFunc(writes[3:], func(w *write) bool { return !w.acked }) {
		t.Fatal("every write after Break was acknowledged: Break did not make the next one fail")
	}
	h.reopen()
	h.checkWrites(writes)
}

// held returns the bets of agency that the ledger yields.
func (h *harness) held(agency int) []lottery.Bet {
	h.t.Helper()
	return byAgency(h.loadBets())[agency]
}
