package lottery

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestISODateMatchesTimeParse checks the fast date check against
// time.Parse, which it replaces on the hot path, over every day-of-month
// candidate of two centuries and over random near-dates.
func TestISODateMatchesTimeParse(t *testing.T) {
	check := func(s string) {
		t.Helper()
		_, err := time.Parse(DateLayout, s)
		if got, want := isISODate(s), err == nil; got != want {
			t.Errorf("isISODate(%q) = %v, time.Parse says %v", s, got, want)
		}
	}
	for year := 1899; year <= 2101; year++ {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				check(fmt.Sprintf("%04d-%02d-%02d", year, month, day))
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789-+ x"
	for range 100000 {
		b := []byte("2000-02-29")
		for range 1 + rng.IntN(3) {
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		}
		check(string(b))
	}
	for _, s := range []string{"", "2000-1-1", "2000-01-011", "0000-02-29", "9999-12-31"} {
		check(s)
	}
}
