package betcsv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// FileError is a problem with an agency's file: it names the file and,
// for a bad line, the line.
type FileError struct {
	Path string
	Line int // 0 when the error is not about one line
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// maxLineLen is the longest line an agency file may have: far more than
// any valid bet needs.
const maxLineLen = 4096

// AppendAgencyRow appends bet to dst as one line of an agency's file,
// first_name,last_name,document,birthdate,number and a newline, quoting a
// field only when it must be. The agency is not written: it is the file's.
// It does not allocate when dst has room for the line.
func AppendAgencyRow(dst []byte, bet lottery.Bet) []byte {
	dst = appendField(dst, bet.FirstName)
	dst = appendField(append(dst, ','), bet.LastName)
	dst = appendField(append(dst, ','), bet.Document)
	dst = appendField(append(dst, ','), bet.Birthdate)
	dst = strconv.AppendInt(append(dst, ','), int64(bet.Number), 10)
	return append(dst, '\n')
}

// ReadAgencyFile yields the bets of an agency's file, in order, as a
// stream: lines first_name,last_name,document,birthdate,number, UTF-8,
// ended by LF or CRLF, no header, fields quoted as AppendAgencyRow writes
// them. Every bet gets agency and is checked with lottery.Validate; the
// first line that is not a valid bet ends the sequence with a *FileError
// for path. Blank lines are skipped.
func ReadAgencyFile(r io.Reader, path string, agency int) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		v := lottery.NewValidator(time.Now())
		br := bufio.NewReaderSize(r, 64<<10)
		for n := 1; ; n++ {
			line, err := br.ReadSlice('\n')
			if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
				yield(lottery.Bet{}, &FileError{Path: path, Err: err})
				return
			}
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\uFEFF")) // a BOM some editors add
			}
			line = bytes.TrimRight(line, "\r\n")
			if err == bufio.ErrBufferFull || len(line) > maxLineLen {
				yield(lottery.Bet{}, &FileError{Path: path, Line: n, Err: fmt.Errorf("line too long: over %d bytes", maxLineLen)})
				return
			}
			if len(bytes.TrimSpace(line)) > 0 {
				bet, perr := parseAgencyRow(string(line))
				if perr == nil {
					bet.Agency = agency
					perr = v.Validate(bet)
				}
				if perr != nil {
					yield(lottery.Bet{}, &FileError{Path: path, Line: n, Err: perr})
					return
				}
				if !yield(bet, nil) {
					return
				}
			}
			if err == io.EOF {
				return
			}
		}
	}
}

// parseAgencyRow parses one line of an agency's file, without its line
// ending. The text fields share line's memory when none is quoted.
func parseAgencyRow(line string) (lottery.Bet, error) {
	var f [5]string
	if n, err := splitRow(line, f[:]); err == errFieldCount {
		return lottery.Bet{}, fmt.Errorf("%d fields, want 5: first_name,last_name,document,birthdate,number", n)
	} else if err != nil {
		return lottery.Bet{}, err
	}
	number, err := lottery.ParseNumber(strings.TrimSpace(f[4]))
	if err != nil {
		return lottery.Bet{}, err
	}
	return lottery.Bet{FirstName: f[0], LastName: f[1], Document: f[2], Birthdate: f[3], Number: number}, nil
}

// CheckAgencyFile checks that the agency's file at path opens, reads, and
// that its first bet is valid, so that a missing or wrong file is reported
// before any connection. The error is a *FileError naming the file. A file
// with no bets at all passes: the agency then has none to send.
func CheckAgencyFile(path string, agency int) error {
	bets, f, err := OpenAgencyFile(path, agency, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, err := range bets {
		return err // the first bet, or why it does not read
	}
	return nil
}

// OpenAgencyFile opens the agency's file at path and yields its bets, as
// ReadAgencyFile does, from bet number skip on: the bets before skip are
// read and checked, not yielded, so a resumed upload still refuses a file
// that is bad anywhere. The caller closes the file with the returned
// Closer once done with the sequence.
func OpenAgencyFile(path string, agency int, skip uint64) (iter.Seq2[lottery.Bet, error], io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: err}
	}
	seq := func(yield func(lottery.Bet, error) bool) {
		var n uint64
		for bet, err := range ReadAgencyFile(f, path, agency) {
			if err == nil && n < skip {
				n++
				continue
			}
			if !yield(bet, err) {
				return
			}
		}
	}
	return seq, f, nil
}
