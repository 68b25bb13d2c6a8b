package admin

import (
	"math"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func near(got, want float64) bool        { return math.Abs(got-want) <= want*0.06+1e-9 }

func TestRate(t *testing.T) {
	type step struct {
		wait time.Duration // before adding
		bets int
	}
	// steady is n batches of bets, every every.
	steady := func(n, bets int, every time.Duration) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{every, bets}
		}
		return s
	}
	tests := []struct {
		name  string
		steps []step
		after time.Duration // idle after the last step, before asking
		want  float64
	}{
		{name: "nothing ever", want: 0},
		// 300,000 bets/s for 10 s: batches of 3,000 every 10 ms.
		{name: "steady at 300,000 bets/s", steps: steady(1000, 3000, 10*time.Millisecond), want: 300_000},
		// The course run's figure: the same rate, sampled after 2 s of it,
		// is not diluted by the idle minute before it.
		{name: "two seconds after a minute idle", steps: append([]step{{0, 1}, {time.Minute, 0}}, steady(200, 3000, 10*time.Millisecond)...), want: 300_000},
		{name: "a second after the upload ended", steps: steady(500, 3000, 10*time.Millisecond), after: time.Second, want: 300_000 * 4.0 / 5.0},
		{name: "idle for the window after the upload", steps: steady(500, 3000, 10*time.Millisecond), after: RateWindow, want: 0},
		{name: "idle for an hour", steps: steady(500, 3000, 10*time.Millisecond), after: time.Hour, want: 0},
		{name: "one batch just now", steps: []step{{time.Second, 200}}, want: 200 / RateBucket.Seconds()},
		{name: "slow: 100 bets a second", steps: steady(30, 100, time.Second), want: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC)}
			r := NewRate(clock.now)
			for _, s := range tt.steps {
				clock.add(s.wait)
				r.Add(s.bets)
			}
			clock.add(tt.after)
			if got := r.PerSecond(); !near(got, tt.want) {
				t.Errorf("PerSecond() = %.1f, want %.1f", got, tt.want)
			}
		})
	}
}

// TestRateFallsAfterIngest checks that the rate never rises once bets
// stop: the old rate went on rising after ingest ended.
func TestRateFallsAfterIngest(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC)}
	r := NewRate(clock.now)
	for range 300 {
		clock.add(10 * time.Millisecond)
		r.Add(3000)
	}
	prev := r.PerSecond()
	for range 30 {
		clock.add(RateBucket)
		got := r.PerSecond()
		if got > prev {
			t.Fatalf("the rate rose from %.0f to %.0f with no bet committed", prev, got)
		}
		prev = got
	}
	if prev != 0 {
		t.Errorf("the rate is %.0f after %v idle, want 0", prev, 30*RateBucket)
	}
}
