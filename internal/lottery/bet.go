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
	// A document and a birthdate are ASCII digits and dashes, so canonical
	// text by their own rule: CanonicalText runs on them only to say why
	// one is refused, when it is not canonical (a space around it, a
	// U+FEFF glued to it), in the words it uses for names.
	if err := validateDocument(bet.Document); err != nil {
		return fieldError("document", canonicalOr(bet.Document, err))
	}
	if err := v.validateBirthdate(bet.Birthdate); err != nil {
		return fieldError("birthdate", canonicalOr(bet.Birthdate, err))
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
	return CanonicalText(s)
}

// canonicalOr returns why s is not canonical text (CanonicalText), or err
// when it is.
func canonicalOr(s string, err error) error {
	if cerr := CanonicalText(s); cerr != nil {
		return cerr
	}
	return err
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

// ParseNumber parses the number a bet plays, as written in a file, and
// checks its range: plain ASCII digits only, no sign, no white space, no
// other numeral, with a value in 0..MaxNumber. Leading zeros are accepted
// ("0042" and "07574" are 42 and 7574), as the quiniela writes its numbers
// with four digits: the number is an int, so it has one rendering however
// it was written (decimal without leading zeros, in bets.csv and in the
// agency's digest). A reader trims white space around the field first.
func ParseNumber(s string) (int, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: number: %q is not plain digits 0..%d", ErrInvalidBet, s, MaxNumber)
		}
		if n = n*10 + int(c-'0'); n > MaxNumber {
			return 0, fmt.Errorf("%w: number: %q is outside 0..%d", ErrInvalidBet, s, MaxNumber)
		}
	}
	if s == "" {
		return 0, fmt.Errorf("%w: number: empty", ErrInvalidBet)
	}
	return n, nil
}

// Errors of the ledger of bets, on which the central and its agencies
// branch. A Ledger wraps them with context.
var (
	// ErrOutOfOrder: a batch starts past the agency's committed count,
	// which would leave a gap in its stream.
	ErrOutOfOrder = errors.New("batch leaves a gap after the committed bets")
	// ErrClosed: the agency has notified, or sales closed (the draw
	// was held, or a draw deadline passed), so it takes no new bets.
	ErrClosed = errors.New("agency takes no new bets after notifying or after sales closed")
	// ErrIncomplete: a done notification whose total is not the agency's
	// committed count.
	ErrIncomplete = errors.New("done total differs from the committed bets")
	// ErrUnavailable: the ledger cannot take writes (it failed or is
	// closing). Nothing of the request was acknowledged.
	ErrUnavailable = errors.New("ledger unavailable")
	// ErrConflict: another central sharing the ledger wrote first (see
	// SharedLedger): the position is stored, or the draw recorded. The
	// ledger holds what the other wrote; nothing of the refused write.
	ErrConflict = errors.New("another central wrote first")
	// ErrInconsistent refuses a ledger that does not fit the central's
	// configuration or its own record of the draw: the central does not
	// start over it.
	ErrInconsistent = errors.New("ledger inconsistent")
)

// Text fields. A bet's text fields (first_name, last_name, document,
// birthdate) are kept in one canonical form, so that the same name is the
// same bytes wherever it is: in the agency's digest, on the wire, in
// bets.csv. CanonicalText states the form; Validate applies it to every
// text field, so the central refuses a bet whose text is not canonical
// and stores exactly the bytes that the agency hashed. Turning almost-right
// input into canonical text (trimming, NFC) is the job of whoever reads
// the input (package betcsv for the agencies' files); the central does not
// change a bet.

// CanonicalText reports whether s is in the canonical form of a bet's text
// fields, and if not, why, naming the first character that is not allowed
// and where it is. Canonical text is valid UTF-8 and
//
//   - has no white space (unicode.IsSpace) at its start or its end, and is
//     not only white space; white space inside it is kept as it is;
//   - has no control character (Cc: NUL, tab, CR, LF, DEL, C1 controls)
//     and no format character (Cf: U+FEFF the byte-order mark, U+200B
//     ZERO WIDTH SPACE, U+200D ZERO WIDTH JOINER, U+00AD SOFT HYPHEN, the
//     bidirectional marks, embeddings and isolates...) anywhere, nor a
//     line or paragraph separator (U+2028, U+2029): they are invisible or
//     break lines, so two names that look the same would differ;
//   - has no combining mark (Mn, Mc, Me) anywhere: an accented letter is
//     written precomposed, "é" as U+00E9, not "e" followed by U+0301.
//
// The last rule, with the refusal of five characters that NFC replaces
// (U+212A KELVIN SIGN, U+212B ANGSTROM SIGN, U+2126 OHM SIGN, U+2000 EN
// QUAD, U+2001 EM QUAD), stands in for Unicode NFC, which the standard library cannot compute.
// For the Latin-script names of this lottery it is exactly NFC: every
// accented Latin letter has a precomposed form, which NFC chooses, and no
// other Latin character changes under NFC (betcsv.TestCanonicalTextIsNFC).
// A name whose NFC form still holds a combining mark (a letter with no
// precomposed form, such as "n̈", or a script whose vowel signs are marks,
// such as Devanagari) is refused rather than stored in a form that two
// agencies could write in different bytes. Outside Latin script a few
// characters pass that NFC would still change (Greek letters with oxia,
// CJK compatibility ideographs, Hangul written as conjoining jamo); the
// agency's reader puts every field in NFC, so it never sends them.
//
// The empty string is canonical: whether a field may be empty is the
// field's rule.
func CanonicalText(s string) error {
	if s == "" {
		return nil
	}
	// This runs for every text field of every bet the central takes, so
	// the characters of nearly every name (printable ASCII, and the Latin
	// letters U+00C0..U+02FF, two bytes led by 0xC3..0xCB) are passed over
	// without decoding them.
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c >= 0xc3 && c <= 0xcb && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			i += 2
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("not valid UTF-8 (byte %#02x at byte %d)", c, i)
		}
		if kind := forbidden(r); kind != "" {
			return fmt.Errorf("%s %s (%s)", runeName(r), where(i, size, len(s)), kind)
		}
		i += size
	}
	// Control characters are refused above: white space here is a space
	// when ASCII.
	if c := s[0]; c == ' ' || c >= utf8.RuneSelf && isSpaceAt(s, 0) {
		return spaceError(s)
	}
	if c := s[len(s)-1]; c == ' ' || c >= utf8.RuneSelf && isSpaceAt(s, len(s)) {
		return spaceError(s)
	}
	return nil
}

// isSpaceAt reports whether the rune of s that starts at i, or when i is
// len(s) the last rune of s, is white space.
func isSpaceAt(s string, i int) bool {
	var r rune
	if i == len(s) {
		r, _ = utf8.DecodeLastRuneInString(s)
	} else {
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return unicode.IsSpace(r)
}

// forbidden returns what kind of character r is when canonical text may
// not hold it anywhere, and "" when it may.
func forbidden(r rune) string {
	switch {
	case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		return "a control character"
	case r < 0x300 && r != 0xad:
		return "" // Latin-1 and Latin Extended: letters, symbols, U+00A0 (only U+00AD is Cf)
	case r == 0x2028 || r == 0x2029:
		return "a line break"
	case unicode.Is(unicode.Cf, r):
		return "a format character, invisible"
	case unicode.Is(unicode.M, r):
		return "a combining mark: write the letter precomposed (Unicode NFC)"
	}
	if to, ok := nfcSingletons[r]; ok {
		return fmt.Sprintf("Unicode NFC writes it as %U", to)
	}
	return ""
}

// nfcSingletons are the characters of Latin-script text, and the spaces
// between its words, that NFC replaces with another character.
var nfcSingletons = map[rune]rune{
	0x2000: 0x2002, // EN QUAD: EN SPACE
	0x2001: 0x2003, // EM QUAD: EM SPACE
	0x2126: 0x03A9, // OHM SIGN: GREEK CAPITAL LETTER OMEGA
	0x212A: 0x004B, // KELVIN SIGN: LATIN CAPITAL LETTER K
	0x212B: 0x00C5, // ANGSTROM SIGN: LATIN CAPITAL LETTER A WITH RING ABOVE
}

// spaceError is the error for s, which starts or ends with white space.
func spaceError(s string) error {
	blank := true
	for _, r := range s {
		if !unicode.IsSpace(r) {
			blank = false
			break
		}
	}
	if blank {
		return errors.New("blank: only white space")
	}
	if r, size := utf8.DecodeRuneInString(s); unicode.IsSpace(r) {
		return fmt.Errorf("%s %s (white space around the text)", runeName(r), where(0, size, len(s)))
	}
	r, size := utf8.DecodeLastRuneInString(s)
	return fmt.Errorf("%s %s (white space around the text)", runeName(r), where(len(s)-size, size, len(s)))
}

// where says where the character at byte i, size bytes long, is in a text
// of n bytes.
func where(i, size, n int) string {
	switch {
	case i == 0:
		return "at the start of the text"
	case i+size == n:
		return "at the end of the text"
	}
	return "inside the text"
}

// runeNames names the characters that most often make text not canonical:
// those that editors, spreadsheets and copy and paste leave in a name.
var runeNames = map[rune]string{
	0x0000: "NULL",
	0x0009: "CHARACTER TABULATION",
	0x000A: "LINE FEED",
	0x000B: "LINE TABULATION",
	0x000C: "FORM FEED",
	0x000D: "CARRIAGE RETURN",
	0x0020: "SPACE",
	0x007F: "DELETE",
	0x0085: "NEXT LINE",
	0x00A0: "NO-BREAK SPACE",
	0x00AD: "SOFT HYPHEN",
	0x0300: "COMBINING GRAVE ACCENT",
	0x0301: "COMBINING ACUTE ACCENT",
	0x0303: "COMBINING TILDE",
	0x0308: "COMBINING DIAERESIS",
	0x0327: "COMBINING CEDILLA",
	0x034F: "COMBINING GRAPHEME JOINER",
	0x061C: "ARABIC LETTER MARK",
	0x1680: "OGHAM SPACE MARK",
	0x180E: "MONGOLIAN VOWEL SEPARATOR",
	0x2000: "EN QUAD",
	0x2001: "EM QUAD",
	0x2002: "EN SPACE",
	0x2003: "EM SPACE",
	0x2009: "THIN SPACE",
	0x200B: "ZERO WIDTH SPACE",
	0x200C: "ZERO WIDTH NON-JOINER",
	0x200D: "ZERO WIDTH JOINER",
	0x200E: "LEFT-TO-RIGHT MARK",
	0x200F: "RIGHT-TO-LEFT MARK",
	0x2028: "LINE SEPARATOR",
	0x2029: "PARAGRAPH SEPARATOR",
	0x202A: "LEFT-TO-RIGHT EMBEDDING",
	0x202B: "RIGHT-TO-LEFT EMBEDDING",
	0x202C: "POP DIRECTIONAL FORMATTING",
	0x202D: "LEFT-TO-RIGHT OVERRIDE",
	0x202E: "RIGHT-TO-LEFT OVERRIDE",
	0x202F: "NARROW NO-BREAK SPACE",
	0x205F: "MEDIUM MATHEMATICAL SPACE",
	0x2060: "WORD JOINER",
	0x2126: "OHM SIGN",
	0x212A: "KELVIN SIGN",
	0x212B: "ANGSTROM SIGN",
	0x2066: "LEFT-TO-RIGHT ISOLATE",
	0x2067: "RIGHT-TO-LEFT ISOLATE",
	0x2068: "FIRST STRONG ISOLATE",
	0x2069: "POP DIRECTIONAL ISOLATE",
	0x3000: "IDEOGRAPHIC SPACE",
	0xFEFF: "ZERO WIDTH NO-BREAK SPACE, the byte-order mark,",
}

// runeName is r as U+XXXX, with its Unicode name when runeNames knows it.
func runeName(r rune) string {
	if name, ok := runeNames[r]; ok {
		return fmt.Sprintf("%U %s", r, name)
	}
	return fmt.Sprintf("%U", r)
}
