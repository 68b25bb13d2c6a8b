package lottery

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLedger is an in-memory Ledger: its holdings are its bets and
// notified agencies, it records every write, fails those it is told to,
// and, while hold is open, answers no write.
type fakeLedger struct {
	mu        sync.Mutex
	notified  []int         // agencies that had notified when it was opened
	calls     []notifyCall  // every Notify call, in order
	appends   []appendCall  // every Append call, in order
	notifyErr map[int]error // Notify(agency) fails with this
	appendErr error         // every Append fails with this
	hold      chan struct{} // when not nil, writes are answered once it is closed
	bets      []Bet         // what LoadBets yields
	loadErr   error         // when set, LoadBets yields it after the bets
	loads     int           // LoadBets calls
	recorded  *Result       // the draw recorded, which Drawn returns
	records   int           // RecordDraw calls
}

type notifyCall struct {
	agency int
	total  uint64
}

type appendCall struct {
	agency int
	from   uint64
	n      int
}

// fakeReceipt is answered once hold, when set, is closed; a wait whose
// context ends first returns its error, as a ledger's does.
type fakeReceipt struct {
	hold   chan struct{}
	digest Digest
	err    error
}

func (r fakeReceipt) Wait(ctx context.Context) (Digest, error) {
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
			return Digest{}, fmt.Errorf("fake receipt: %w", ctx.Err())
		}
	}
	if r.err != nil {
		return Digest{}, r.err
	}
	return r.digest, nil
}

// digestOf is the fake's digest of agency's bets: a SHA-256 over a
// rendering of its own, as a ledger computes it over its rows.
func digestOf(bets []Bet, agency int) Digest {
	h := sha256.New()
	for _, b := range bets {
		if b.Agency == agency {
			fmt.Fprintf(h, "%d,%s,%s,%s,%s,%d\n", b.Agency, b.FirstName, b.LastName, b.Document, b.Birthdate, b.Number)
		}
	}
	return Digest(h.Sum(nil))
}

func (l *fakeLedger) Holdings() map[int]Holding {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int]Holding)
	for _, b := range l.bets {
		h := out[b.Agency]
		h.Bets++
		out[b.Agency] = h
	}
	for _, a := range l.notified {
		h := out[a]
		h.Done = true
		out[a] = h
	}
	for a, h := range out {
		h.Digest = digestOf(l.bets, a)
		out[a] = h
	}
	return out
}

func (l *fakeLedger) Recorded() (Result, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recorded == nil {
		return Result{}, false
	}
	return *l.recorded, true
}

func (l *fakeLedger) RecordDraw(r Result) Receipt {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records++
	l.recorded = &r
	return fakeReceipt{hold: l.hold, digest: r.Digest}
}

func (l *fakeLedger) Append(agency int, from uint64, bets []Bet) Receipt {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appends = append(l.appends, appendCall{agency, from, len(bets)})
	if l.appendErr == nil {
		l.bets = append(l.bets, bets...)
	}
	return fakeReceipt{hold: l.hold, digest: digestOf(l.bets, agency), err: l.appendErr}
}

func (l *fakeLedger) Notify(agency int, total uint64) Receipt {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, notifyCall{agency, total})
	return fakeReceipt{hold: l.hold, digest: digestOf(l.bets, agency), err: l.notifyErr[agency]}
}

// total is how many bets of agency the ledger holds: what its Done says.
func (l *fakeLedger) total(agency int) uint64 {
	return l.Holdings()[agency].Bets
}

func (l *fakeLedger) LoadBets() iter.Seq2[Bet, error] {
	l.mu.Lock()
	l.loads++
	bets, loadErr := slices.Clone(l.bets), l.loadErr
	l.mu.Unlock()
	return func(yield func(Bet, error) bool) {
		for _, b := range bets {
			if !yield(b, nil) {
				return
			}
		}
		if loadErr != nil {
			yield(Bet{}, loadErr)
		}
	}
}

func (l *fakeLedger) appendCalls() []appendCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.appends)
}

// recorder is an Events that records what it hears, one string each.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) Notified(agency int, total uint64) { r.add("notified %d %d", agency, total) }
func (r *recorder) Drawn(res Result, absent []int) {
	if len(absent) > 0 {
		r.add("drawn %d %d absent %v", res.Bets, res.Winners, absent)
		return
	}
	r.add("drawn %d %d", res.Bets, res.Winners)
}
func (r *recorder) DrawFailed(err error) { r.add("draw failed: %v", err) }

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (l *fakeLedger) setLoadErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loadErr = err
}

func (l *fakeLedger) loadCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loads
}

func (l *fakeLedger) notifyCalls() []notifyCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// ledgerBets are bets of three agencies; agency 3 has no winner.
// ledgerBets returns the bets of agencies 1..agencies (at most 3) of a
// small lottery, interleaved as a ledger stores them.
func ledgerBets(agencies int) []Bet {
	all := []Bet{
		bet(1, "100", 7574),
		bet(2, "200", 1),
		bet(2, "201", 7574),
		bet(1, "101", 7574),
		bet(3, "300", 7573),
		bet(1, "102", 42),
		bet(2, "202", 7574),
	}
	return slices.DeleteFunc(all, func(b Bet) bool { return b.Agency > agencies })
}

var wantWinners = map[int][]string{1: {"100", "101"}, 2: {"201", "202"}, 3: nil}

func newCentral(t *testing.T, l *fakeLedger, agencies int) *Central {
	t.Helper()
	c, err := NewCentral(t.Context(), l, agencies, &recorder{})
	if err != nil {
		t.Fatalf("NewCentral: %v", err)
	}
	if c.Agencies() != agencies {
		t.Fatalf("Agencies() = %d, want %d", c.Agencies(), agencies)
	}
	return c
}

// shortCtx is a context that ends soon, to show that Winners does not
// answer before the draw.
func shortCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

// boundedCtx is a context for calls that must answer at once: were they to
// block, the test fails after a while instead of hanging.
func boundedCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func checkStatus(t *testing.T, c *Central, notified int, drawn bool) {
	t.Helper()
	n, d := c.Status()
	if n != notified || d != drawn {
		t.Errorf("Status() = %d, %v; want %d, %v", n, d, notified, drawn)
	}
	if c.Drawn() != drawn {
		t.Errorf("Drawn() = %v, want %v", c.Drawn(), drawn)
	}
}

func checkWinners(t *testing.T, c *Central, agency int) {
	t.Helper()
	got, _, err := c.Winners(boundedCtx(t), agency)
	if err != nil {
		t.Fatalf("Winners(%d): %v", agency, err)
	}
	if !slices.Equal(got, wantWinners[agency]) {
		t.Errorf("Winners(%d) = %v, want %v", agency, got, wantWinners[agency])
	}
}

func TestCentralWinnersWaitForLastAgency(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(3)}
	c := newCentral(t, l, 3)
	checkStatus(t, c, 0, false)

	for agency := 1; agency <= 2; agency++ {
		if _, err := c.Notify(context.Background(), agency, l.total(agency)); err != nil {
			t.Fatalf("Notify(%d): %v", agency, err)
		}
		checkStatus(t, c, agency, false)
		for asker := 1; asker <= 3; asker++ {
			if _, _, err := c.Winners(shortCtx(t), asker); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Winners(%d) before the last notification = %v, want context.DeadlineExceeded", asker, err)
			}
		}
	}
	if n := l.loadCount(); n != 0 {
		t.Fatalf("draw held (%d loads) before every agency notified", n)
	}

	// A waiting agency is answered once the last one notifies.
	waiting := make(chan []string, 1)
	go func() {
		w, _, err := c.Winners(context.Background(), 1)
		if err != nil {
			t.Errorf("waiting Winners(1): %v", err)
		}
		waiting <- w
	}()

	if _, err := c.Notify(context.Background(), 3, l.total(3)); err != nil {
		t.Fatalf("Notify(3): %v", err)
	}
	checkStatus(t, c, 3, true)
	if got := <-waiting; !slices.Equal(got, wantWinners[1]) {
		t.Errorf("waiting Winners(1) = %v, want %v", got, wantWinners[1])
	}
	for agency := 1; agency <= 3; agency++ {
		checkWinners(t, c, agency)
	}
	if n := l.loadCount(); n != 1 {
		t.Errorf("LoadBets called %d times, want 1", n)
	}
	wantCalls := []notifyCall{{1, 3}, {2, 3}, {3, 1}}
	if got := l.notifyCalls(); !slices.Equal(got, wantCalls) {
		t.Errorf("ledger Notify calls = %v, want %v", got, wantCalls)
	}
}

func TestCentralWinnersAfterDrawAnswerAtOnce(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(1)}
	c := newCentral(t, l, 1)
	if _, err := c.Notify(context.Background(), 1, l.total(1)); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.Winners(boundedCtx(t), 1)
	if err != nil || !slices.Equal(got, wantWinners[1]) {
		t.Errorf("Winners(1) = %v, %v; want %v", got, err, wantWinners[1])
	}
}

func TestCentralNotifyTwiceIsHarmless(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(3)}
	c := newCentral(t, l, 3)
	for range 3 {
		if _, err := c.Notify(context.Background(), 2, l.total(2)); err != nil {
			t.Fatalf("Notify(2) again: %v", err)
		}
	}
	checkStatus(t, c, 1, false)
	if _, _, err := c.Winners(shortCtx(t), 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Winners(2) = %v, want context.DeadlineExceeded: agency 2 notifying thrice is not three agencies", err)
	}

	for _, a := range []int{1, 3} {
		if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
			t.Fatalf("Notify(%d): %v", a, err)
		}
	}
	checkStatus(t, c, 3, true)
	// Notifying again after the draw changes nothing and draws no more.
	for a := 1; a <= 3; a++ {
		if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
			t.Fatalf("Notify(%d) after the draw: %v", a, err)
		}
	}
	checkStatus(t, c, 3, true)
	if n := l.loadCount(); n != 1 {
		t.Errorf("LoadBets called %d times, want 1", n)
	}
	for a := 1; a <= 3; a++ {
		checkWinners(t, c, a)
	}
}

func TestCentralAgencyOutOfRange(t *testing.T) {
	for _, agency := range []int{0, -1, 4, 1 << 20} {
		l := &fakeLedger{bets: ledgerBets(3)}
		c := newCentral(t, l, 3)
		if _, err := c.Notify(context.Background(), agency, 0); err == nil {
			t.Errorf("Notify(%d) with 3 agencies: got no error", agency)
		} else if !errors.Is(err, ErrInvalidBet) {
			t.Errorf("Notify(%d) error %q does not wrap ErrInvalidBet", agency, err)
		}
		if calls := l.notifyCalls(); len(calls) != 0 {
			t.Errorf("Notify(%d) reached the ledger: %v", agency, calls)
		}
		checkStatus(t, c, 0, false)
		if _, _, err := c.Winners(t.Context(), agency); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Winners(%d) with 3 agencies = %v, want an agency error at once", agency, err)
		}
	}
}

func TestCentralLedgerNotifyError(t *testing.T) {
	errFull := errors.New("disk full")
	l := &fakeLedger{bets: ledgerBets(2), notifyErr: map[int]error{2: errFull}}
	c := newCentral(t, l, 2)
	if _, err := c.Notify(context.Background(), 1, l.total(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(context.Background(), 2, l.total(2)); !errors.Is(err, errFull) {
		t.Fatalf("Notify(2) = %v, want %v", err, errFull)
	}
	// The failed notification is not counted and holds no draw.
	checkStatus(t, c, 1, false)
	if n := l.loadCount(); n != 0 {
		t.Errorf("LoadBets called %d times, want 0", n)
	}
}

func TestNewCentralRestart(t *testing.T) {
	tests := []struct {
		name     string
		notified []int
		agencies int
		drawn    bool
		count    int
	}{
		{"nobody notified", nil, 3, false, 0},
		{"some notified", []int{2}, 3, false, 1},
		{"all notified", []int{1, 2, 3}, 3, true, 3},
		{"all notified, any order", []int{3, 1, 2}, 3, true, 3},
		{"all notified, duplicates", []int{1, 1, 2, 3, 3}, 3, true, 3},
		{"more agencies than before", []int{1, 2, 3}, 5, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{bets: ledgerBets(tt.agencies), notified: tt.notified}
			c := newCentral(t, l, tt.agencies)
			checkStatus(t, c, tt.count, tt.drawn)
			if !tt.drawn {
				if _, _, err := c.Winners(shortCtx(t), 1); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Winners(1) = %v, want context.DeadlineExceeded", err)
				}
				return
			}
			if n := l.loadCount(); n != 1 {
				t.Errorf("LoadBets called %d times by NewCentral, want 1", n)
			}
			// Answered at once.
			for a := 1; a <= tt.agencies; a++ {
				got, _, err := c.Winners(boundedCtx(t), a)
				if err != nil || !slices.Equal(got, wantWinners[a]) {
					t.Errorf("Winners(%d) = %v, %v; want %v", a, got, err, wantWinners[a])
				}
			}
			if n := l.loadCount(); n != 1 {
				t.Errorf("LoadBets called %d times, want 1", n)
			}
		})
	}
}

func TestNewCentralRestartDrawFails(t *testing.T) {
	errDisk := errors.New("bad sector")
	l := &fakeLedger{bets: ledgerBets(2), notified: []int{1, 2}, loadErr: errDisk}
	if _, err := NewCentral(t.Context(), l, 2, &recorder{}); !errors.Is(err, errDisk) {
		t.Fatalf("NewCentral with a failing draw = %v, want %v", err, errDisk)
	}
}

func TestCentralFailedDrawIsRetried(t *testing.T) {
	errDisk := errors.New("bad sector")
	tests := []struct {
		name  string
		retry func(t *testing.T, c *Central)
	}{
		{
			name: "by Winners",
			retry: func(t *testing.T, c *Central) {
				checkWinners(t, c, 2)
			},
		},
		{
			name: "by a repeated Notify",
			retry: func(t *testing.T, c *Central) {
				if _, err := c.Notify(context.Background(), 1, 3); err != nil {
					t.Fatalf("Notify(1) again: %v", err)
				}
				checkWinners(t, c, 2)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{bets: ledgerBets(3), loadErr: errDisk}
			c := newCentral(t, l, 3)
			for a := 1; a <= 2; a++ {
				if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
					t.Fatalf("Notify(%d): %v", a, err)
				}
			}
			if _, err := c.Notify(context.Background(), 3, l.total(3)); !errors.Is(err, errDisk) {
				t.Fatalf("Notify(3) with a failing draw = %v, want %v", err, errDisk)
			}
			// The notification is kept, but there is no draw.
			checkStatus(t, c, 3, false)

			// While the ledger still fails, Winners retries and fails too.
			if _, _, err := c.Winners(t.Context(), 1); !errors.Is(err, errDisk) {
				t.Fatalf("Winners(1) with a failing draw = %v, want %v", err, errDisk)
			}
			checkStatus(t, c, 3, false)
			if n := l.loadCount(); n != 2 {
				t.Errorf("LoadBets called %d times, want 2", n)
			}

			l.setLoadErr(nil)
			tt.retry(t, c)
			checkStatus(t, c, 3, true)
			if n := l.loadCount(); n != 3 {
				t.Errorf("LoadBets called %d times, want 3", n)
			}
			for a := 1; a <= 3; a++ {
				checkWinners(t, c, a)
			}
			if n := l.loadCount(); n != 3 {
				t.Errorf("LoadBets called %d times after a held draw, want still 3", n)
			}
		})
	}
}

func TestCentralStatusCounts(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(4)}
	c := newCentral(t, l, 4)
	order := []int{3, 1, 3, 4, 2}
	wantCount := []int{1, 2, 2, 3, 4}
	for i, a := range order {
		if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
			t.Fatalf("Notify(%d): %v", a, err)
		}
		checkStatus(t, c, wantCount[i], wantCount[i] == 4)
	}
}

// TestCentralConcurrent notifies and asks for winners from many goroutines
// at once: one draw, every agency its own winners. Run with -race.
func TestCentralConcurrent(t *testing.T) {
	const agencies = 3
	l := &fakeLedger{bets: ledgerBets(agencies)}
	c := newCentral(t, l, agencies)
	var wg sync.WaitGroup
	for range 10 {
		for a := 1; a <= agencies; a++ {
			wg.Go(func() {
				got, _, err := c.Winners(context.Background(), a)
				if err != nil {
					t.Errorf("Winners(%d): %v", a, err)
					return
				}
				if !slices.Equal(got, wantWinners[a]) {
					t.Errorf("Winners(%d) = %v, want %v", a, got, wantWinners[a])
				}
			})
			wg.Go(func() {
				if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
					t.Errorf("Notify(%d): %v", a, err)
				}
				c.Status()
			})
		}
	}
	wg.Wait()
	checkStatus(t, c, agencies, true)
	if n := l.loadCount(); n != 1 {
		t.Errorf("LoadBets called %d times, want exactly 1 draw", n)
	}
}

// someBets returns n valid bets of agency, numbered from first.
func someBets(agency, first, n int) []Bet {
	out := make([]Bet, n)
	for i := range out {
		out[i] = bet(agency, fmt.Sprint(1000+first+i), first+i)
	}
	return out
}

// TestCentralSubmitPositions: each bet reaches the ledger once, at its
// position, whatever the agency resends; the rules of a batch are the
// central's, each with its error.
func TestCentralSubmitPositions(t *testing.T) {
	type step struct {
		first     uint64
		n         int
		stored    uint64 // the agency's stored bets in the answer
		fresh     int
		err       error       // the refusal, if any
		appendsTo *appendCall // what reaches the ledger; nil: nothing
	}
	steps := []struct {
		name string
		step
	}{
		{"first batch", step{0, 4, 4, 4, nil, &appendCall{1, 0, 4}}},
		{"same batch again", step{0, 4, 4, 0, nil, nil}},
		{"overlapping batch", step{2, 4, 6, 2, nil, &appendCall{1, 4, 2}}},
		{"a gap", step{8, 2, 0, 0, ErrOutOfOrder, nil}},
		{"the rest", step{6, 4, 10, 4, nil, &appendCall{1, 6, 4}}},
	}
	l := &fakeLedger{}
	c := newCentral(t, l, 2)
	for _, s := range steps {
		before := len(l.appendCalls())
		stored, fresh, err := c.Submit(1, s.first, someBets(1, int(s.first), s.n)).Wait(context.Background())
		if !errors.Is(err, s.err) || (s.err == nil && err != nil) {
			t.Fatalf("%s: err %v, want %v", s.name, err, s.err)
		}
		if err == nil && (stored != s.stored || fresh != s.fresh) {
			t.Errorf("%s: stored %d fresh %d, want %d %d", s.name, stored, fresh, s.stored, s.fresh)
		}
		calls := l.appendCalls()[before:]
		switch {
		case s.appendsTo == nil && len(calls) != 0:
			t.Errorf("%s: reached the ledger: %v", s.name, calls)
		case s.appendsTo != nil && (len(calls) != 1 || calls[0] != *s.appendsTo):
			t.Errorf("%s: ledger appends %v, want [%v]", s.name, calls, *s.appendsTo)
		}
	}
	for i, b := range l.bets {
		if b.Agency != 1 || b.Number != i {
			t.Fatalf("ledger bet %d is %+v: each bet must be stored once, in order", i, b)
		}
	}

	if _, err := c.Notify(context.Background(), 1, 5); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Notify with a wrong total: %v, want ErrIncomplete", err)
	}
	if _, err := c.Notify(context.Background(), 1, 10); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if _, _, err := c.Submit(1, 10, someBets(1, 10, 1)).Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("new bet after notify: %v, want ErrClosed", err)
	}
	if stored, fresh, err := c.Submit(1, 0, someBets(1, 0, 4)).Wait(context.Background()); err != nil || stored != 10 || fresh != 0 {
		t.Errorf("old batch after notify: stored %d fresh %d err %v, want it acknowledged again", stored, fresh, err)
	}
	if st, err := c.Resume(context.Background(), 1); err != nil || st != (Standing{Stored: 10, Done: true, Digest: digestOf(l.bets, 1)}) {
		t.Errorf("Resume(1) = %+v, %v", st, err)
	}
}

func TestCentralSubmitRefuses(t *testing.T) {
	bad := someBets(2, 0, 3)
	bad[1].Document = "12a"
	tests := []struct {
		name   string
		agency int
		bets   []Bet
		want   error
	}{
		{"an invalid bet", 2, bad, ErrInvalidBet},
		{"an agency out of range", 3, someBets(3, 0, 1), ErrInvalidBet},
		{"agency 0", 0, someBets(0, 0, 1), ErrInvalidBet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{}
			c := newCentral(t, l, 2)
			if _, _, err := c.Submit(tt.agency, 0, tt.bets).Wait(context.Background()); !errors.Is(err, tt.want) {
				t.Errorf("Submit: %v, want %v", err, tt.want)
			}
			if calls := l.appendCalls(); len(calls) != 0 {
				t.Errorf("a refused batch reached the ledger: %v", calls)
			}
		})
	}
}

// TestCentralSubmitStampsAgency: a bet is stored as the agency that sent
// it, whatever the decoded bet said.
func TestCentralSubmitStampsAgency(t *testing.T) {
	l := &fakeLedger{}
	c := newCentral(t, l, 2)
	if _, _, err := c.Submit(2, 0, someBets(1, 0, 2)).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, b := range l.bets {
		if b.Agency != 2 {
			t.Errorf("stored as agency %d, want 2", b.Agency)
		}
	}
}

// TestCentralLedgerFailure: once a write fails, the central decides
// nothing more: the ledger's state is unknown until a restart recovers it.
func TestCentralLedgerFailure(t *testing.T) {
	errIO := errors.New("injected EIO")
	l := &fakeLedger{appendErr: errIO}
	c := newCentral(t, l, 2)
	if c.Err() != nil {
		t.Fatalf("Err() = %v before any write", c.Err())
	}
	if _, _, err := c.Submit(1, 0, someBets(1, 0, 2)).Wait(context.Background()); !errors.Is(err, ErrUnavailable) || !errors.Is(err, errIO) {
		t.Fatalf("Submit over a failing ledger: %v, want ErrUnavailable wrapping the cause", err)
	}
	// The wiring hears of it, to stop the central.
	select {
	case <-c.Failed():
	default:
		t.Fatal("Failed() is not closed after a failed write")
	}
	if !errors.Is(c.Err(), errIO) {
		t.Errorf("Err() = %v, want %v", c.Err(), errIO)
	}
	l.mu.Lock()
	l.appendErr = nil
	l.mu.Unlock()
	if _, _, err := c.Submit(2, 0, someBets(2, 0, 1)).Wait(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Submit after a failed write: %v, want ErrUnavailable", err)
	}
	if _, err := c.Notify(context.Background(), 2, 0); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Notify after a failed write: %v, want ErrUnavailable", err)
	}
	if calls := l.appendCalls(); len(calls) != 1 {
		t.Errorf("ledger appends after the failure: %v, want only the failed one", calls)
	}
}

// TestCentralWaitGivenUp: waits whose context ends before the ledger
// answers (a shutdown past its grace period) return ErrUnavailable
// wrapping the context's error, for a batch, a notification and a
// resume; the central is not failed by it, and once the ledger answers,
// the same writes are answered to the next wait.
func TestCentralWaitGivenUp(t *testing.T) {
	l := &fakeLedger{hold: make(chan struct{})}
	c := newCentral(t, l, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sub := c.Submit(1, 0, someBets(1, 0, 3))
	gaveUp := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with its context done: %v, want ErrUnavailable and context.Canceled", what, err)
		}
	}
	_, _, err := sub.Wait(ctx)
	gaveUp("Submission.Wait", err)
	_, err = c.Notify(ctx, 2, 0)
	gaveUp("Notify", err)
	_, err = c.Resume(ctx, 1)
	gaveUp("Resume", err)
	if err := c.Err(); err != nil {
		t.Fatalf("the central failed: %v", err)
	}
	close(l.hold)
	if stored, fresh, err := sub.Wait(context.Background()); err != nil || stored != 3 || fresh != 3 {
		t.Errorf("the batch, waited again: %d stored, %d fresh, %v; want 3, 3, nil", stored, fresh, err)
	}
	if st, err := c.Resume(context.Background(), 2); err != nil || !st.Done {
		t.Errorf("agency 2, resumed: %+v, %v; want its notification durable", st, err)
	}
}

// TestCentralResumeWaitsForWrites: where an agency stands is reported
// once its writes in flight are durable, never before; and a batch sent
// again while the first copy is in flight is acknowledged only then.
func TestCentralResumeWaitsForWrites(t *testing.T) {
	l := &fakeLedger{hold: make(chan struct{})}
	c := newCentral(t, l, 1)
	first := c.Submit(1, 0, someBets(1, 0, 3))
	again := c.Submit(1, 0, someBets(1, 0, 3))
	resumed := make(chan Standing, 1)
	go func() {
		st, err := c.Resume(context.Background(), 1)
		if err != nil {
			t.Errorf("Resume: %v", err)
		}
		resumed <- st
	}()
	acked := make(chan uint64, 1)
	go func() {
		stored, _, err := again.Wait(context.Background())
		if err != nil {
			t.Errorf("resent batch: %v", err)
		}
		acked <- stored
	}()
	select {
	case st := <-resumed:
		t.Fatalf("Resume answered %+v before the write was durable", st)
	case n := <-acked:
		t.Fatalf("resent batch acknowledged (%d) before the first copy was durable", n)
	case <-time.After(20 * time.Millisecond):
	}
	close(l.hold)
	if st := <-resumed; st != (Standing{Stored: 3, Digest: digestOf(l.bets, 1)}) {
		t.Errorf("Resume = %+v, want 3 stored", st)
	}
	if n := <-acked; n != 3 {
		t.Errorf("resent batch acknowledged with %d, want 3", n)
	}
	if _, fresh, err := first.Wait(context.Background()); err != nil || fresh != 3 {
		t.Errorf("first batch: fresh %d err %v", fresh, err)
	}
}

// TestCentralEventsOrder: every notification is told before the draw it
// starts, and the draw before any winner is answered.
func TestCentralEventsOrder(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(2)}
	events := &recorder{}
	c, err := NewCentral(t.Context(), l, 2, events)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan []string, 1)
	go func() {
		_, _, err := c.Winners(context.Background(), 1)
		if err != nil {
			t.Errorf("Winners: %v", err)
		}
		answered <- append(events.list(), "answered")
	}()
	for a := 1; a <= 2; a++ {
		if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"notified 1 3", "notified 2 3", "drawn 6 4", "answered"}
	if got := <-answered; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestCentralDrawStopsWithItsContext: a shutdown stops a long draw without
// a decision and without a failure to report; the draw is held again by
// the next central.
func TestCentralDrawStopsWithItsContext(t *testing.T) {
	l := &fakeLedger{bets: someBets(1, 0, drawCheckEvery+1), notified: []int{1}} // one winner: number 7574
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	events := &recorder{}
	if _, err := NewCentral(ctx, l, 1, events); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewCentral after shutdown = %v, want context.Canceled", err)
	}
	if got := events.list(); len(got) != 0 {
		t.Errorf("events %q: a stopped draw is neither held nor failed", got)
	}
	c, err := NewCentral(t.Context(), l, 1, events)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Winners(boundedCtx(t), 1); err != nil || !slices.Equal(got, []string{"8574"}) {
		t.Errorf("Winners after the draw = %v, %v; want [8574]", got, err)
	}
}

// blockingDraw is an Events whose Drawn waits until release is closed, as
// the wiring's wait for the log reader does.
type blockingDraw struct {
	recorder
	entered, release chan struct{}
}

func (b *blockingDraw) Drawn(Result, []int) {
	close(b.entered)
	<-b.release
}

// TestCentralWinnersWaitForDrawnEvent: while the draw's event has not
// returned (the sorteo line not yet taken by the log's reader), no winner
// is answered, neither to a held query nor to a new one.
func TestCentralWinnersWaitForDrawnEvent(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(1)}
	events := &blockingDraw{entered: make(chan struct{}), release: make(chan struct{})}
	c, err := NewCentral(t.Context(), l, 1, events)
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		_, _, err := c.Winners(context.Background(), 1)
		held <- err
	}()
	notified := make(chan error, 1)
	go func() {
		_, err := c.Notify(context.Background(), 1, l.total(1))
		notified <- err
	}()
	<-events.entered
	if _, _, err := c.Winners(shortCtx(t), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a new query during the draw's event = %v, want it held", err)
	}
	select {
	case err := <-held:
		t.Fatalf("held query answered (%v) before the draw's event returned", err)
	default:
	}
	close(events.release)
	if err := <-held; err != nil {
		t.Errorf("held query: %v", err)
	}
	if err := <-notified; err != nil {
		t.Errorf("Notify: %v", err)
	}
	checkWinners(t, c, 1)
}

// TestCentralRecordsTheDraw: the draw is recorded once, with the digests
// of what each agency was told, and answered with its digest.
func TestCentralRecordsTheDraw(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(3)}
	c := newCentral(t, l, 3)
	var told []Digest
	for a := 1; a <= 3; a++ {
		d, err := c.Notify(context.Background(), a, l.total(a))
		if err != nil {
			t.Fatal(err)
		}
		if d != digestOf(l.bets, a) {
			t.Errorf("Notify(%d) digest %s, want the ledger's %s", a, d, digestOf(l.bets, a))
		}
		told = append(told, d)
	}
	want := Result{Agencies: 3, Bets: 7, Digest: DrawDigest(told), Winners: 4, WinnersDigest: WinnersDigest(wantWinners, 3)}
	if got, ok := l.Recorded(); !ok || got != want || l.records != 1 {
		t.Fatalf("recorded %+v (%v, %d records), want %+v once", got, ok, l.records, want)
	}
	for a := 1; a <= 3; a++ {
		got, d, err := c.Winners(boundedCtx(t), a)
		if err != nil || d != want.Digest || !slices.Equal(got, wantWinners[a]) {
			t.Errorf("Winners(%d) = %v, %s, %v; want %v with the draw's digest", a, got, d, err, wantWinners[a])
		}
	}
}

// TestCentralRecordedDrawIsFinal: after the draw, a central started with
// another number of agencies covers the recorded draw's agencies, records
// nothing again, and refuses bets that no longer give the recorded result.
func TestCentralRecordedDrawIsFinal(t *testing.T) {
	drawn := func(t *testing.T) *fakeLedger {
		t.Helper()
		l := &fakeLedger{bets: ledgerBets(3)}
		c := newCentral(t, l, 3)
		for a := 1; a <= 3; a++ {
			if _, err := c.Notify(context.Background(), a, l.total(a)); err != nil {
				t.Fatal(err)
			}
		}
		l.notified = []int{1, 2, 3}
		return l
	}
	for _, agencies := range []int{2, 3, 6} {
		t.Run(fmt.Sprint(agencies, " agencies configured"), func(t *testing.T) {
			l := drawn(t)
			c, err := NewCentral(t.Context(), l, agencies, &recorder{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Agencies() != 3 || !c.Drawn() || l.records != 1 {
				t.Fatalf("Agencies() = %d, Drawn() = %v, %d records; want the recorded 3 agencies, drawn, recorded once", c.Agencies(), c.Drawn(), l.records)
			}
			for a := 1; a <= 3; a++ {
				checkWinners(t, c, a)
			}
			if _, _, err := c.Submit(3, 1, someBets(3, 1, 1)).Wait(context.Background()); !errors.Is(err, ErrClosed) {
				t.Errorf("a bet after the recorded draw = %v, want ErrClosed", err)
			}
		})
	}
	t.Run("stored bets changed", func(t *testing.T) {
		l := drawn(t)
		l.bets[4].Number = LotteryWinnerNumber // agency 3's only bet now wins
		if _, err := NewCentral(t.Context(), l, 3, &recorder{}); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("NewCentral over bets that contradict the record = %v, want ErrInconsistent", err)
		}
	})
}

// TestCentralRefusesToLeaveOutAnAgency: before the draw, a central that
// would not cover an agency holding bets does not start.
func TestCentralRefusesToLeaveOutAnAgency(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(3)}
	_, err := NewCentral(t.Context(), l, 2, &recorder{})
	if !errors.Is(err, ErrInconsistent) || !strings.Contains(err.Error(), "agency 3") || !strings.Contains(err.Error(), "1..2") {
		t.Fatalf("NewCentral(2 agencies) over bets of agency 3 = %v, want ErrInconsistent naming agency 3 and 1..2", err)
	}
}

// TestCentralStatusChanged: the channel StatusChanged hands out is closed
// at each notification and at the draw, and not before.
func TestCentralStatusChanged(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets(2)}
	c := newCentral(t, l, 2)
	_, _, changed := c.StatusChanged()
	select {
	case <-changed:
		t.Fatal("changed before anything happened")
	default:
	}
	if _, err := c.Notify(context.Background(), 1, l.total(1)); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, changed) // the count moved
	notified, drawn, changed := c.StatusChanged()
	if notified != 1 || drawn {
		t.Fatalf("StatusChanged = %d, %v; want 1 notified, not drawn", notified, drawn)
	}
	if _, err := c.Notify(context.Background(), 2, l.total(2)); err != nil {
		t.Fatal(err)
	}
	for !drawn {
		waitChanged(t, changed) // the count, then the draw
		_, drawn, changed = c.StatusChanged()
	}
}

// waitChanged waits for a StatusChanged channel to close.
func waitChanged(t *testing.T, changed <-chan struct{}) {
	t.Helper()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("StatusChanged's channel not closed after a change")
	}
}
