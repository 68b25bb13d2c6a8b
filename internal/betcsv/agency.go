package betcsv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

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
// field only when it must be: the canonical row without its agency
// (lottery.AppendFields), which is the file's. It does not allocate when
// dst has room for the line.
func AppendAgencyRow(dst []byte, bet lottery.Bet) []byte {
	return lottery.AppendFields(dst, bet)
}

// ReadAgencyFile yields the bets of an agency's file, in order, as a
// stream: lines first_name,last_name,document,birthdate,number, UTF-8,
// ended by LF or CRLF, no header, fields quoted as AppendAgencyRow writes
// them. A byte-order mark at the very start of the file is skipped. Every
// field is normalized (Normalize: white space around it trimmed, Unicode
// NFC), then every bet gets agency and is checked with lottery.Validate,
// which refuses text that is still not canonical, naming the field and the
// character; the first line that is not a valid bet ends the sequence with
// a *FileError for path. Blank lines are skipped.
//
// A file it cannot read as that format is refused with its real cause: a
// UTF-16 file (a UTF-16 byte-order mark, or NUL bytes in its first line
// that is not blank), CR-only line ends, or a byte-order mark at the start
// of a line other than the first (two files concatenated).
func ReadAgencyFile(r io.Reader, path string, agency int) iter.Seq2[lottery.Bet, error] {
	return readAgencyFile(r, path, agency, true)
}

// readAgencyFile is ReadAgencyFile; without validate the bets are parsed
// and normalized but not checked with lottery.Validate (OpenCheckedAgencyFile).
func readAgencyFile(r io.Reader, path string, agency int, validate bool) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		v := lottery.NewValidator(time.Now())
		lines := lineReader{r: r, buf: make([]byte, agencyChunk)}
		seen := false // a line that is not blank was read
		for n := 1; ; n++ {
			line, tooLong, ok, err := lines.next()
			if err != nil {
				yield(lottery.Bet{}, &FileError{Path: path, Err: err})
				return
			}
			if !ok {
				return
			}
			if err := checkLine(&line, n, seen, tooLong); err != nil {
				yield(lottery.Bet{}, &FileError{Path: path, Line: err.line, Err: err.err})
				return
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			seen = true
			bet, perr := parseAgencyRow(line)
			if perr == nil {
				bet.Agency = agency
				if validate {
					perr = v.Validate(bet)
				}
			}
			if perr != nil {
				yield(lottery.Bet{}, &FileError{Path: path, Line: n, Err: perr})
				return
			}
			if !yield(bet, nil) {
				return
			}
		}
	}
}

// lineError is why checkLine refuses a line; line is 0 when the cause is
// the file's, not one line's.
type lineError struct {
	line int
	err  error
}

// checkLine trims the line n of a file (without its LF) of what may end
// it (CRs) and, the first, of a UTF-8 byte-order mark, and refuses it
// when it shows the file does not split into lines of bets: UTF-16, CR
// line ends, an inner byte-order mark, a line too long. seen says a line
// that is not blank came before it; tooLong that the line did not end
// within the reader's buffer.
func checkLine(line *string, n int, seen, tooLong bool) *lineError {
	if n == 1 {
		if strings.HasPrefix(*line, utf16LE) || strings.HasPrefix(*line, utf16BE) {
			return &lineError{0, errUTF16}
		}
		*line = strings.TrimPrefix(*line, utf8BOM) // a BOM some editors add
	}
	*line = strings.TrimRight(*line, "\r")
	// One scan of the line each for a CR and, until a line that is not
	// blank, a NUL: the causes of a file that does not split into lines
	// of bets.
	switch {
	case !seen && strings.IndexByte(*line, 0) >= 0:
		return &lineError{0, errUTF16}
	case strings.IndexByte(*line, '\r') >= 0:
		return &lineError{n, errCROnly}
	case strings.HasPrefix(*line, utf8BOM):
		return &lineError{n, errInnerBOM}
	case tooLong || len(*line) > maxLineLen:
		return &lineError{n, fmt.Errorf("line too long: over %d bytes", maxLineLen)}
	}
	return nil
}

// agencyChunk is how much of an agency's file ReadAgencyFile reads at a
// time.
const agencyChunk = 64 << 10

// lineReader splits a stream into lines. It reads a chunk at a time and
// turns the chunk's whole lines into one string, which the lines, and the
// text fields of the bets parsed from them, share: no allocation per line.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int    // buf[start:end] is read and not yet in chunk
	chunk      string // whole lines not yet returned
	eof        bool
	err        error // of a read, returned once chunk is taken
}

// next returns the next line without its LF; ok is false at the end of
// the stream. A line that does not end within the buffer is returned as
// far as the buffer holds it, with tooLong.
func (l *lineReader) next() (line string, tooLong, ok bool, err error) {
	for l.chunk == "" {
		switch {
		case l.err != nil:
			return "", false, false, l.err
		case l.eof && l.start == l.end:
			return "", false, false, nil
		}
		l.fill()
		if l.chunk == "" && !l.eof && l.err == nil && l.end-l.start == len(l.buf) {
			return string(l.buf[l.start:l.end]), true, true, nil
		}
	}
	line, rest, _ := strings.Cut(l.chunk, "\n")
	l.chunk = rest
	return line, false, true, nil
}

// fill reads into the buffer after what is left of a partial line, and
// makes chunk the whole lines read (and, at the end of the stream, the
// last line without its LF). A read that fails keeps its error for next
// to return once the whole lines read before it are taken.
func (l *lineReader) fill() {
	l.end = copy(l.buf, l.buf[l.start:l.end])
	l.start = 0
	n, err := io.ReadFull(l.r, l.buf[l.end:])
	l.end += n
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		l.eof = true
	case err != nil:
		l.err = err
	}
	whole := l.end
	if !l.eof {
		whole = bytes.LastIndexByte(l.buf[:l.end], '\n') + 1
	}
	l.chunk, l.start = string(l.buf[:whole]), whole
}

// The byte-order marks that ReadAgencyFile recognizes.
const (
	utf8BOM = "\uFEFF"
	utf16LE = "\xFF\xFE"
	utf16BE = "\xFE\xFF"
)

// The causes of an agency's file that ReadAgencyFile cannot read as lines
// of bets, each with what to do.
var (
	errUTF16    = errors.New("the file is UTF-16; save it as UTF-8")
	errCROnly   = errors.New("line ends are CR only (old Mac); save with LF or CRLF line ends")
	errInnerBOM = errors.New("a byte-order mark (U+FEFF) inside the file, at the start of the line: two files concatenated? Remove it")
)

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
	nfc := belowU0300(line) >= 0 // one scan of the line for all its fields
	return lottery.Bet{
		FirstName: normalize(f[0], nfc),
		LastName:  normalize(f[1], nfc),
		Document:  normalize(f[2], nfc),
		Birthdate: normalize(f[3], nfc),
		Number:    number,
	}, nil
}

// Normalize turns a text field as a person or a spreadsheet wrote it into
// the canonical text of lottery.CanonicalText, where it can: it trims the
// white space around it (unicode.IsSpace, as CanonicalText) and puts it in
// Unicode NFC, so that "José" typed as "e" and a combining acute accent
// becomes the precomposed "é". It removes nothing else: a character that
// canonical text may not hold (a control or format character such as
// U+FEFF or U+200B, a combining mark with no precomposed form) stays, for
// lottery.Validate to refuse by name. Text already canonical, as nearly
// every field is, is returned as it is, without allocating.
func Normalize(s string) string {
	return normalize(s, belowU0300(s) >= 0)
}

// normalize is Normalize; nfc is false when s has no character from
// U+0300 on, as belowU0300 tells.
func normalize(s string, nfc bool) string {
	// White space starts with a byte up to ' ' or from 0x80 on, and ends
	// with one: a field that starts and ends with any other ASCII byte
	// needs no trimming.
	if s != "" && (s[0] <= ' ' || s[0] >= utf8.RuneSelf || s[len(s)-1] <= ' ' || s[len(s)-1] >= utf8.RuneSelf) {
		s = strings.TrimSpace(s)
	}
	if nfc {
		return norm.NFC.String(s)
	}
	return s
}

// belowU0300 returns the index of the first byte of s that starts a
// character from U+0300 on (a byte 0xCC or above in UTF-8), or -1 when
// there is none. Text below U+0300 is NFC whatever its order: none of its
// characters decomposes in NFC or combines with the one before
// (TestNormalizeBelowU0300). So names without combining marks, nearly
// all of them, skip norm's tables.
func belowU0300(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xcc {
			return i
		}
	}
	return -1
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
	return openAgencyFile(path, agency, skip, true)
}

// OpenCheckedAgencyFile is OpenAgencyFile from bet 0 for a file that a
// pass of OpenAgencyFile has just read whole without error: it does not
// check each bet with lottery.Validate again. The agency's upload, after
// its count pass, reads it so; a file changed between the two passes is
// caught by the digest the first pass declared (client.Agency.upload),
// and every bet is checked again by the central.
func OpenCheckedAgencyFile(path string, agency int) (iter.Seq2[lottery.Bet, error], io.Closer, error) {
	return openAgencyFile(path, agency, 0, false)
}

func openAgencyFile(path string, agency int, skip uint64, validate bool) (iter.Seq2[lottery.Bet, error], io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: err}
	}
	seq := func(yield func(lottery.Bet, error) bool) {
		var n uint64
		for bet, err := range readAgencyFile(f, path, agency, validate) {
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
