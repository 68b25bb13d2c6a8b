package lottery

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
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

// TestBirthdateRange checks the range of a bettor's birthdate against a
// fixed clock: from MinBirthYear-01-01 to today anywhere on Earth.
func TestBirthdateRange(t *testing.T) {
	// 2025-06-15 10:00 UTC: already 06-16 in UTC+14, still 06-15 in UTC-12.
	now := time.Date(2025, time.June, 15, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		date string
		ok   bool
	}{
		{"0000-01-01", false}, // Python's date.fromisoformat: year 0 is out of range
		{"0001-01-01", false},
		{"1899-12-31", false},
		{"1900-01-01", true},
		{"1980-01-01", true},
		{"2000-02-29", true},
		{"2025-06-15", true},
		{"2025-06-16", true}, // today in UTC+14
		{"2025-06-17", false},
		{"2025-07-01", false},
		{"2026-01-01", false},
		{"9999-12-31", false},
		{"2025-02-29", false}, // not a real date
	}
	for _, tt := range tests {
		err := NewValidator(now).validateBirthdate(tt.date)
		if (err == nil) != tt.ok {
			t.Errorf("validateBirthdate(%q, %v) = %v, want ok %v", tt.date, now, err, tt.ok)
		}
	}
	// The same instant in another zone is the same today.
	if err := NewValidator(now.In(time.FixedZone("UTC-12", -12*3600))).validateBirthdate("2025-06-16"); err != nil {
		t.Errorf("the clock's zone changed the range: %v", err)
	}
}

// TestValidateBirthdateOutOfRange checks the rule through Validate, with
// the real clock: these dates are out of range on any day of this era.
func TestValidateBirthdateOutOfRange(t *testing.T) {
	bet := Bet{Agency: 1, FirstName: "Ana", LastName: "Paz", Document: "1", Number: 1}
	for _, date := range []string{"0000-01-01", "1899-12-31", "9999-12-31"} {
		bet.Birthdate = date
		if err := Validate(bet); !errors.Is(err, ErrInvalidBet) || !strings.Contains(err.Error(), "birthdate") {
			t.Errorf("Validate with birthdate %s = %v, want an invalid birthdate", date, err)
		}
	}
	bet.Birthdate = "1900-01-01"
	if err := Validate(bet); err != nil {
		t.Errorf("Validate with birthdate 1900-01-01 = %v", err)
	}
}

// TestCourseDatasetBirthdates checks that every birthdate of the course
// dataset is in range, and that every bet of it is valid as it stands:
// its text is already canonical (CanonicalText), so the central would take
// it even from a reader that normalized nothing. It reads
// ../shared/data/dataset.zip beside the repository, and skips where that
// is absent.
func TestCourseDatasetBirthdates(t *testing.T) {
	now := time.Now()
	v := NewValidator(now)
	n := 0
	for _, f := range harness.Dataset(t) {
		records, err := csv.NewReader(bytes.NewReader(f.Data)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for i, rec := range records {
			if len(rec) != 5 {
				t.Fatalf("%s line %d: %d fields, want 5", f.Name, i+1, len(rec))
			}
			if err := NewValidator(now).validateBirthdate(rec[3]); err != nil {
				t.Errorf("%s line %d: %v", f.Name, i+1, err)
			}
			number, err := ParseNumber(rec[4])
			if err == nil {
				err = v.Validate(Bet{Agency: 1, FirstName: rec[0], LastName: rec[1], Document: rec[2], Birthdate: rec[3], Number: number})
			}
			if err != nil {
				t.Errorf("%s line %d: %v", f.Name, i+1, err)
			}
			n++
		}
	}
	if n != courseBets {
		t.Errorf("the course dataset holds %d bets, want %d", n, courseBets)
	}
}

// courseBets is the number of bets of the course dataset.
const courseBets = 78697
