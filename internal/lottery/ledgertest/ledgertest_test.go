package ledgertest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// TestCanonicalRow checks the suite's rendering of a row against rows
// written out by hand, as bets.csv holds them.
func TestCanonicalRow(t *testing.T) {
	tests := []struct {
		first, last string
		want        string
	}{
		{"Ana", "Díaz", "7,Ana,Díaz,30111222,1990-05-17,7574\n"},
		{"O'Brien", "Smith, Jr.", "7,O'Brien,\"Smith, Jr.\",30111222,1990-05-17,7574\n"},
		{`"Chiqui"`, `a""b`, "7,\"\"\"Chiqui\"\"\",\"a\"\"\"\"b\",30111222,1990-05-17,7574\n"},
		{`\.`, "Ελένη", "7,\\.,Ελένη,30111222,1990-05-17,7574\n"},
	}
	for _, tt := range tests {
		b := lottery.Bet{Agency: 7, FirstName: tt.first, LastName: tt.last, Document: "30111222", Birthdate: "1990-05-17", Number: 7574}
		if got := string(canonicalRow(b)); got != tt.want {
			t.Errorf("canonicalRow(%q, %q) = %q, want %q", tt.first, tt.last, got, tt.want)
		}
	}
	if agencyDigest(nil) != lottery.EmptyDigest {
		t.Errorf("agencyDigest of no bets is not lottery.EmptyDigest")
	}
	b := makeBets(1, 0, 1)
	if got, want := agencyDigest(b), lottery.Digest(sha256.Sum256(canonicalRow(b[0]))); got != want {
		t.Errorf("agencyDigest of one bet: %s, want the SHA-256 of its row, %s", got, want)
	}
}

// TestMemory runs the suite against memLedger, the least a backend must
// do, so that the suite is known to ask nothing of a backend that is not
// in the port: no files, no group commit.
func TestMemory(t *testing.T) {
	Run(t, Backend{Open: func(t *testing.T) *Instance {
		st := &memState{bets: make(map[int][]lottery.Bet), done: make(map[int]bool)}
		l := st.open()
		return &Instance{
			Ledger: l,
			Reopen: func() lottery.Ledger { l = st.open(); return l },
			Break: func() {
				st.mu.Lock()
				defer st.mu.Unlock()
				st.breakNext = true
			},
		}
	}})
}

// memState is a memLedger's durable state, which outlives each ledger
// opened over it. Every write is durable once it is made.
type memState struct {
	mu        sync.Mutex
	bets      map[int][]lottery.Bet
	all       []lottery.Bet // every bet, in the order stored
	done      map[int]bool
	drawn     *lottery.Result
	failed    bool // a write failed: the open ledger takes no more
	breakNext bool // the next write fails
}

// memLedger is a lottery.Ledger in memory.
type memLedger struct {
	st    *memState
	held  map[int]lottery.Holding
	drawn *lottery.Result
}

func (st *memState) open() *memLedger {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failed, st.breakNext = false, false
	l := &memLedger{st: st, held: make(map[int]lottery.Holding), drawn: st.drawn}
	for a, bets := range st.bets {
		l.held[a] = holding(bets, st.done[a])
	}
	for a := range st.done {
		l.held[a] = holding(st.bets[a], true)
	}
	return l
}

func (l *memLedger) Holdings() map[int]lottery.Holding { return maps.Clone(l.held) }

func (l *memLedger) Recorded() (lottery.Result, bool) {
	if l.drawn == nil {
		return lottery.Result{}, false
	}
	return *l.drawn, true
}

// write makes one write: check says why it is refused, or nil; do makes
// it and returns its digest.
func (l *memLedger) write(check func() error, do func() lottery.Digest) lottery.Receipt {
	st := l.st
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.failed:
		return memReceipt{err: fmt.Errorf("%w: an earlier write failed", lottery.ErrUnavailable)}
	case st.breakNext:
		st.failed, st.breakNext = true, false
		return memReceipt{err: fmt.Errorf("%w: broken", lottery.ErrUnavailable)}
	case st.drawn != nil:
		return memReceipt{err: fmt.Errorf("%w: a write after the draw", lottery.ErrUnavailable)}
	}
	if err := check(); err != nil {
		return memReceipt{err: fmt.Errorf("%w: %w", lottery.ErrUnavailable, err)}
	}
	return memReceipt{d: do()}
}

func (l *memLedger) Append(agency int, from uint64, bets []lottery.Bet) lottery.Receipt {
	st := l.st
	return l.write(func() error {
		if n := uint64(len(st.bets[agency])); from != n {
			return fmt.Errorf("agency %d batch at %d, stored %d", agency, from, n)
		}
		return nil
	}, func() lottery.Digest {
		for _, b := range bets {
			b.Agency = agency
			st.bets[agency] = append(st.bets[agency], b)
			st.all = append(st.all, b)
		}
		return agencyDigest(st.bets[agency])
	})
}

func (l *memLedger) Notify(agency int, total uint64) lottery.Receipt {
	st := l.st
	return l.write(func() error { return nil }, func() lottery.Digest {
		st.done[agency] = true
		return agencyDigest(st.bets[agency])
	})
}

func (l *memLedger) RecordDraw(r lottery.Result) lottery.Receipt {
	st := l.st
	return l.write(func() error { return nil }, func() lottery.Digest {
		st.drawn = &r
		return r.Digest
	})
}

func (l *memLedger) LoadBets() iter.Seq2[lottery.Bet, error] {
	l.st.mu.Lock()
	all := slices.Clone(l.st.all)
	l.st.mu.Unlock()
	return func(yield func(lottery.Bet, error) bool) {
		for _, b := range all {
			if !yield(b, nil) {
				return
			}
		}
	}
}

// memReceipt is the receipt of a write made at once.
type memReceipt struct {
	d   lottery.Digest
	err error
}

func (r memReceipt) Wait(context.Context) (lottery.Digest, error) { return r.d, r.err }
