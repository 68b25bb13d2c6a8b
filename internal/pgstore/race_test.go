package pgstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// events records what a central tells.
type events struct {
	mu    sync.Mutex
	drawn []lottery.Result
}

func (e *events) Notified(int, uint64) {}
func (e *events) DrawFailed(error)     {}
func (e *events) Drawn(r lottery.Result, _ []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drawn = append(e.drawn, r)
}

// replica is a central over its own store of a shared database.
type replica struct {
	store   *Store
	central *lottery.Central
	events  *events
}

func startReplica(t *testing.T, url string, agencies int) *replica {
	t.Helper()
	r := &replica{store: open(t, url), events: &events{}}
	c, err := lottery.NewCentral(context.Background(), r.store, agencies, r.events)
	if err != nil {
		t.Fatal(err)
	}
	r.central = c
	return r
}

// holdCommit makes s's next commit wait, once it has written, until
// release is closed (at the latest when the test ends); held is closed
// once it waits.
func holdCommit(t *testing.T, s *Store) (held, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { // before the stores close, which wait for the commit
		select {
		case <-release:
		default:
			close(release)
		}
	})
	s.beforeCommit = func() error {
		once.Do(func() {
			close(held)
			<-release
		})
		return nil
	}
	return held, release
}

func bets(n int) []lottery.Bet {
	out := make([]lottery.Bet, n)
	for i := range out {
		out[i] = lottery.Bet{FirstName: "Ana", LastName: "Gómez", Document: "3090446" + string(rune('0'+i%10)), Birthdate: "1999-03-17", Number: 7574 - i}
	}
	return out
}

// TestReplicasRaceForABatch: an agency's batch reaches two replicas at
// once (it reconnected to the second while the first still committed
// it). The seam holds the first's transaction, its rows written, until
// the second's is under way: the database makes the second wait for the
// agency's row, then refuses it (the position is stored). The batch is
// stored once; the second replica's answer sends the agency back to
// resume (ErrUnavailable), and both replicas then agree on where it
// stands.
func TestReplicasRaceForABatch(t *testing.T) {
	url := pgtest.Database(t)
	one, two := startReplica(t, url, 1), startReplica(t, url, 1)
	batch := bets(10)
	held, release := holdCommit(t, one.store)
	first := one.central.Submit(1, 0, append([]lottery.Bet(nil), batch...))
	<-held
	if _, err := two.central.Resume(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	second := two.central.Submit(1, 0, append([]lottery.Bet(nil), batch...))
	waitForLockWait(t, url)
	close(release)
	if stored, fresh, err := first.Wait(context.Background()); err != nil || stored != 10 || fresh != 10 {
		t.Fatalf("first replica: stored %d, fresh %d, %v; want 10, 10", stored, fresh, err)
	}
	if _, _, err := second.Wait(context.Background()); !errors.Is(err, lottery.ErrUnavailable) {
		t.Fatalf("second replica: %v, want ErrUnavailable (the agency resumes)", err)
	}
	for _, r := range []*replica{one, two} {
		st, err := r.central.Resume(context.Background(), 1)
		if err != nil || st.Stored != 10 {
			t.Errorf("Resume: %+v, %v; want 10 stored", st, err)
		}
	}
	n := 0
	for _, err := range one.store.LoadBets() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 10 {
		t.Errorf("the database holds %d bets, want the batch's 10 once", n)
	}
}

// waitForLockWait waits until a session of the database at url waits
// for a lock.
func waitForLockWait(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	s := open(t, url)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no transaction waits for the agency's row")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasRaceForTheDraw: two replicas close sales at once, as a
// deadline does on each. The seam holds the first's draw record, written,
// while the second closes sales: the second finds the right to hold the
// draw taken and does not evaluate the bets too; once the first has
// recorded the draw, the second learns it from the database (its winners
// checked against the record). The draw is recorded once, each replica
// tells it once, and both answer the same winners.
func TestReplicasRaceForTheDraw(t *testing.T) {
	url := pgtest.Database(t)
	one, two := startReplica(t, url, 2), startReplica(t, url, 2)
	for agency, r := range map[int]*replica{1: one, 2: two} {
		if _, _, err := r.central.Submit(agency, 0, bets(10)).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	held, release := holdCommit(t, one.store)
	first := make(chan error, 1)
	go func() { first <- one.central.CloseSales() }()
	<-held
	if err := two.central.CloseSales(); err != nil {
		t.Fatalf("the second replica's CloseSales: %v", err)
	}
	if two.central.Drawn() {
		t.Fatal("the second replica held the draw while the first held the right to")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for agency := 1; agency <= 2; agency++ {
		w1, d1, err1 := one.central.Winners(context.Background(), agency)
		w2, d2, err2 := two.central.Winners(context.Background(), agency)
		if err := errors.Join(err1, err2); err != nil || d1 != d2 || len(w1) != 1 || len(w2) != 1 || w1[0] != w2[0] {
			t.Errorf("agency %d: winners %v (%s) and %v (%s), %v; want the same one winner", agency, w1, d1, w2, d2, err)
		}
	}
	st, err := one.store.State(context.Background())
	if err != nil || st.Recorded == nil || st.Recorded.Bets != 20 || st.Recorded.Winners != 2 {
		t.Fatalf("recorded draw %v, %v; want one over 20 bets with 2 winners", st.Recorded, err)
	}
	if len(one.events.drawn) != 1 || len(two.events.drawn) != 1 || one.events.drawn[0] != *st.Recorded || two.events.drawn[0] != *st.Recorded {
		t.Errorf("drawn events %v and %v, want the recorded draw once each", one.events.drawn, two.events.drawn)
	}
}
