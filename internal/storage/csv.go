package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// AppendRow appends the CSV row of bet to dst: the fields agency,
// first_name, last_name, document, birthdate, number, minimally quoted as
// Python's csv module writes them, ended by "\n".
func AppendRow(dst []byte, bet lottery.Bet) []byte {
	dst = strconv.AppendInt(dst, int64(bet.Agency), 10)
	dst = appendField(append(dst, ','), bet.FirstName)
	dst = appendField(append(dst, ','), bet.LastName)
	dst = appendField(append(dst, ','), bet.Document)
	dst = appendField(append(dst, ','), bet.Birthdate)
	dst = strconv.AppendInt(append(dst, ','), int64(bet.Number), 10)
	return append(dst, '\n')
}

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
// quote or a line break, or starts with a space, as encoding/csv would
// quote it. One pass over the bytes: this runs for every field stored.
func needsQuotes(s string) bool {
	if s != "" && (s[0] == ' ' || s[0] == '\t') {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

var errFieldCount = errors.New("want 6 fields")

// parseRow parses one line of bets.csv, without its line ending. The text
// fields of the bet are substrings of line.
func parseRow(line string) (lottery.Bet, error) {
	var fields [6]string
	if strings.IndexByte(line, '"') < 0 {
		s := line
		for i := range 5 {
			j := strings.IndexByte(s, ',')
			if j < 0 {
				return lottery.Bet{}, errFieldCount
			}
			fields[i], s = s[:j], s[j+1:]
		}
		if strings.IndexByte(s, ',') >= 0 {
			return lottery.Bet{}, errFieldCount
		}
		fields[5] = s
	} else if err := parseQuoted([]byte(line), &fields); err != nil {
		return lottery.Bet{}, err
	}
	agency, err := atoi(fields[0])
	if err != nil {
		return lottery.Bet{}, fmt.Errorf("agency %q: %w", fields[0], err)
	}
	number, err := atoi(fields[5])
	if err != nil {
		return lottery.Bet{}, fmt.Errorf("number %q: %w", fields[5], err)
	}
	return lottery.Bet{
		Agency:    agency,
		FirstName: fields[1],
		LastName:  fields[2],
		Document:  fields[3],
		Birthdate: fields[4],
		Number:    number,
	}, nil
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

// parseQuoted parses a line with quoted fields (RFC 4180, as Python writes
// them). Names never hold a line break (lottery.Validate refuses control
// characters), so a row is always one line.
func parseQuoted(line []byte, fields *[6]string) error {
	var b strings.Builder
	n := 0
	for i := 0; ; {
		if n == len(fields) {
			return errFieldCount
		}
		b.Reset()
		if i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return errors.New("unterminated quoted field")
				}
				b.Write(line[i : i+j])
				i += j + 1
				if i < len(line) && line[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			if i < len(line) && line[i] != ',' {
				return errors.New("text after a quoted field")
			}
		} else {
			j := bytes.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			if bytes.IndexByte(line[i:i+j], '"') >= 0 {
				return errors.New("quote inside an unquoted field")
			}
			b.Write(line[i : i+j])
			i += j
		}
		fields[n] = b.String()
		n++
		if i >= len(line) {
			break
		}
		i++ // the comma
		if i == len(line) {
			if n == len(fields) {
				return errFieldCount
			}
			fields[n] = ""
			n++
			break
		}
	}
	if n != len(fields) {
		return errFieldCount
	}
	return nil
}
