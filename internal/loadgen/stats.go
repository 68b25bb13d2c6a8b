package loadgen

import (
	"fmt"
	"slices"
	"time"
)

// Summary is the median, min and max of several runs of one figure.
type Summary struct {
	Median, Min, Max float64
}

// Summarize summarizes values (at least one).
func Summarize(values []float64) Summary {
	s := slices.Clone(values)
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Summary{Median: median, Min: s[0], Max: s[len(s)-1]}
}

// Line formats a figure for `make bench`: one line, median first.
func (s Summary) Line(name, unit string, runs int) string {
	return fmt.Sprintf("%-44s median %10.3f %-6s min %10.3f  max %10.3f  (%d runs)", name, s.Median, unit, s.Min, s.Max, runs)
}

// Percentile returns the p-th percentile (0..100) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// Millis returns d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
