// Package groupcommit is the queue in front of a writer that commits many
// requests at once (group commit): callers hand requests in from any
// goroutine; one goroutine takes every request waiting, up to a bound,
// and commits them as one group, so that one fsync or one transaction
// serves many batches. Both backends of the lottery's storage write
// through one.
package groupcommit

import (
	"context"
	"fmt"
	"sync"
)

// Queue hands requests of type T to its committer, one group at a time.
type Queue[T any] struct {
	mu     sync.RWMutex // held to send on reqs; exclusively to close it
	closed bool
	reqs   chan T
	exited chan struct{}
}

// Start returns a queue whose goroutine calls commit with each group: the
// requests waiting when it takes the first, in the order they came, until
// their weights reach maxWeight. commit owns the group's slice only until
// it returns. buffer is how many requests may wait before Submit blocks.
func Start[T any](buffer, maxWeight int, weight func(T) int, commit func(group []T)) *Queue[T] {
	q := &Queue[T]{reqs: make(chan T, buffer), exited: make(chan struct{})}
	go q.run(maxWeight, weight, commit)
	return q
}

// Submit hands r to the committer. It returns false, and hands nothing,
// once the queue is closed.
func (q *Queue[T]) Submit(r T) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	q.reqs <- r
	return true
}

// Close stops taking requests and returns once every request submitted
// before it is committed. It reports whether this call closed the queue:
// calling it again does nothing.
func (q *Queue[T]) Close() bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.closed = true
	close(q.reqs)
	q.mu.Unlock()
	<-q.exited
	return true
}

// run is the committer's goroutine.
func (q *Queue[T]) run(maxWeight int, weight func(T) int, commit func([]T)) {
	defer close(q.exited)
	var group []T
	for r := range q.reqs {
		group = append(group[:0], r)
		w := weight(r)
	gather:
		for w < maxWeight {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					break gather
				}
				group = append(group, r)
				w += weight(r)
			default:
				break gather
			}
		}
		commit(group)
		clear(group)
	}
}

// Answer is a request's answer: set once by the committer (Finish),
// awaited by any number of callers (Wait). Embedded in a request, it
// makes the request its own receipt.
type Answer[V any] struct {
	ready chan struct{} // closed once v and err are set
	v     V
	err   error
}

// NewAnswer returns an answer not yet given.
func NewAnswer[V any]() Answer[V] {
	return Answer[V]{ready: make(chan struct{})}
}

// Wait waits until the answer is given, and returns it; or, when ctx is
// done first, returns ctx's error wrapped (and its cause, where it has
// one). Giving up a wait gives up nothing else: the request is committed
// or not all the same, and a later Wait has its answer. An answer given
// is returned even when ctx is done too.
func (a *Answer[V]) Wait(ctx context.Context) (V, error) {
	select {
	case <-a.ready:
		return a.v, a.err
	default:
	}
	select {
	case <-a.ready:
		return a.v, a.err
	case <-ctx.Done():
		var zero V
		return zero, gaveUp(ctx)
	}
}

// gaveUp is the error of a wait that ctx ended: it wraps ctx's error and,
// where it differs, its cause, so that callers can tell either.
func gaveUp(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != ctx.Err() {
		return fmt.Errorf("gave up waiting for the write: %w: %w", ctx.Err(), cause)
	}
	return fmt.Errorf("gave up waiting for the write: %w", ctx.Err())
}

// Finish gives the answer. It is called once.
func (a *Answer[V]) Finish(v V, err error) {
	a.v, a.err = v, err
	close(a.ready)
}
