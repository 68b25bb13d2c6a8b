package lottery

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// AppendRow appends bet to dst as agency's canonical row:
// agency,first_name,last_name,document,birthdate,number and a newline,
// each text field quoted only when it must be (see AppendFields). The
// agency column is agency, not bet.Agency: the central stores the bets of
// a connection under the agency that connected.
//
// The canonical row is what an agency's digest hashes (see Hasher), and
// the row the central's bets.csv keeps for the bet: the domain defines it
// so that the central, the agency and an auditor, whatever they store or
// read, commit to the same bytes. It does not allocate when dst has room.
func AppendRow(dst []byte, agency int, bet Bet) []byte {
	dst = strconv.AppendInt(dst, int64(agency), 10)
	return AppendFields(append(dst, ','), bet)
}

// AppendFields appends the part of bet's canonical row after the agency:
// first_name,last_name,document,birthdate,number and a newline. It is the
// line of an agency's own file, where the agency is the file's.
//
// A text field is quoted when it holds a comma, a quote or a line break,
// or starts with a space or a tab, and a quote inside it is doubled: RFC
// 4180, as encoding/csv writes it. For a valid bet (see Validate: no white
// space around a field, no control character) that is exactly what
// Python's csv.writer writes, so the course's Python reads every row back
// as the same fields.
func AppendFields(dst []byte, bet Bet) []byte {
	// The common row needs no quote: its text fields are appended as
	// they are and checked once, together; only a row that needs a
	// quote is rendered again field by field.
	start := len(dst)
	dst = append(dst, bet.FirstName...)
	dst = append(append(dst, ','), bet.LastName...)
	dst = append(append(dst, ','), bet.Document...)
	dst = append(append(dst, ','), bet.Birthdate...)
	if !plain(dst[start:], 3) || leadingBlank(bet) {
		dst = appendField(dst[:start], bet.FirstName)
		dst = appendField(append(dst, ','), bet.LastName)
		dst = appendField(append(dst, ','), bet.Document)
		dst = appendField(append(dst, ','), bet.Birthdate)
	}
	dst = strconv.AppendInt(append(dst, ','), int64(bet.Number), 10)
	return append(dst, '\n')
}

// plain reports whether text, fields joined by commas, holds no byte
// that quotes a field (a comma, a quote, a line break) but those commas.
// It looks at eight bytes at a time (SWAR).
func plain(text []byte, commas int) bool {
	n, i := 0, 0
	for ; i+8 <= len(text); i += 8 {
		w := binary.LittleEndian.Uint64(text[i:])
		n += bits.OnesCount64(zeroBytes(w^(ones*',')) | zeroBytes(w^(ones*'"')) |
			zeroBytes(w^(ones*'\n')) | zeroBytes(w^(ones*'\r')))
	}
	for _, c := range text[i:] {
		if quoted[c] {
			n++
		}
	}
	return n == commas
}

// ones is a word with every byte 1: c*ones repeats byte c in each.
const ones = 0x0101010101010101

// zeroBytes returns w with the high bit set of each byte that is zero in
// w, and no other bit: exact, no carry from one byte reaches another.
func zeroBytes(w uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^((w&low7 + low7) | w | low7)
}

// leadingBlank reports whether a text field of bet starts with a space or
// a tab, which quotes it (see AppendFields).
func leadingBlank(bet Bet) bool {
	return blankFirst(bet.FirstName) || blankFirst(bet.LastName) || blankFirst(bet.Document) || blankFirst(bet.Birthdate)
}

func blankFirst(s string) bool { return s != "" && (s[0] == ' ' || s[0] == '\t') }

// appendField appends s to dst as one CSV field, quoted only when it must
// be (see AppendFields).
func appendField(dst []byte, s string) []byte {
	if !needsQuotes(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, '"')
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

// needsQuotes reports whether a field must be quoted: it holds a comma, a
// quote or a line break, or starts with a space or a tab, as encoding/csv
// would quote it. One pass over the bytes: this runs for every field
// stored and every bet an agency hashes.
func needsQuotes(s string) bool {
	if s != "" && (s[0] == ' ' || s[0] == '\t') {
		return true
	}
	for i := 0; i < len(s); i++ {
		if quoted[s[i]] {
			return true
		}
	}
	return false
}

// quoted marks the bytes that make a field quoted wherever they stand: a
// table lookup per byte rather than four comparisons.
var quoted = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// AppendRows appends the canonical rows of bets, as agency's, to dst,
// growing it once.
func AppendRows(dst []byte, agency int, bets []Bet) []byte {
	size := 0
	for _, b := range bets {
		size += len(b.FirstName) + len(b.LastName) + len(b.Document) + len(b.Birthdate) + 16
	}
	dst = slices.Grow(dst, size)
	var buf [24]byte
	prefix := append(strconv.AppendInt(buf[:0], int64(agency), 10), ',') // every row's
	for _, b := range bets {
		dst = AppendFields(append(dst, prefix...), b)
	}
	return dst
}
