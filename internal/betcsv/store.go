package betcsv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
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
func yieldRows(chunk string, line *int, yield func(lottery.Bet, error) bool) bool {
	for chunk != "" {
		row := chunk
		if i := strings.IndexByte(chunk, '\n'); i >= 0 {
			row, chunk = chunk[:i], chunk[i+1:]
		} else {
			chunk = ""
		}
		bet, err := parseStoreRow(strings.TrimSuffix(row, "\r"))
		if err != nil {
			yield(lottery.Bet{}, fmt.Errorf("read bets line %d: %w", *line, err))
			return false
		}
		if !yield(bet, nil) {
			return false
		}
		*line++
	}
	return true
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
	if len(s) == 0 || len(s) > 9 {
		return strconv.Atoi(s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return strconv.Atoi(s)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
