package lottery

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLedger is an in-memory Ledger: it records Notify calls, returns the
// configured errors and yields its bets from a slice.
type fakeLedger struct {
	mu        sync.Mutex
	notified  []int          // what Notified returns (initial notifications)
	calls     []notifyCall   // every Notify call, in order
	notifyErr map[int]error  // Notify(agency) fails with this
	bets      []Bet          // what LoadBets yields
	loadErr   error          // when set, LoadBets yields it after the bets
	loads     int            // LoadBets calls
	totals    map[int]uint64 // last total recorded per agency
}

type notifyCall struct {
	agency int
	total  uint64
}

func (l *fakeLedger) Notify(agency int, total uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, notifyCall{agency, total})
	if err := l.notifyErr[agency]; err != nil {
		return err
	}
	if l.totals == nil {
		l.totals = make(map[int]uint64)
	}
	l.totals[agency] = total
	return nil
}

func (l *fakeLedger) Notified() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.notified)
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
func ledgerBets() []Bet {
	return []Bet{
		bet(1, "100", 7574),
		bet(2, "200", 1),
		bet(2, "201", 7574),
		bet(1, "101", 7574),
		bet(3, "300", 7573),
		bet(1, "102", 42),
		bet(2, "202", 7574),
	}
}

var wantWinners = map[int][]string{1: {"100", "101"}, 2: {"201", "202"}, 3: nil}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newCentral(t *testing.T, l *fakeLedger, agencies int) *Central {
	t.Helper()
	c, err := NewCentral(l, agencies, discard())
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
	got, err := c.Winners(boundedCtx(t), agency)
	if err != nil {
		t.Fatalf("Winners(%d): %v", agency, err)
	}
	if !slices.Equal(got, wantWinners[agency]) {
		t.Errorf("Winners(%d) = %v, want %v", agency, got, wantWinners[agency])
	}
}

func TestCentralWinnersWaitForLastAgency(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets()}
	c := newCentral(t, l, 3)
	checkStatus(t, c, 0, false)

	for agency := 1; agency <= 2; agency++ {
		if err := c.Notify(agency, uint64(agency*10)); err != nil {
			t.Fatalf("Notify(%d): %v", agency, err)
		}
		checkStatus(t, c, agency, false)
		for asker := 1; asker <= 3; asker++ {
			if _, err := c.Winners(shortCtx(t), asker); !errors.Is(err, context.DeadlineExceeded) {
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
		w, err := c.Winners(context.Background(), 1)
		if err != nil {
			t.Errorf("waiting Winners(1): %v", err)
		}
		waiting <- w
	}()

	if err := c.Notify(3, 30); err != nil {
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
	wantCalls := []notifyCall{{1, 10}, {2, 20}, {3, 30}}
	if got := l.notifyCalls(); !slices.Equal(got, wantCalls) {
		t.Errorf("ledger Notify calls = %v, want %v", got, wantCalls)
	}
}

func TestCentralWinnersAfterDrawAnswerAtOnce(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets()}
	c := newCentral(t, l, 1)
	if err := c.Notify(1, 7); err != nil {
		t.Fatal(err)
	}
	got, err := c.Winners(boundedCtx(t), 1)
	if err != nil || !slices.Equal(got, wantWinners[1]) {
		t.Errorf("Winners(1) = %v, %v; want %v", got, err, wantWinners[1])
	}
}

func TestCentralNotifyTwiceIsHarmless(t *testing.T) {
	l := &fakeLedger{bets: ledgerBets()}
	c := newCentral(t, l, 3)
	for range 3 {
		if err := c.Notify(2, 5); err != nil {
			t.Fatalf("Notify(2) again: %v", err)
		}
	}
	checkStatus(t, c, 1, false)
	if _, err := c.Winners(shortCtx(t), 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Winners(2) = %v, want context.DeadlineExceeded: agency 2 notifying thrice is not three agencies", err)
	}

	for _, a := range []int{1, 3} {
		if err := c.Notify(a, 5); err != nil {
			t.Fatalf("Notify(%d): %v", a, err)
		}
	}
	checkStatus(t, c, 3, true)
	// Notifying again after the draw changes nothing and draws no more.
	for a := 1; a <= 3; a++ {
		if err := c.Notify(a, 5); err != nil {
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
		l := &fakeLedger{bets: ledgerBets()}
		c := newCentral(t, l, 3)
		if err := c.Notify(agency, 1); err == nil {
			t.Errorf("Notify(%d) with 3 agencies: got no error", agency)
		} else if !errors.Is(err, ErrInvalidBet) {
			t.Errorf("Notify(%d) error %q does not wrap ErrInvalidBet", agency, err)
		}
		if calls := l.notifyCalls(); len(calls) != 0 {
			t.Errorf("Notify(%d) reached the ledger: %v", agency, calls)
		}
		checkStatus(t, c, 0, false)
		if _, err := c.Winners(t.Context(), agency); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Winners(%d) with 3 agencies = %v, want an agency error at once", agency, err)
		}
	}
}

func TestCentralLedgerNotifyError(t *testing.T) {
	errFull := errors.New("disk full")
	l := &fakeLedger{bets: ledgerBets(), notifyErr: map[int]error{2: errFull}}
	c := newCentral(t, l, 2)
	if err := c.Notify(1, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(2, 1); !errors.Is(err, errFull) {
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
		{"out-of-range notifications ignored", []int{0, 1, 2, 4, 9}, 3, false, 2},
		{"more agencies than before", []int{1, 2, 3}, 5, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{bets: ledgerBets(), notified: tt.notified}
			c := newCentral(t, l, tt.agencies)
			checkStatus(t, c, tt.count, tt.drawn)
			if !tt.drawn {
				if _, err := c.Winners(shortCtx(t), 1); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Winners(1) = %v, want context.DeadlineExceeded", err)
				}
				return
			}
			if n := l.loadCount(); n != 1 {
				t.Errorf("LoadBets called %d times by NewCentral, want 1", n)
			}
			// Answered at once.
			for a := 1; a <= tt.agencies; a++ {
				got, err := c.Winners(boundedCtx(t), a)
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
	l := &fakeLedger{bets: ledgerBets(), notified: []int{1, 2}, loadErr: errDisk}
	if _, err := NewCentral(l, 2, discard()); !errors.Is(err, errDisk) {
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
				if err := c.Notify(1, 3); err != nil {
					t.Fatalf("Notify(1) again: %v", err)
				}
				checkWinners(t, c, 2)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{bets: ledgerBets(), loadErr: errDisk}
			c := newCentral(t, l, 3)
			for a := 1; a <= 2; a++ {
				if err := c.Notify(a, 3); err != nil {
					t.Fatalf("Notify(%d): %v", a, err)
				}
			}
			if err := c.Notify(3, 3); !errors.Is(err, errDisk) {
				t.Fatalf("Notify(3) with a failing draw = %v, want %v", err, errDisk)
			}
			// The notification is kept, but there is no draw.
			checkStatus(t, c, 3, false)

			// While the ledger still fails, Winners retries and fails too.
			if _, err := c.Winners(t.Context(), 1); !errors.Is(err, errDisk) {
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
	l := &fakeLedger{bets: ledgerBets()}
	c := newCentral(t, l, 4)
	order := []int{3, 1, 3, 4, 2}
	wantCount := []int{1, 2, 2, 3, 4}
	for i, a := range order {
		if err := c.Notify(a, 0); err != nil {
			t.Fatalf("Notify(%d): %v", a, err)
		}
		checkStatus(t, c, wantCount[i], wantCount[i] == 4)
	}
}

// TestCentralConcurrent notifies and asks for winners from many goroutines
// at once: one draw, every agency its own winners. Run with -race.
func TestCentralConcurrent(t *testing.T) {
	const agencies = 3
	l := &fakeLedger{bets: ledgerBets()}
	c := newCentral(t, l, agencies)
	var wg sync.WaitGroup
	for range 10 {
		for a := 1; a <= agencies; a++ {
			wg.Go(func() {
				got, err := c.Winners(context.Background(), a)
				if err != nil {
					t.Errorf("Winners(%d): %v", a, err)
					return
				}
				if !slices.Equal(got, wantWinners[a]) {
					t.Errorf("Winners(%d) = %v, want %v", a, got, wantWinners[a])
				}
			})
			wg.Go(func() {
				if err := c.Notify(a, 1); err != nil {
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

// lockedBuffer is a log output that tests read while the central writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestCentralAfterDrawLogged checks the order of a draw with a wait
// injected (the fake stands for the wait until the log's reader has the
// sorteo line): the sorteo line is logged before the wait starts, and
// until the wait returns no Winners call is answered, neither one held
// before the draw nor a new one, and Status does not report the draw. It
// holds for the draw of the last Notify and for the draw of a restart.
func TestCentralAfterDrawLogged(t *testing.T) {
	tests := []struct {
		name     string
		notified []int // the ledger's notifications at NewCentral
	}{
		{"last notification", nil},
		{"restart after the draw", []int{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out lockedBuffer
			waiting := make(chan struct{}) // the draw called the wait
			release := make(chan struct{}) // the wait may return
			var calls atomic.Int32
			wait := func() {
				calls.Add(1)
				if !strings.Contains(out.String(), "msg=sorteo") {
					t.Errorf("wait called before the sorteo line was logged; log:\n%s", out.String())
				}
				close(waiting)
				<-release
			}
			l := &fakeLedger{bets: ledgerBets(), notified: tt.notified}
			log := slog.New(slog.NewTextHandler(&out, nil))

			// The central, and the draw's Notify or NewCentral, blocked in
			// the wait.
			type made struct {
				c   *Central
				err error
			}
			centrals := make(chan made, 1)
			var c *Central
			if tt.notified == nil {
				var err error
				if c, err = NewCentral(l, 3, log, AfterDrawLogged(wait)); err != nil {
					t.Fatal(err)
				}
				for a := 1; a <= 2; a++ {
					if err := c.Notify(a, 1); err != nil {
						t.Fatal(err)
					}
				}
			}
			held := make(chan error, 1)
			if c != nil {
				go func() {
					_, err := c.Winners(boundedCtx(t), 1)
					held <- err
				}()
				go func() {
					centrals <- made{c, c.Notify(3, 1)}
				}()
			} else {
				go func() {
					c, err := NewCentral(l, 3, log, AfterDrawLogged(wait))
					centrals <- made{c, err}
				}()
			}
			select {
			case <-waiting:
			case <-time.After(10 * time.Second):
				t.Fatal("the draw never called the wait")
			}

			select {
			case m := <-centrals:
				t.Fatalf("the draw returned (%v) while its wait had not", m.err)
			case err := <-held:
				t.Fatalf("a held Winners returned (%v) while the draw's wait had not", err)
			case <-time.After(50 * time.Millisecond):
			}
			if c != nil {
				if _, err := c.Winners(shortCtx(t), 2); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("a new Winners during the wait = %v, want context.DeadlineExceeded", err)
				}
				checkStatus(t, c, 3, false)
			}

			close(release)
			m := <-centrals
			if m.err != nil {
				t.Fatal(m.err)
			}
			c = m.c
			if tt.notified == nil {
				if err := <-held; err != nil {
					t.Errorf("held Winners(1) after the wait: %v", err)
				}
			}
			checkStatus(t, c, 3, true)
			for a := 1; a <= 3; a++ {
				checkWinners(t, c, a)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("wait called %d times, want once per draw", n)
			}
		})
	}
}
