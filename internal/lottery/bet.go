// Package lottery is the domain of the national lottery: the bets that
// agencies take, the rules that make a bet valid, the rule that makes it a
// winner, and the draw that turns the stored bets into each agency's winners.
//
// It knows nothing of how bets travel (see package protocol) or how they are
// kept (see package storage).
package lottery

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// LotteryWinnerNumber is the number that wins the draw.
const LotteryWinnerNumber = 7574

// MaxNumber is the largest number a bet may play.
const MaxNumber = 9999

// DateLayout is the layout of a bet's birthdate (ISO 8601, a calendar date).
const DateLayout = "2006-01-02"

// MinBirthYear is the earliest year of a bettor's birth. A birthdate is a
// real date from MinBirthYear-01-01 to today: no bettor alive was born
// before 1900, and none is yet to be born. The range also keeps bets.csv
// readable by the course's Python load_bets, whose date.fromisoformat
// refuses year 0 (any year outside 1..9999).
const MinBirthYear = 1900

// maxUTCOffset is the largest offset of a time zone from UTC (UTC+14,
// Kiribati): "today" is the latest date anywhere on Earth, so that the
// central's clock never refuses an agency's newborn for its time zone.
const maxUTCOffset = 14 * time.Hour

// Bet is one bet taken by an agency.
type Bet struct {
	Agency    int    // the agency that took the bet, 1..AGENCIES_AMOUNT
	FirstName string // the bettor's first name
	LastName  string // the bettor's last name
	Document  string // the bettor's document (DNI), digits only; not unique
	Birthdate string // the bettor's birthdate, YYYY-MM-DD
	Number    int    // the number played, 0..MaxNumber
}

// HasWon reports whether bet is a winner: its number is LotteryWinnerNumber.
func HasWon(bet Bet) bool {
	return bet.Number == LotteryWinnerNumber
}

// Limits on the text fields of a bet. They keep any single bet far below the
// size of a frame, so that a batch always holds at least one bet.
const (
	MaxNameLen     = 255 // bytes: a name travels behind a one-byte length
	MaxDocumentLen = 16  // digits
)

// ErrInvalidBet is wrapped by every error that Validate returns.
var ErrInvalidBet = errors.New("invalid bet")

// Validate checks every field of bet except its agency, which only the
// central can check against the number of agencies it expects (see
// ValidateAgency), with today's date. The error names the first field
// that is wrong. To check many bets, NewValidator reads the clock once.
func Validate(bet Bet) error {
	return NewValidator(time.Now()).Validate(bet)
}

// Validator checks bets as of one day. Reading the clock and turning it
// into a date costs more than checking a bet, so a batch or a file of
// bets is checked with one Validator.
type Validator struct {
	year, month, day int // the latest date anywhere on Earth at now
}

// NewValidator returns a Validator as of now.
func NewValidator(now time.Time) Validator {
	y, m, d := now.UTC().Add(maxUTCOffset).Date()
	return Validator{year: y, month: int(m), day: d}
}

// Validate is the package's Validate, as of v's day.
func (v Validator) Validate(bet Bet) error {
	if err := validateName(bet.FirstName); err != nil {
		return fieldError("first_name", err)
	}
	if err := validateName(bet.LastName); err != nil {
		return fieldError("last_name", err)
	}
	if err := validateDocument(bet.Document); err != nil {
		return fieldError("document", err)
	}
	if err := v.validateBirthdate(bet.Birthdate); err != nil {
		return fieldError("birthdate", err)
	}
	if bet.Number < 0 || bet.Number > MaxNumber {
		return fieldError("number", fmt.Errorf("%d is outside 0..%d", bet.Number, MaxNumber))
	}
	return nil
}

// MaxAgencies is the most agencies a lottery may have (AGENCIES_AMOUNT),
// and so the largest agency number. The wire carries an agency number in
// 32 bits (protocol.Hello); this bound is lower, and an agency that knows
// it refuses a larger id at start rather than be truncated or refused by
// the central.
const MaxAgencies = 65535

// ValidateAgency checks that agency is one of the agencies 1..agencies.
func ValidateAgency(agency, agencies int) error {
	if agency < 1 || agency > agencies {
		return fieldError("agency", fmt.Errorf("%d is outside 1..%d", agency, agencies))
	}
	return nil
}

func fieldError(field string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalidBet, field, err)
}

func validateName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > MaxNameLen:
		return fmt.Errorf("longer than %d bytes", MaxNameLen)
	}
	blank := true
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			if r, size = utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size == 1 {
				return errors.New("not valid UTF-8")
			}
		}
		// Control characters (newlines above all) have no place in a name
		// and would break line-oriented tools that read bets.csv.
		if unicode.IsControl(r) {
			return fmt.Errorf("control character %U", r)
		}
		blank = blank && unicode.IsSpace(r)
		i += size
	}
	if blank {
		return errors.New("blank")
	}
	return nil
}

func validateDocument(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > MaxDocumentLen {
		return fmt.Errorf("longer than %d digits", MaxDocumentLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%q is not all digits", s)
		}
	}
	return nil
}

// validateBirthdate checks that s is a real date from MinBirthYear-01-01
// to v's day.
func (v Validator) validateBirthdate(s string) error {
	year, month, day, ok := parseISODate(s)
	if !ok {
		return fmt.Errorf("%q is not a real YYYY-MM-DD date", s)
	}
	if year < MinBirthYear {
		return fmt.Errorf("%s is before %d-01-01", s, MinBirthYear)
	}
	if year > v.year || year == v.year && (month > v.month || month == v.month && day > v.day) {
		return fmt.Errorf("%s is in the future", s)
	}
	return nil
}

// isISODate reports whether s is YYYY-MM-DD and names a day that exists,
// as time.Parse(DateLayout, s) would.
func isISODate(s string) bool {
	_, _, _, ok := parseISODate(s)
	return ok
}

// parseISODate parses s as YYYY-MM-DD, ok when it names a day that
// exists, as time.Parse(DateLayout, s) would, without its cost: this runs
// for every bet the central takes.
func parseISODate(s string) (year, month, day int, ok bool) {
	if len(s) != len(DateLayout) || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	num := func(part string) (int, bool) {
		n := 0
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, false
			}
			n = n*10 + int(part[i]-'0')
		}
		return n, true
	}
	year, ok1 := num(s[:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return 0, 0, 0, false
	}
	return year, month, day, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// ParseNumber parses the number a bet plays, as written in a file or on the
// wire's text form, and checks its range.
func ParseNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxNumber {
		return 0, fmt.Errorf("%w: number: %q is not an integer in 0..%d", ErrInvalidBet, s, MaxNumber)
	}
	return n, nil
}

// Errors of the ledger of bets, on which the central and its agencies
// branch. A Ledger wraps them with context.
var (
	// ErrOutOfOrder: a batch starts past the agency's committed count,
	// which would leave a gap in its stream.
	ErrOutOfOrder = errors.New("batch leaves a gap after the committed bets")
	// ErrClosed: the agency has notified (or the draw was held), so it
	// takes no new bets.
	ErrClosed = errors.New("agency takes no new bets after notifying")
	// ErrIncomplete: a done notification whose total is not the agency's
	// committed count.
	ErrIncomplete = errors.New("done total differs from the committed bets")
	// ErrUnavailable: the ledger cannot take writes (it failed or is
	// closing). Nothing of the request was acknowledged.
	ErrUnavailable = errors.New("ledger unavailable")
	// ErrInconsistent refuses a ledger that does not fit the central's
	// configuration or its own record of the draw: the central does not
	// start over it.
	ErrInconsistent = errors.New("ledger inconsistent")
)
