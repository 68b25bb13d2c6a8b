package admin

import (
	"sync"
	"time"
)

// RateWindow is how far back the ingest rate looks, in RateBuckets slots
// of RateBucket each.
const (
	RateBucket  = 250 * time.Millisecond
	RateBuckets = 20
	RateWindow  = RateBucket * RateBuckets
)

// Rate is the ingest rate: the bets committed (acknowledged, hence
// durable) over the last RateWindow, divided by the window, or, where no
// bet came in the window before it, by the time since the earliest of
// them (at least one RateBucket). In a steady upload it is the bets of
// the whole window over the window; when an upload starts it is the rate
// since it started, not diluted by the idle seconds before it; when uploads stop it falls, and is 0 once RateWindow has passed
// with no bet. It counts as bets are committed, whoever asks: the rate
// sampled at each request to /status was diluted by the time between
// requests and kept rising after ingest ended.
type Rate struct {
	now func() time.Time

	mu sync.Mutex
	// slots is a ring, by slot number modulo its length: the window,
	// and the window before it, which tells whether the upload began in
	// the window or goes on from before it.
	slots [2 * RateBuckets]rateSlot
}

// rateSlot holds the bets committed in one RateBucket.
type rateSlot struct {
	n    int64 // the slot's number: time since the Unix epoch / RateBucket
	bets uint64
}

// NewRate returns a Rate that reads the time from now (time.Now; a fake
// clock in tests).
func NewRate(now func() time.Time) *Rate { return &Rate{now: now} }

// slotOf returns the number of t's slot.
func slotOf(t time.Time) int64 { return t.UnixNano() / int64(RateBucket) }

// Add counts bets committed now.
func (r *Rate) Add(bets int) {
	if bets <= 0 {
		return
	}
	n := slotOf(r.now())
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.slots[n%int64(len(r.slots))]
	if s.n != n {
		*s = rateSlot{n: n}
	}
	s.bets += uint64(bets)
}

// PerSecond returns the bets committed per second now.
func (r *Rate) PerSecond() float64 {
	now := r.now()
	cur := slotOf(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	var bets uint64
	oldest, before := cur+1, false
	for _, s := range r.slots {
		switch {
		case s.bets == 0 || s.n > cur || s.n <= cur-2*RateBuckets:
		case s.n <= cur-RateBuckets:
			before = true
		default:
			bets += s.bets
			oldest = min(oldest, s.n)
		}
	}
	if bets == 0 {
		return 0
	}
	if before {
		oldest = cur - RateBuckets + 1
	}
	span := max(now.Sub(time.Unix(0, oldest*int64(RateBucket))), RateBucket)
	return float64(bets) / span.Seconds()
}
