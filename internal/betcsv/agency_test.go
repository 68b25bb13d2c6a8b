package betcsv

import (
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

const testPath = ".data/agency-3.csv"

// collect ranges over seq, returning the bets it yields and its error. It
// fails the test if anything comes after an error.
func collect(t *testing.T, seq iter.Seq2[lottery.Bet, error]) ([]lottery.Bet, error) {
	t.Helper()
	var bets []lottery.Bet
	var first error
	for b, err := range seq {
		if first != nil {
			t.Fatalf("sequence went on after error %v: %+v, %v", first, b, err)
		}
		if err != nil {
			first = err
			continue
		}
		bets = append(bets, b)
	}
	return bets, first
}

func b(first, last, doc, birth string, number int) lottery.Bet {
	return lottery.Bet{Agency: 3, FirstName: first, LastName: last, Document: doc, Birthdate: birth, Number: number}
}

var (
	juan = b("Juan", "Pérez", "30904465", "1999-03-17", 7574)
	ana  = b("Ana", "Gómez", "12345678", "1985-12-31", 0)
	jose = b("José María", "Núñez Ñandú", "1", "2000-02-29", 9999)
)

const (
	juanLine = "Juan,Pérez,30904465,1999-03-17,7574"
	anaLine  = "Ana,Gómez,12345678,1985-12-31,0"
	joseLine = "José María,Núñez Ñandú,1,2000-02-29,9999"
)

func TestReadAgencyFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []lottery.Bet
	}{
		{"empty", "", nil},
		{"only newlines", "\n\n\r\n", nil},
		{"LF", juanLine + "\n" + anaLine + "\n", []lottery.Bet{juan, ana}},
		{"CRLF", juanLine + "\r\n" + anaLine + "\r\n", []lottery.Bet{juan, ana}},
		{"mixed endings", juanLine + "\r\n" + anaLine + "\n" + joseLine + "\r\n", []lottery.Bet{juan, ana, jose}},
		{"UTF-8 accented names", joseLine + "\n", []lottery.Bet{jose}},
		{"BOM at start", "\uFEFF" + juanLine + "\n" + anaLine + "\n", []lottery.Bet{juan, ana}},
		{"BOM and CRLF", "\uFEFF" + juanLine + "\r\n", []lottery.Bet{juan}},
		{"blank lines skipped", "\n" + juanLine + "\n\n   \n\t\r\n" + anaLine + "\n\n", []lottery.Bet{juan, ana}},
		{"last line without newline", juanLine + "\n" + anaLine, []lottery.Bet{juan, ana}},
		{"single line without newline", joseLine, []lottery.Bet{jose}},
		{"last line without newline, CR", juanLine + "\r", []lottery.Bet{juan}},
		{
			"quoted field with a comma",
			`Juan,"Pérez, Jr",30904465,1999-03-17,7574` + "\n",
			[]lottery.Bet{b("Juan", "Pérez, Jr", "30904465", "1999-03-17", 7574)},
		},
		{
			"quoted field with a quote",
			`"Juan ""el Tano""",Pérez,30904465,1999-03-17,7574` + "\r\n",
			[]lottery.Bet{b(`Juan "el Tano"`, "Pérez", "30904465", "1999-03-17", 7574)},
		},
		{
			"every field quoted",
			`"Juan","Pérez","30904465","1999-03-17","7574"` + "\n" + anaLine + "\n",
			[]lottery.Bet{juan, ana},
		},
		{"spaces around the number", "Juan,Pérez,30904465,1999-03-17, 7574 \n", []lottery.Bet{juan}},
		{"number with leading zeros", "Ana,Gómez,12345678,1985-12-31,0000\n", []lottery.Bet{ana}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, ReadAgencyFile(strings.NewReader(tt.in), testPath, 3))
			if err != nil {
				t.Fatalf("ReadAgencyFile: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ReadAgencyFile =\n %+v, want\n %+v", got, tt.want)
			}
		})
	}
}

// TestReadAgencyFileOneByteReads reads through a reader that returns one byte at
// a time: lines must not depend on how the input is split.
func TestReadAgencyFileOneByteReads(t *testing.T) {
	in := "\uFEFF" + juanLine + "\r\n\n" + anaLine + "\n" + joseLine
	got, err := collect(t, ReadAgencyFile(iotest.OneByteReader(strings.NewReader(in)), testPath, 3))
	if err != nil {
		t.Fatal(err)
	}
	if want := []lottery.Bet{juan, ana, jose}; !slices.Equal(got, want) {
		t.Errorf("ReadAgencyFile = %+v, want %+v", got, want)
	}
}

func TestReadAgencyFileBadLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		line    int
		before  []lottery.Bet // bets yielded before the error
		invalid bool          // the error wraps lottery.ErrInvalidBet
	}{
		{"4 fields", juanLine + "\nAna,Gómez,12345678,1985-12-31\n" + joseLine + "\n", 2, []lottery.Bet{juan}, false},
		{"6 fields", "Ana,Gómez,12345678,1985-12-31,1,2\n", 1, nil, false},
		{"one field", juanLine + "\nhola\n", 2, []lottery.Bet{juan}, false},
		{"bad number", juanLine + "\n" + anaLine + "\nJosé,Núñez,1,2000-02-29,7x\n" + juanLine + "\n", 3, []lottery.Bet{juan, ana}, true},
		{"number out of range", "José,Núñez,1,2000-02-29,10000\n", 1, nil, true},
		{"negative number", "José,Núñez,1,2000-02-29,-1\n", 1, nil, true},
		{"empty number", "José,Núñez,1,2000-02-29,\n", 1, nil, true},
		{"bad date", juanLine + "\nJosé,Núñez,1,2023-02-30,5\n", 2, []lottery.Bet{juan}, true},
		{"short date", "José,Núñez,1,2023-2-3,5\n", 1, nil, true},
		{"non-digit document", juanLine + "\r\nJosé,Núñez,30.904.465,2000-02-29,5\r\n", 2, []lottery.Bet{juan}, true},
		{"empty first name", ",Núñez,1,2000-02-29,5\n", 1, nil, true},
		{"blank last name", "José, ,1,2000-02-29,5\n", 1, nil, true},
		{"invalid UTF-8", "Jos\xe9,Núñez,1,2000-02-29,5\n", 1, nil, true},
		{"line number counts blank lines", "\n\n" + juanLine + "\n\n" + "bad\n", 5, []lottery.Bet{juan}, false},
		{"line number counts the BOM line", "\uFEFF" + juanLine + "\n" + "bad", 2, []lottery.Bet{juan}, false},
		{"bad last line without newline", juanLine + "\nJosé,Núñez,1,2000-02-29,x", 2, []lottery.Bet{juan}, true},
		{"unterminated quote", `Juan,"Pérez,30904465,1999-03-17,7574` + "\n", 1, nil, false},
		{"quoted field with 4 fields", `Juan,"Pérez, Jr",30904465,1999-03-17` + "\n", 1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, ReadAgencyFile(strings.NewReader(tt.in), testPath, 3))
			if !slices.Equal(got, tt.before) {
				t.Errorf("bets before the error = %+v, want %+v", got, tt.before)
			}
			checkFileError(t, err, testPath, tt.line)
			if tt.invalid && !errors.Is(err, lottery.ErrInvalidBet) {
				t.Errorf("error %q does not wrap lottery.ErrInvalidBet", err)
			}
		})
	}
}

// checkFileError checks that err is a one-line *FileError for path and line.
func checkFileError(t *testing.T, err error, path string, line int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one at %s line %d", path, line)
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q (%T) is not a *FileError", err, err)
	}
	if fe.Path != path || fe.Line != line {
		t.Errorf("FileError at %s line %d, want %s line %d (%v)", fe.Path, fe.Line, path, line, err)
	}
	msg := err.Error()
	if line > 0 && !strings.Contains(msg, path+" line "+strconv.Itoa(line)+": ") {
		t.Errorf("error %q does not name %s line %d", msg, path, line)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
}

// paddedLine returns a valid bet line of exactly n bytes, without its
// terminator: spaces around the number are allowed, so it can be as long
// as needed.
func paddedLine(t *testing.T, n int) string {
	t.Helper()
	pad := n - len(juanLine)
	if pad < 0 {
		t.Fatalf("cannot make a line of %d bytes", n)
	}
	i := strings.LastIndexByte(juanLine, ',') + 1
	line := juanLine[:i] + strings.Repeat(" ", pad) + juanLine[i:]
	if len(line) != n {
		t.Fatalf("paddedLine is %d bytes, want %d", len(line), n)
	}
	return line
}

func TestReadAgencyFileLongLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		line int
	}{
		{"4095 bytes LF", paddedLine(t, 4095) + "\n", true, 0},
		{"4096 bytes, no terminator", paddedLine(t, 4096), true, 0},
		{"4096 bytes LF", paddedLine(t, 4096) + "\n", true, 0},
		{"4095 bytes CRLF", paddedLine(t, 4095) + "\r\n", true, 0},
		{"4096 bytes CRLF", paddedLine(t, 4096) + "\r\n", true, 0},
		{"4097 bytes LF", paddedLine(t, 4097) + "\n", false, 1},
		{"4097 bytes, no terminator", paddedLine(t, 4097), false, 1},
		{"4097 bytes after a good line", juanLine + "\n" + paddedLine(t, 4097) + "\n" + juanLine + "\n", false, 2},
		{"long junk line", juanLine + "\n\n" + strings.Repeat("x", 5000) + "\n", false, 3},
		{"line longer than the read buffer", strings.Repeat("a,", 40000) + "\n", false, 1},
		{"endless line", strings.Repeat("x", 1<<20), false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, ReadAgencyFile(strings.NewReader(tt.in), testPath, 3))
			if tt.ok {
				if err != nil || len(got) != 1 || got[0] != juan {
					t.Fatalf("ReadAgencyFile = %+v, %v; want one bet", got, err)
				}
				return
			}
			checkFileError(t, err, testPath, tt.line)
			if !strings.Contains(err.Error(), "too long") {
				t.Errorf("error %q does not say the line is too long", err)
			}
		})
	}
}

// failingReader returns data, then err.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadAgencyFileReadError(t *testing.T) {
	errIO := errors.New("input/output error")
	r := &failingReader{data: juanLine + "\n" + "Ana,Gó", err: errIO}
	got, err := collect(t, ReadAgencyFile(r, testPath, 3))
	if !slices.Equal(got, []lottery.Bet{juan}) {
		t.Errorf("bets before the error = %+v, want only juan", got)
	}
	if !errors.Is(err, errIO) {
		t.Fatalf("error = %v, want %v", err, errIO)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != testPath {
		t.Errorf("error %q is not a *FileError for %s", err, testPath)
	}
}

func TestReadAgencyFileStopsWhenConsumerStops(t *testing.T) {
	in := juanLine + "\n" + anaLine + "\n" + joseLine + "\n"
	var got []lottery.Bet
	for bet, err := range ReadAgencyFile(strings.NewReader(in), testPath, 3) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, bet)
		if len(got) == 2 {
			break
		}
	}
	if !slices.Equal(got, []lottery.Bet{juan, ana}) {
		t.Errorf("got %+v", got)
	}
}

func TestFileErrorMessage(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		err  *FileError
		want string
	}{
		{&FileError{Path: "a.csv", Line: 7, Err: inner}, "a.csv line 7: boom"},
		{&FileError{Path: "a.csv", Err: inner}, "a.csv: boom"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, inner) {
			t.Errorf("%q does not unwrap to its cause", tt.err)
		}
	}
}

// writeBets writes n numbered bets (document i, number i) to a file and
// returns its path and the bets.
func writeBets(t *testing.T, n int, extra string) (string, []lottery.Bet) {
	t.Helper()
	var sb strings.Builder
	var bets []lottery.Bet
	for i := 1; i <= n; i++ {
		doc := strconv.Itoa(i)
		sb.WriteString("Nombre" + doc + ",Apellido," + doc + ",2000-01-01," + doc + "\n")
		bets = append(bets, b("Nombre"+doc, "Apellido", doc, "2000-01-01", i))
	}
	sb.WriteString(extra)
	path := filepath.Join(t.TempDir(), "agency-3.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, bets
}

// collectFile collects the bets of agency 3's file at path from skip on,
// as OpenAgencyFile yields them, and closes the file.
func collectFile(t *testing.T, path string, skip uint64) ([]lottery.Bet, error) {
	t.Helper()
	seq, closer, err := OpenAgencyFile(path, 3, skip)
	if err != nil {
		t.Fatalf("OpenAgencyFile: %v", err)
	}
	defer closer.Close()
	return collect(t, seq)
}

func TestOpenAgencyFileSkip(t *testing.T) {
	path, all := writeBets(t, 5, "")
	tests := []struct {
		skip uint64
		want []lottery.Bet
	}{
		{0, all},
		{1, all[1:]},
		{2, all[2:]},
		{4, all[4:]},
		{5, nil},
		{6, nil},
		{1 << 40, nil},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatUint(tt.skip, 10), func(t *testing.T) {
			got, err := collectFile(t, path, tt.skip)
			if err != nil {
				t.Fatalf("OpenAgencyFile sequence: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("OpenAgencyFile skip %d =\n %+v, want\n %+v", tt.skip, got, tt.want)
			}
		})
	}
}

func TestOpenAgencyFileSkipBlankLinesDoNotCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agency-3.csv")
	if err := os.WriteFile(path, []byte("\n"+juanLine+"\n\n\n"+anaLine+"\n\n"+joseLine), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := collectFile(t, path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []lottery.Bet{jose}) {
		t.Errorf("OpenAgencyFile skip 2 = %+v, want the third bet only", got)
	}
}

func TestOpenAgencyFileErrors(t *testing.T) {
	t.Run("bad line in the skipped part", func(t *testing.T) {
		path, _ := writeBets(t, 2, "bad\n"+juanLine+"\n")
		got, err := collectFile(t, path, 3)
		if len(got) != 0 {
			t.Errorf("bets before the error = %+v, want none", got)
		}
		checkFileError(t, err, path, 3)
	})
	t.Run("bad line after the skipped part", func(t *testing.T) {
		path, all := writeBets(t, 3, "bad\n")
		got, err := collectFile(t, path, 1)
		if !slices.Equal(got, all[1:]) {
			t.Errorf("bets before the error = %+v, want %+v", got, all[1:])
		}
		checkFileError(t, err, path, 4)
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.csv")
		_, _, err := OpenAgencyFile(path, 3, 0)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("OpenAgencyFile on a missing file = %v, want os.ErrNotExist", err)
		}
		checkFileError(t, err, path, 0)
	})
	t.Run("closer closes the file", func(t *testing.T) {
		path, _ := writeBets(t, 1, "")
		_, closer, err := OpenAgencyFile(path, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := closer.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if f, ok := closer.(*os.File); ok {
			if _, err := f.Read(make([]byte, 1)); err == nil || err == io.EOF {
				t.Errorf("file still readable after Close: %v", err)
			}
		}
	})
}

func TestAppendAgencyRow(t *testing.T) {
	tests := []struct {
		name string
		dst  string
		bet  lottery.Bet
		want string
	}{
		{
			name: "accents",
			bet:  lottery.Bet{Agency: 1, FirstName: "José", LastName: "Álvarez", Document: "30904465", Birthdate: "1999-03-17", Number: 7574},
			want: "José,Álvarez,30904465,1999-03-17,7574\n",
		},
		{
			name: "number zero, appends",
			dst:  "prefix\n",
			bet:  lottery.Bet{Agency: 2, FirstName: "María José", LastName: "Muñoz", Document: "10000000", Birthdate: "1940-01-01", Number: 0},
			want: "prefix\nMaría José,Muñoz,10000000,1940-01-01,0\n",
		},
		{
			name: "a comma and a quote are quoted",
			bet:  lottery.Bet{FirstName: `Juan "el Tano"`, LastName: "Pérez, Jr", Document: "1", Birthdate: "2000-02-29", Number: 5},
			want: `"Juan ""el Tano""","Pérez, Jr",1,2000-02-29,5` + "\n",
		},
		{
			name: "a leading space is quoted",
			bet:  lottery.Bet{FirstName: " Ana", LastName: "Gómez", Document: "1", Birthdate: "2000-02-29", Number: 5},
			want: `" Ana",Gómez,1,2000-02-29,5` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendAgencyRow([]byte(tt.dst), tt.bet)); got != tt.want {
				t.Errorf("AppendAgencyRow = %q, want %q", got, tt.want)
			}
		})
	}

	bet := tests[0].bet
	buf := make([]byte, 0, 256)
	if allocs := testing.AllocsPerRun(100, func() { buf = AppendAgencyRow(buf[:0], bet) }); allocs != 0 {
		t.Errorf("AppendAgencyRow allocates %v times per call", allocs)
	}
}

// TestOpenCheckedAgencyFile: the upload's second pass yields the bets of
// the check pass, normalized alike, and leaves the rule to the pass that
// checked the file (a birthdate before 1900 is read, not refused).
func TestOpenCheckedAgencyFile(t *testing.T) {
	tests := []struct {
		name, content string
		checkedErr    bool // OpenAgencyFile refuses it
	}{
		{"valid, one needing NFC and trimming", juanLine + "\n" + " Jose\u0301 ,Gómez,1,2000-01-31,1\r\n", false},
		{"a birthdate before 1900", juanLine + "\nAna,Gómez,1,1850-01-31,1\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agency.csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := collectFile(t, path, 0)
			if (err != nil) != tt.checkedErr {
				t.Fatalf("OpenAgencyFile error = %v, want error %v", err, tt.checkedErr)
			}
			seq, f, err := OpenCheckedAgencyFile(path, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := collect(t, seq)
			if err != nil {
				t.Fatalf("OpenCheckedAgencyFile: %v", err)
			}
			if len(got) != 2 || !slices.Equal(got[:len(want)], want) {
				t.Errorf("bets = %+v, want 2 bets starting with %+v", got, want)
			}
		})
	}
}
