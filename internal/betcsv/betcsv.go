// Package betcsv reads and writes the two CSV formats a bet is kept in:
// the agency's file, rows of first_name,last_name,document,birthdate,number
// (read by the client, written by the sample-data generator), and the
// central's bets.csv, rows of agency,first_name,last_name,document,
// birthdate,number (written and read by storage, read by the course's
// Python load_bets).
//
// Both formats share one way of splitting a row into fields and one way of
// quoting a field, so a name with a comma or a quote means the same thing
// everywhere. The rows themselves are the domain's (lottery.AppendRow, the
// canonical row an agency's digest hashes): this package writes them as
// lottery renders them, so that there is one quoting, and reads them back. The package sits beside the domain, not in it: lottery owns
// what a valid bet is and knows nothing of files; the client, storage and
// sampledata each import this package, which imports only lottery and the
// standard library, so none of them depends on another for a format.
package betcsv

import (
	"errors"
	"strings"
)

// errFieldCount is returned by splitRow when a row does not have exactly
// the fields asked for; each format words its own message.
var errFieldCount = errors.New("wrong number of fields")

// splitRow splits one row, without its line ending, into exactly
// len(fields) fields and returns how many fields the row has. Unquoted
// fields are substrings of line, so a row without quotes allocates
// nothing; quoted fields (RFC 4180, as Python writes them) are unescaped
// into new strings. A row is always one line: names never hold a line
// break (lottery.Validate refuses control characters).
func splitRow(line string, fields []string) (int, error) {
	// One pass over the bytes, a table lookup each: a row's fields are a
	// few bytes long, shorter than a call to strings.IndexByte pays for.
	n, start, last := 0, 0, len(fields)-1
	for i := 0; i < len(line); i++ {
		if !separator[line[i]] {
			continue
		}
		if line[i] == '"' {
			return splitQuoted(line, fields)
		}
		if n < last {
			fields[n] = line[start:i]
		}
		n, start = n+1, i+1
	}
	if n != last {
		return n + 1, errFieldCount
	}
	fields[last] = line[start:]
	return len(fields), nil
}

// separator marks the bytes splitRow stops at: a comma, and a quote,
// which sends the row to splitQuoted.
var separator = [256]bool{',': true, '"': true}

// splitQuoted is splitRow for a row that holds a quote.
func splitQuoted(line string, fields []string) (int, error) {
	n := 0
	for i := 0; ; n++ {
		var field string
		if i < len(line) && line[i] == '"' {
			var b strings.Builder
			for i++; ; {
				j := strings.IndexByte(line[i:], '"')
				if j < 0 {
					return n, errors.New("unterminated quoted field")
				}
				b.WriteString(line[i : i+j])
				i += j + 1
				if i >= len(line) || line[i] != '"' {
					break
				}
				b.WriteByte('"') // a doubled quote stands for one
				i++
			}
			if i < len(line) && line[i] != ',' {
				return n, errors.New("text after a quoted field")
			}
			field = b.String()
		} else {
			j := strings.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			field = line[i : i+j]
			if strings.IndexByte(field, '"') >= 0 {
				return n, errors.New("quote inside an unquoted field")
			}
			i += j
		}
		if n < len(fields) {
			fields[n] = field
		}
		if i >= len(line) {
			break
		}
		i++ // the comma; after a last one comes an empty field
	}
	if n++; n != len(fields) {
		return n, errFieldCount
	}
	return n, nil
}
