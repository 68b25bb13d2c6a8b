package groupcommit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// TestGroups: requests submitted while the committer is busy are
// committed together, in the order they came, up to the weight bound;
// Close waits for all of them, and nothing is taken after it.
func TestGroups(t *testing.T) {
	busy, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var groups [][]int
	q := Start(16, 3, func(int) int { return 1 }, func(g []int) {
		mu.Lock()
		groups = append(groups, slices.Clone(g))
		mu.Unlock()
		if g[0] == 0 {
			close(busy)
			<-release
		}
	})
	q.Submit(0)
	<-busy
	for i := 1; i <= 5; i++ {
		if !q.Submit(i) {
			t.Fatalf("Submit(%d) refused before Close", i)
		}
	}
	close(release)
	if !q.Close() {
		t.Fatal("Close did not close the queue")
	}
	if q.Close() {
		t.Error("a second Close closed it again")
	}
	if q.Submit(6) {
		t.Error("Submit after Close was taken")
	}
	want := [][]int{{0}, {1, 2, 3}, {4, 5}}
	if !slices.EqualFunc(groups, want, slices.Equal) {
		t.Errorf("groups %v, want %v", groups, want)
	}
}

// TestAnswer: every waiter, before and after Finish, gets the one answer.
func TestAnswer(t *testing.T) {
	a := NewAnswer[int]()
	var wg sync.WaitGroup
	got := make([]int, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = a.Wait(context.Background())
		}()
	}
	a.Finish(7, nil)
	wg.Wait()
	if v, err := a.Wait(context.Background()); v != 7 || err != nil || slices.ContainsFunc(got, func(v int) bool { return v != 7 }) {
		t.Errorf("answers %v and %d, %v; want 7 each time", got, v, err)
	}
}

// TestAnswerGivenUp: a wait that its context ends returns the context's
// error and its cause, wrapped; the answer, given later, is still every
// later waiter's, and an answer given wins over a context also done.
func TestAnswerGivenUp(t *testing.T) {
	errGrace := errors.New("grace period over")
	a := NewAnswer[int]()
	ctx, cancel := context.WithCancelCause(context.Background())
	waited := make(chan error, 1)
	go func() {
		_, err := a.Wait(ctx)
		waited <- err
	}()
	cancel(errGrace)
	if err := <-waited; !errors.Is(err, context.Canceled) || !errors.Is(err, errGrace) {
		t.Errorf("Wait after its context ended: %v, want context.Canceled and its cause", err)
	}
	a.Finish(7, nil)
	if v, err := a.Wait(ctx); v != 7 || err != nil {
		t.Errorf("Wait once answered, its context done: %d, %v; want 7, nil", v, err)
	}
	if v, err := a.Wait(context.Background()); v != 7 || err != nil {
		t.Errorf("Wait again: %d, %v; want 7, nil", v, err)
	}
}
