package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// testAppendCopiesBets: Append keeps nothing of the slice it is given:
// the caller reuses it once Append returns, before the receipt is ready,
// and what is stored is what the slice held at the call.
func testAppendCopiesBets(t *testing.T, h *harness) {
	batch := makeBets(1, 0, 5)
	want := slices.Clone(batch)
	r := h.l.Append(1, 0, batch)
	copy(batch, makeBets(1, 100, 5))
	for i := range batch {
		batch[i].FirstName = "Reused"
	}
	h.mustWait("Append", r, agencyDigest(want))
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: want})
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(want, false)})
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: want})
}

// testManyBatchesSameAgency: many batches of one agency, of many sizes,
// each at the position the last left.
func testManyBatchesSameAgency(t *testing.T, h *harness) {
	const batches = 200
	var bets []lottery.Bet
	for i := range batches {
		from := len(bets)
		bets = append(bets, makeBets(1, from, i%13+1)...)
		h.appendOK(1, uint64(from), bets)
	}
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(bets, false)})
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
}

// testConcurrentAgencies: many agencies write at once, each from its own
// goroutine, as the central's connections do; each agency's receipts
// carry its own digests, whatever the others write.
func testConcurrentAgencies(t *testing.T, h *harness) {
	const agencies, batches, size = 8, 25, 4
	want := make(map[int][]lottery.Bet)
	for a := 1; a <= agencies; a++ {
		want[a] = makeBets(a, 0, batches*size)
	}
	var wg sync.WaitGroup
	for a := 1; a <= agencies; a++ {
		wg.Go(func() {
			for i := range batches {
				from := i * size
				d, err := h.l.Append(a, uint64(from), want[a][from:from+size]).Wait(context.Background())
				if err != nil || d != agencyDigest(want[a][:from+size]) {
					t.Errorf("agency %d batch %d: digest %s, error %v; want the digest of its %d bets", a, i, d, err, from+size)
					return
				}
			}
			if d, err := h.l.Notify(a, batches*size).Wait(context.Background()); err != nil || d != agencyDigest(want[a]) {
				t.Errorf("agency %d Notify: digest %s, error %v", a, d, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	h.checkBets(h.loadBets(), want)
	h.reopen()
	wantHeld := make(map[int]lottery.Holding)
	for a, bets := range want {
		wantHeld[a] = holding(bets, true)
	}
	h.checkHoldings(wantHeld)
	h.checkBets(h.loadBets(), want)
}

// testReceiptOrderPerAgency: an agency's writes take effect in the order
// they were made, whether or not the caller waits between them: each
// receipt carries the digest of the agency's bets up to its batch, so
// the last one ready means every earlier one is stored.
func testReceiptOrderPerAgency(t *testing.T, h *harness) {
	const batches = 40
	want := map[int][]lottery.Bet{1: makeBets(1, 0, 3*batches), 2: makeBets(2, 0, batches)}
	receipts := map[int][]lottery.Receipt{}
	for i := range batches {
		receipts[1] = append(receipts[1], h.l.Append(1, uint64(3*i), want[1][3*i:3*i+3]))
		receipts[2] = append(receipts[2], h.l.Append(2, uint64(i), want[2][i:i+1]))
	}
	last := h.l.Notify(1, 3*batches)
	h.mustWait("Notify(1) after its batches", last, agencyDigest(want[1]))
	for _, a := range []int{1, 2} {
		per := len(want[a]) / batches
		for i := batches - 1; i >= 0; i-- {
			what := fmt.Sprintf("agency %d batch %d", a, i)
			h.mustWait(what, receipts[a][i], agencyDigest(want[a][:(i+1)*per]))
		}
	}
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(want[1], true), 2: holding(want[2], false)})
	h.checkBets(h.loadBets(), want)
}

// testUnicodeAndQuotedNames: any name a central takes is stored as it was
// given, and its row, quoted where it must be, is what the digest covers.
func testUnicodeAndQuotedNames(t *testing.T, h *harness) {
	names := [][2]string{
		{"María José", "Núñez"},
		{"Ñandú", "Gómez-Pérez"},
		{"O'Brien", "Smith, Jr."},
		{`"Chiqui"`, `Di "el Tano" Stéfano`},
		{`a""b`, `x,"y",z`},
		{"Zoë", "Ελένη"},
		{"李", "小龍"},
		{`\.`, "Back\\slash"},
		{"Ünal", "İnan"},
	}
	var bets []lottery.Bet
	for i, n := range names {
		b := makeBets(1, i, 1)[0]
		b.FirstName, b.LastName = n[0], n[1]
		if err := lottery.Validate(b); err != nil {
			t.Fatalf("the suite's bet %+v is not one a central takes: %v", b, err)
		}
		bets = append(bets, b)
	}
	h.appendOK(1, 0, bets[:4])
	h.appendOK(1, 4, bets)
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
	h.reopen()
	h.checkHoldings(map[int]lottery.Holding{1: holding(bets, false)})
	h.checkBets(h.loadBets(), map[int][]lottery.Bet{1: bets})
}

// testAgencyNumbers: every agency number a lottery may have, up to
// lottery.MaxAgencies, is kept apart from the others.
func testAgencyNumbers(t *testing.T, h *harness) {
	agencies := []int{1, 2, 10, 1000, lottery.MaxAgencies}
	want := make(map[int][]lottery.Bet)
	held := make(map[int]lottery.Holding)
	for i, a := range agencies {
		want[a] = makeBets(a, 0, i+1)
		h.appendOK(a, 0, want[a])
		h.mustWait(fmt.Sprintf("Notify(%d)", a), h.l.Notify(a, uint64(i+1)), agencyDigest(want[a]))
		held[a] = holding(want[a], true)
	}
	h.reopen()
	h.checkHoldings(held)
	h.checkBets(h.loadBets(), want)
}

// testWaitRepeatable: a receipt may be waited for again, and from many
// goroutines at once, with the same answer each time: the central waits
// for an agency's last write whenever it is asked where the agency
// stands, and answers a batch sent again with the receipt of the last.
func testWaitRepeatable(t *testing.T, h *harness) {
	bets := makeBets(1, 0, 4)
	r := h.l.Append(1, 0, bets)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if d, err := r.Wait(context.Background()); err != nil || d != agencyDigest(bets) {
				t.Errorf("Wait from one of many goroutines: digest %s, error %v; want %s", d, err, agencyDigest(bets))
			}
		})
	}
	wg.Wait()
	h.mustWait("Wait once more", r, agencyDigest(bets))
}

// testWaitGivenUp: a wait whose context is done returns the write's
// answer, where it has one already, or the context's error, wrapped; the
// write goes on all the same, and is answered to the next wait and held
// after a reopen. A shutdown past its grace period gives up its waits
// this way, and must not lose what is being written.
func testWaitGivenUp(t *testing.T, h *harness) {
	bets := makeBets(1, 0, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := h.l.Append(1, 0, bets)
	d, err := r.Wait(ctx)
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		t.Fatalf("Wait with a done context: %v, want the write's answer or an error wrapping context.Canceled", err)
	case err == nil && d != agencyDigest(bets):
		t.Fatalf("Wait with a done context: digest %s, want %s", d, agencyDigest(bets))
	}
	h.mustWait("Wait after one given up", r, agencyDigest(bets))
	h.reopen()
	if got := h.l.Holdings()[1]; got.Bets != 3 || got.Digest != agencyDigest(bets) {
		t.Errorf("after a reopen: %+v, want the 3 bets", got)
	}
}
