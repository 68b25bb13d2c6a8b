package betcsv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"strconv"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// AppendStoreRow appends bet to dst as one row of the central's bets.csv:
// bet's canonical row under bet.Agency (lottery.AppendRow),
// agency,first_name,last_name,document,birthdate,number and "\n", quoted
// as Python's csv module writes them.
func AppendStoreRow(dst []byte, bet lottery.Bet) []byte {
	return lottery.AppendRow(dst, bet.Agency, bet)
}

// readChunk is how much of bets.csv ReadStoreFile reads at a time.
const readChunk = 256 << 10

// ReadStoreFile yields the bets of a bets.csv stream, as AppendStoreRow
// writes them, in order. It does not validate them: storage wrote only
// valid bets. A row that does not parse ends the sequence with an error
// naming its line.
//
// It reads the stream in chunks and turns each chunk's whole lines into
// one string, which the text fields of its bets share: no allocation per
// bet. A caller that keeps a field of a few bets for long (the draw keeps
// winners' documents) should strings.Clone it, so as not to hold the chunk.
func ReadStoreFile(r io.Reader) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		buf := make([]byte, readChunk)
		start, end, line := 0, 0, 1
		for eof := false; !eof; {
			// Keep the partial last line, fill the rest of the buffer.
			end = copy(buf, buf[start:end])
			start = 0
			n, err := io.ReadFull(r, buf[end:])
			end += n
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				eof = true
			case err != nil:
				yield(lottery.Bet{}, fmt.Errorf("read bets line %d: %w", line, err))
				return
			}
			whole := end // at the end of the stream the last line needs no newline
			if !eof {
				whole = bytes.LastIndexByte(buf[:end], '\n') + 1
				if whole == 0 {
					yield(lottery.Bet{}, fmt.Errorf("read bets line %d: line longer than %d bytes", line, readChunk))
					return
				}
			}
			chunk := string(buf[:whole])
			start = whole
			if !yieldRows(chunk, &line, yield) {
				return
			}
		}
	}
}

// ParseStoreRows yields the bets of rows: whole bets.csv rows, as a
// backend that keeps each batch's rows together stores them. The bets'
// text fields are substrings of rows.
func ParseStoreRows(rows string) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		line := 1
		yieldRows(rows, &line, yield)
	}
}

// yieldRows yields the bet of each row of chunk, counting lines from
// *line, and reports whether to go on: false once yield has said stop or
// a row did not parse (which it has yielded).
//
// A row of the common shape (no quote, six fields, digits where numbers
// stand) is split by scanRow, eight bytes at a time; any other row, by
// parseStoreRow, which also words every error.
func yieldRows(chunk string, line *int, yield func(lottery.Bet, error) bool) bool {
	for pos := 0; pos < len(chunk); {
		var cut [5]int
		end, ok := scanRow(chunk, pos, &cut)
		var bet lottery.Bet
		if ok {
			bet, ok = unquotedBet(chunk, pos, end, &cut)
		}
		if !ok {
			if end = strings.IndexByte(chunk[pos:], '\n'); end < 0 {
				end = len(chunk)
			} else {
				end += pos
			}
			var err error
			if bet, err = parseStoreRow(strings.TrimSuffix(chunk[pos:end], "\r")); err != nil {
				yield(lottery.Bet{}, fmt.Errorf("read bets line %d: %w", *line, err))
				return false
			}
		}
		if !yield(bet, nil) {
			return false
		}
		*line++
		pos = end + 1
	}
	return true
}

// unquotedBet is the bet of the row chunk[pos:end], split at cut by
// scanRow, and whether its agency and number are plain digits.
func unquotedBet(chunk string, pos, end int, cut *[5]int) (lottery.Bet, bool) {
	if end > cut[4]+1 && chunk[end-1] == '\r' {
		end--
	}
	agency, ok := digits(chunk[pos:cut[0]])
	number, ok2 := digits(chunk[cut[4]+1 : end])
	return lottery.Bet{
		Agency:    agency,
		FirstName: chunk[cut[0]+1 : cut[1]],
		LastName:  chunk[cut[1]+1 : cut[2]],
		Document:  chunk[cut[2]+1 : cut[3]],
		Birthdate: chunk[cut[3]+1 : cut[4]],
		Number:    number,
	}, ok && ok2
}

// scanRow finds the end of the row that starts at chunk[pos] (its
// newline's index, or len(chunk)) and puts its five commas' indexes in
// cut. It reports false, with no end, for a row that holds a quote or
// more commas than five; it looks at eight bytes at a time (SWAR): a
// row's fields are too short for a vector search per field to pay.
func scanRow(chunk string, pos int, cut *[5]int) (end int, ok bool) {
	n, i := 0, pos
	for ; i+8 <= len(chunk); i += 8 {
		w := load64(chunk, i)
		nl := zeroBytes(w ^ (ones * '\n'))
		marks := zeroBytes(w^(ones*',')) | zeroBytes(w^(ones*'"'))
		if nl != 0 {
			marks &= nl&-nl - 1 // the next row's are not this one's
		}
		for ; marks != 0; marks &= marks - 1 {
			j := i + bits.TrailingZeros64(marks)/8
			if n == len(cut) || chunk[j] == '"' {
				return 0, false
			}
			cut[n], n = j, n+1
		}
		if nl != 0 {
			return i + bits.TrailingZeros64(nl)/8, n == len(cut)
		}
	}
	for ; i < len(chunk) && chunk[i] != '\n'; i++ {
		if c := chunk[i]; c == '"' || c == ',' && n == len(cut) {
			return 0, false
		} else if c == ',' {
			cut[n], n = i, n+1
		}
	}
	return i, n == len(cut)
}

// ones is a word with every byte 1: c*ones repeats byte c in each.
const ones = 0x0101010101010101

// zeroBytes returns w with the high bit set of each byte that is zero in
// w, and no other bit: exact, no carry from one byte reaches another.
func zeroBytes(w uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	return ^((w&low7 + low7) | w | low7)
}

// load64 reads the eight bytes of s from i as a little-endian word.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// digits parses s when it is 1 to 9 decimal digits.
func digits(s string) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

var errStoreFieldCount = errors.New("want 6 fields")

// parseStoreRow parses one row of bets.csv, without its line ending. The
// text fields of the bet are substrings of line when none is quoted.
func parseStoreRow(line string) (lottery.Bet, error) {
	var f [6]string
	if _, err := splitRow(line, f[:]); err == errFieldCount {
		return lottery.Bet{}, errStoreFieldCount
	} else if err != nil {
		return lottery.Bet{}, err
	}
	agency, err := atoi(f[0])
	if err != nil {
		return lottery.Bet{}, fmt.Errorf("agency %q: %w", f[0], err)
	}
	number, err := atoi(f[5])
	if err != nil {
		return lottery.Bet{}, fmt.Errorf("number %q: %w", f[5], err)
	}
	return lottery.Bet{Agency: agency, FirstName: f[1], LastName: f[2], Document: f[3], Birthdate: f[4], Number: number}, nil
}

// atoi parses the short non-negative integers of a row (agency, number)
// faster than strconv.Atoi, falling back to it for anything else.
func atoi(s string) (int, error) {
	if n, ok := digits(s); ok {
		return n, nil
	}
	return strconv.Atoi(s)
}
