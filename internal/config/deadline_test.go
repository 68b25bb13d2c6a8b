package config

import (
	"strings"
	"testing"
	"time"
)

// TestServerDeadlineNow: DRAW_DEADLINE=now closes sales at the start, and
// one second is the shortest duration taken.
func TestServerDeadlineNow(t *testing.T) {
	start := time.Date(2026, 5, 1, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Time
	}{
		{"now", start},
		{"1s", start.Add(time.Second)},
	} {
		c, err := LoadServer(missingFile(t, "config.ini"), fakeEnv(map[string]string{"DRAW_DEADLINE": tc.value}))
		if err != nil {
			t.Fatalf("DRAW_DEADLINE=%s: %v", tc.value, err)
		}
		if at, ok := c.Deadline(start); !ok || !at.Equal(tc.want) {
			t.Errorf("DRAW_DEADLINE=%s: Deadline = %v, %v; want %v", tc.value, at, ok, tc.want)
		}
	}
}

// TestServerCheckDeadline: a deadline time already past at start is
// refused, naming the key and DRAW_DEADLINE=now, unless a draw is
// recorded (it is final) or the operator said now.
func TestServerCheckDeadline(t *testing.T) {
	start := time.Date(2026, 5, 1, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value   string
		drawn   bool
		refused bool
	}{
		{"", false, false},
		{"now", false, false},
		{"2h", false, false},
		{"2026-05-01T21:00:00Z", false, false},
		{"2026-05-01T18:00:00Z", false, true}, // the start itself is past
		{"2025-05-01T21:00:00Z", false, true},
		{"2025-05-01T21:00:00Z", true, false},
	} {
		c := DefaultServer()
		c.DrawDeadline = tc.value
		if err := c.Validate(); err != nil {
			t.Fatalf("DRAW_DEADLINE=%s: %v", tc.value, err)
		}
		err := c.CheckDeadline(start, tc.drawn)
		if !tc.refused {
			if err != nil {
				t.Errorf("DRAW_DEADLINE=%s drawn=%v: %v, want no error", tc.value, tc.drawn, err)
			}
			continue
		}
		checkKeyError(t, err, "DRAW_DEADLINE")
		if msg := err.Error(); !strings.Contains(msg, "already past") || !strings.Contains(msg, "DRAW_DEADLINE=now") {
			t.Errorf("DRAW_DEADLINE=%s: %q, want it to say it is past and name DRAW_DEADLINE=now", tc.value, msg)
		}
	}
}
