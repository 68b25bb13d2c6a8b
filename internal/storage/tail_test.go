package storage

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// ackedStore writes, through fs, groups of concurrent batches of three
// agencies, a done notification in one of them, and a last group whose
// failSync'th sync of the journal (1: its records, 2: its commit slot)
// fails: the central stopped while writing it. It returns what was
// acknowledged of each agency, and whether agency 2's notification was.
func ackedStore(t *testing.T, fs *fakeFS, failSync int) (acked map[int][]lottery.Bet, done bool) {
	t.Helper()
	s, err := Open(csvName, Options{FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	acked = make(map[int][]lottery.Bet)
	groups := [][]int{{1, 2, 3}, {1}, {2, 3}, {1, 3, 1}, {3}}
	for g, agencies := range append(groups, []int{1, 3}) {
		last := g == len(groups)
		if last {
			syncs := 0
			fs.syncFails = func(name string) error {
				if name == journalName {
					if syncs++; syncs >= failSync {
						return errors.New("power lost")
					}
				}
				return nil
			}
		}
		var receipts []lottery.Receipt
		var sent [][]lottery.Bet
		for _, a := range agencies {
			bets := makeBets(a, len(acked[a])+countOf(sent, a), 1+g%3)
			receipts = append(receipts, s.Append(a, uint64(len(acked[a])+countOf(sent, a)), bets))
			sent = append(sent, bets)
		}
		if g == 2 {
			receipts = append(receipts, nil) // agency 2's notification, after its batch
		}
		for i, r := range receipts {
			if r == nil {
				r = s.Notify(2, uint64(len(acked[2])))
			}
			if _, err := r.Wait(context.Background()); err != nil {
				if !last {
					t.Fatalf("group %d: %v", g, err)
				}
				continue
			}
			switch {
			case i < len(sent):
				acked[agencies[i]] = append(acked[agencies[i]], sent[i]...)
			default:
				done = true
			}
		}
	}
	s.Close()
	fs.syncFails = nil
	return acked, done
}

// countOf counts the bets of agency a in batches.
func countOf(batches [][]lottery.Bet, a int) int {
	n := 0
	for _, b := range batches {
		if len(b) > 0 && b[0].Agency == a {
			n += len(b)
		}
	}
	return n
}

// TestTailRule cuts the journal of a store whose last group was being
// written at every byte, and zeroes it from every byte to its end: each
// start either refuses the store, changing nothing, or recovers every
// acknowledged batch and notification, cutting at most the last group.
// The last group stopped before its records were synced, or before its
// commit slot was (which then reached the disk, or not).
func TestTailRule(t *testing.T) {
	var refusals, recoveries int
	for failSync := 1; failSync <= 2; failSync++ {
		fs := newFakeFS()
		acked, done := ackedStore(t, fs, failSync)
		if !done {
			t.Fatal("agency 2's notification was not acknowledged")
		}
		csv, journal := fs.contents(csvName), fs.contents(journalName)
		journals := [][]byte{journal}
		if o := fs.files[journalName].overwrites; len(o) == 1 {
			before := slices.Clone(journal)
			copy(before[o[0].off:], o[0].old)
			journals = append(journals, before)
		} else if failSync == 2 {
			t.Fatalf("%d overwrites of the journal unsynced, want the last group's commit slot", len(o))
		}
		for _, j := range journals {
			for n := range len(j) + 1 {
				zeroed := append(slices.Clone(j[:n]), make([]byte, len(j)-n)...)
				for _, edited := range [][]byte{j[:n], zeroed} {
					if tailRuleCase(t, csv, edited, acked) {
						recoveries++
					} else {
						refusals++
					}
				}
			}
		}
	}
	t.Logf("%d starts refused, %d recovered every acknowledged bet", refusals, recoveries)
	if recoveries == 0 || refusals == 0 {
		t.Errorf("%d refused, %d recovered: want both kinds among the cuts", refusals, recoveries)
	}
}

// tailRuleCase opens the store of csv and journal, and reports whether it
// was recovered (with every acknowledged bet) rather than refused (with
// the files unchanged).
func tailRuleCase(t *testing.T, csv, journal []byte, acked map[int][]lottery.Bet) bool {
	t.Helper()
	fs := newFakeFS()
	fs.setContents(csvName, csv)
	fs.setContents(journalName, journal)
	was := snapshot(fs)
	s, err := Open(csvName, Options{FS: fs, Logger: quiet})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("journal of %d bytes: Open = %v, want a refusal as corrupt", len(journal), err)
		}
		if !maps.Equal(snapshot(fs), was) {
			t.Fatalf("journal of %d bytes: a refused start changed the files", len(journal))
		}
		return false
	}
	defer s.Close()
	got := make(map[int][]lottery.Bet)
	for b, err := range s.LoadBets() {
		if err != nil {
			t.Fatal(err)
		}
		got[b.Agency] = append(got[b.Agency], b)
	}
	for a, want := range acked {
		if g := got[a]; len(g) < len(want) || !slices.Equal(g[:len(want)], want) {
			t.Fatalf("journal of %d bytes: agency %d recovered %d bets, lost some of the %d acknowledged", len(journal), a, len(g), len(want))
		}
	}
	if !s.Holdings()[2].Done {
		t.Fatalf("journal of %d bytes: agency 2's acknowledged notification was cut", len(journal))
	}
	return true
}

// TestTailBound: bytes past the acknowledged records, in either file, are
// a torn tail only as far as one group commit writes.
func TestTailBound(t *testing.T) {
	for _, file := range []string{csvName, journalName} {
		for _, extra := range []int{maxTail, maxTail + 1} {
			fs := newFakeFS()
			smallStore(t, fs)
			fs.setContents(file, append(fs.contents(file), bytes.Repeat([]byte{'x'}, extra)...))
			s, err := Open(csvName, Options{FS: fs, Logger: quiet})
			if extra <= maxTail {
				if err != nil {
					t.Errorf("%s with %d bytes more: %v, want them cut", file, extra, err)
					continue
				}
				s.Close()
				continue
			}
			var ce *CorruptError
			if err == nil || !errors.As(err, &ce) || ce.Check != CheckSize {
				t.Errorf("%s with %d bytes more: Open = %v, want a refusal by the size check", file, extra, err)
			}
		}
	}
}

// TestBatchBound: a batch larger than a group commit may hold is refused,
// and StoreBets cuts a long run of one agency's bets into batches.
func TestBatchBound(t *testing.T) {
	s := openStore(t, csvName, newFakeFS())
	huge := makeBets(1, 0, maxRequestBytes/40)
	if _, err := s.Append(1, 0, huge).Wait(context.Background()); !errors.Is(err, lottery.ErrUnavailable) {
		t.Errorf("Append of %d bets: %v, want a refusal", len(huge), err)
	}
	if err := s.StoreBets(huge); err != nil {
		t.Fatalf("StoreBets of %d bets: %v", len(huge), err)
	}
	if got := storedBets(s, 1); got != uint64(len(huge)) {
		t.Errorf("stored %d, want %d", got, len(huge))
	}
}

// TestPowerLossSlots: over random crashes of the last group (its records
// in part, its slot landed or not), recovery keeps what was acknowledged
// and never takes the crash for corruption.
func TestPowerLossSlots(t *testing.T) {
	for seed := range uint64(200) {
		fs := newFakeFS()
		acked, _ := ackedStore(t, fs, 1+int(seed%2))
		fs.crash(rand.New(rand.NewPCG(seed, 2)))
		if !tailRuleCase(t, fs.contents(csvName), fs.contents(journalName), acked) {
			t.Fatalf("seed %d: a power loss in the last group was refused as corruption", seed)
		}
	}
}
