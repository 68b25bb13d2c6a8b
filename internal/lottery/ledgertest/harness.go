package ledgertest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// harness is one case's state: the backend's instance and the ledger the
// case writes to, which Reopen replaces.
type harness struct {
	t       *testing.T
	backend Backend
	inst    *Instance
	l       lottery.Ledger
}

func newHarness(t *testing.T, b Backend) *harness {
	t.Helper()
	inst := b.Open(t)
	if inst == nil || inst.Ledger == nil || inst.Reopen == nil {
		t.Fatal("Backend.Open returned no ledger or no Reopen")
	}
	return &harness{t: t, backend: b, inst: inst, l: inst.Ledger}
}

// run runs f as a subtest of the case, over its own new state.
func (h *harness) run(name string, f func(t *testing.T, h *harness)) {
	h.t.Helper()
	h.t.Run(name, func(t *testing.T) { f(t, newHarness(t, h.backend)) })
}

// reopen opens the state again and writes to the new ledger from then on.
func (h *harness) reopen() {
	h.t.Helper()
	h.l = h.inst.Reopen()
	if h.l == nil {
		h.t.Fatal("Reopen returned no ledger")
	}
}

// breakNext makes the ledger's next write fail, or skips the case when
// the backend cannot.
func (h *harness) breakNext() {
	h.t.Helper()
	if h.inst.Break == nil {
		h.t.Skip("the backend has no Break hook")
	}
	h.inst.Break()
}

// receiptTimeout bounds every wait for a receipt: a receipt that never
// becomes ready fails the case rather than hanging the suite.
const receiptTimeout = time.Minute

// wait waits for r and returns its answer.
func (h *harness) wait(r lottery.Receipt) (lottery.Digest, error) {
	h.t.Helper()
	if r == nil {
		h.t.Fatal("the ledger returned a nil Receipt")
	}
	ctx, cancel := context.WithTimeout(context.Background(), receiptTimeout)
	defer cancel()
	d, err := r.Wait(ctx)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		h.t.Fatalf("a receipt was not ready after %v", receiptTimeout)
	}
	return d, err
}

// mustWait waits for r, which must succeed with digest want.
func (h *harness) mustWait(what string, r lottery.Receipt, want lottery.Digest) {
	h.t.Helper()
	d, err := h.wait(r)
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
	if d != want {
		h.t.Fatalf("%s: receipt digest %s, want %s", what, d, want)
	}
}

// mustFail waits for r, which must fail with an error that wraps
// lottery.ErrUnavailable.
func (h *harness) mustFail(what string, r lottery.Receipt) {
	h.t.Helper()
	_, err := h.wait(r)
	switch {
	case err == nil:
		h.t.Fatalf("%s: acknowledged, want refused", what)
	case !errors.Is(err, lottery.ErrUnavailable):
		h.t.Fatalf("%s: %v, want an error wrapping lottery.ErrUnavailable", what, err)
	}
}

// appendOK appends bets as agency's bets from on and waits for them; all
// holds every bet of the agency the ledger has once they are stored
// (all[:from] before), against which the receipt's digest is checked.
func (h *harness) appendOK(agency int, from uint64, all []lottery.Bet) {
	h.t.Helper()
	what := fmt.Sprintf("Append(agency %d, from %d, %d bets)", agency, from, len(all)-int(from))
	h.mustWait(what, h.l.Append(agency, from, all[from:]), agencyDigest(all))
}

// loadBets returns every bet LoadBets yields.
func (h *harness) loadBets() []lottery.Bet {
	h.t.Helper()
	var out []lottery.Bet
	for b, err := range h.l.LoadBets() {
		if err != nil {
			h.t.Fatalf("LoadBets after %d bets: %v", len(out), err)
		}
		out = append(out, b)
	}
	return out
}

// checkHoldings checks that the ledger holds exactly want. An agency the
// ledger holds nothing of may be missing from Holdings or held as the
// zero Holding with EmptyDigest.
func (h *harness) checkHoldings(want map[int]lottery.Holding) {
	h.t.Helper()
	got := h.l.Holdings()
	for _, a := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[a]; !ok && got[a] != (lottery.Holding{Digest: lottery.EmptyDigest}) {
			h.t.Errorf("Holdings: agency %d holds %+v, want nothing", a, got[a])
		}
	}
	for _, a := range slices.Sorted(maps.Keys(want)) {
		if got[a] != want[a] {
			h.t.Errorf("Holdings: agency %d holds %+v, want %+v", a, got[a], want[a])
		}
	}
}

// checkBets checks that bets holds exactly the bets of want, each
// agency's in position order (the order of want[agency]); how agencies
// interleave is the backend's.
func (h *harness) checkBets(bets []lottery.Bet, want map[int][]lottery.Bet) {
	h.t.Helper()
	got := make(map[int][]lottery.Bet)
	for _, b := range bets {
		got[b.Agency] = append(got[b.Agency], b)
	}
	for _, a := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[a]; !ok {
			h.t.Errorf("LoadBets yields %d bets of agency %d, want none", len(got[a]), a)
		}
	}
	for _, a := range slices.Sorted(maps.Keys(want)) {
		g, w := got[a], want[a]
		if len(g) != len(w) {
			h.t.Errorf("LoadBets yields %d bets of agency %d, want %d", len(g), a, len(w))
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				h.t.Errorf("LoadBets: agency %d bet %d is %+v, want %+v", a, i, g[i], w[i])
				break
			}
		}
	}
}

// holding is what a ledger holds of an agency that stored bets.
func holding(bets []lottery.Bet, done bool) lottery.Holding {
	return lottery.Holding{Bets: uint64(len(bets)), Done: done, Digest: agencyDigest(bets)}
}

// agencyDigest is an agency's digest over bets, its bets in position
// order, as lottery.Digest defines it: the SHA-256 of each bet's
// canonical row. It is written here again, apart from the backends' own
// rendering, as the definition's independent check.
func agencyDigest(bets []lottery.Bet) lottery.Digest {
	h := sha256.New()
	for _, b := range bets {
		h.Write(canonicalRow(b))
	}
	var d lottery.Digest
	h.Sum(d[:0])
	return d
}

// canonicalRow is bet's row in bets.csv:
// agency,first_name,last_name,document,birthdate,number and a newline,
// a text field in double quotes when it holds a comma, a double quote or
// a line break or starts with a space or a tab, a double quote inside
// written twice (RFC 4180, as Python's csv module writes it).
func canonicalRow(b lottery.Bet) []byte {
	fields := []string{strconv.Itoa(b.Agency), b.FirstName, b.LastName, b.Document, b.Birthdate, strconv.Itoa(b.Number)}
	for i, f := range fields {
		if strings.ContainsAny(f, ",\"\r\n") || strings.HasPrefix(f, " ") || strings.HasPrefix(f, "\t") {
			fields[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
	}
	return []byte(strings.Join(fields, ",") + "\n")
}

// makeBets returns n distinct valid bets of agency, its bets number
// start..start+n-1. Every tenth wins, so that a draw has winners.
func makeBets(agency, start, n int) []lottery.Bet {
	out := make([]lottery.Bet, n)
	for i := range out {
		p := start + i
		number := p % lottery.MaxNumber
		if p%10 == 3 {
			number = lottery.LotteryWinnerNumber
		}
		out[i] = lottery.Bet{
			Agency:    agency,
			FirstName: "Nombre",
			LastName:  fmt.Sprintf("Apellido%d", p),
			Document:  strconv.Itoa(30000000 + agency*100000 + p),
			Birthdate: "1990-05-17",
			Number:    number,
		}
	}
	return out
}
