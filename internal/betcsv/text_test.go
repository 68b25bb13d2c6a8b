package betcsv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// TestNormalize is the normalization of a text field read from an agency's
// file: white space around it trimmed, NFC, nothing else removed.
func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"canonical", "José María", "José María"},
		{"empty", "", ""},
		{"spaces around", "  Ana ", "Ana"},
		{"tabs and no-break spaces around", "\t\u00a0Ana\u3000 ", "Ana"},
		{"inner spaces kept", " María  del Carmen ", "María  del Carmen"},
		{"blank", " \t ", ""},
		{"decomposed acute", "Jose\u0301", "José"},
		{"decomposed tilde and acute", "Nu\u0301n\u0303ez", "Núñez"},
		{"decomposed after trimming", " Ine\u0301s ", "Inés"},
		{"no precomposed form kept", "n\u0308", "n\u0308"},
		{"BOM kept", "\ufeffLuis", "\ufeffLuis"},
		{"zero width space kept", "Lu\u200bis", "Lu\u200bis"},
		{"control kept", "Lu\x01is", "Lu\x01is"},
		{"number", " 07574 ", "07574"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	s := "José María Núñez"
	if allocs := testing.AllocsPerRun(100, func() { s = Normalize(s) }); allocs != 0 {
		t.Errorf("Normalize allocates %v times for canonical text", allocs)
	}
}

// TestNormalizeBelowU0300 checks what Normalize's shortcut relies on:
// every character below U+0300 is NFC on its own and cannot combine with
// the character before it, so any text of them is NFC.
func TestNormalizeBelowU0300(t *testing.T) {
	for r := rune(0); r < 0x300; r++ {
		s := string(r)
		if !norm.NFC.IsNormalString(s) || !norm.NFC.PropertiesString(s).BoundaryBefore() {
			t.Errorf("%U is not NFC on its own or combines with the character before it", r)
		}
	}
}

// TestReadAgencyFileNormalizes reads almost-right lines: each bet comes
// out canonical, as lottery.Validate (the central's check) wants it.
func TestReadAgencyFileNormalizes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want lottery.Bet
	}{
		{"spaces around the first name", " Juan ,Pérez,30904465,1999-03-17,7574", juan},
		{"spaces around every field", "  Juan\t, Pérez ,\t30904465 , 1999-03-17 , 7574 ", juan},
		{"no-break spaces around a name", "\u00a0Juan\u00a0,Pérez,30904465,1999-03-17,7574", juan},
		{"spaces inside quotes", `" Juan "," Pérez",30904465,1999-03-17,7574`, juan},
		{"decomposed accents (NFD)", "Jose\u0301 Mari\u0301a,Nu\u0301n\u0303ez N\u0303andu\u0301,1,2000-02-29,9999", jose},
		{"number with a leading zero", "Juan,Pérez,30904465,1999-03-17,07574", juan},
		{"number with leading zeros", "Ana,Gómez,12345678,1985-12-31,0000", ana},
		{"number written with 4 digits", "Ana,Gómez,12345678,1985-12-31,0042", b("Ana", "Gómez", "12345678", "1985-12-31", 42)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, ReadAgencyFile(strings.NewReader(tt.in+"\r\n"), testPath, 3))
			if err != nil {
				t.Fatalf("ReadAgencyFile: %v", err)
			}
			if !slices.Equal(got, []lottery.Bet{tt.want}) {
				t.Fatalf("ReadAgencyFile =\n %+v, want\n %+v", got, tt.want)
			}
			if err := lottery.Validate(got[0]); err != nil {
				t.Errorf("the central would refuse the bet read: %v", err)
			}
		})
	}
}

// TestReadAgencyFileRefusesNonCanonical: what normalization cannot make
// canonical is refused, naming the line, the field and the character,
// never removed in silence.
func TestReadAgencyFileRefusesNonCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		want string // a part of the message
	}{
		{"zero width space in a first name", juanLine + "\nLu\u200bis,Paz,1,2000-02-29,5\n", 2,
			"line 2: invalid bet: first_name: U+200B ZERO WIDTH SPACE inside the text"},
		{"zero width space after a last name", "Luis,Paz\u200b,1,2000-02-29,5\n", 1,
			"last_name: U+200B ZERO WIDTH SPACE at the end of the text"},
		{"BOM inside a name", "Lu\ufeffis,Paz,1,2000-02-29,5\n", 1,
			"first_name: U+FEFF ZERO WIDTH NO-BREAK SPACE, the byte-order mark, inside the text"},
		{"BOM glued to a last name", "Luis,\ufeffPaz,1,2000-02-29,5\n", 1,
			"last_name: U+FEFF ZERO WIDTH NO-BREAK SPACE, the byte-order mark, at the start of the text"},
		{"zero width joiner", "Luis,Pa\u200dz,1,2000-02-29,5\n", 1, "last_name: U+200D ZERO WIDTH JOINER inside the text"},
		{"right-to-left override", "\u202eLuis,Paz,1,2000-02-29,5\n", 1, "first_name: U+202E RIGHT-TO-LEFT OVERRIDE at the start"},
		{"control character", "Lu\x01is,Paz,1,2000-02-29,5\n", 1, "first_name: U+0001 inside the text (a control character)"},
		{"tab inside a name", "Luis\tMaría,Paz,1,2000-02-29,5\n", 1, "first_name: U+0009 CHARACTER TABULATION inside the text"},
		{"NUL after the first line", juanLine + "\nLuis,Pa\x00z,1,2000-02-29,5\n", 2, "last_name: U+0000 NULL inside the text"},
		{"combining mark with no precomposed form", "Luis,Pan\u0308,1,2000-02-29,5\n", 1,
			"last_name: U+0308 COMBINING DIAERESIS at the end of the text (a combining mark"},
		{"zero width space in a document", "Luis,Paz,3090\u200b4465,2000-02-29,5\n", 1, "document: U+200B ZERO WIDTH SPACE inside the text"},
		{"BOM in a birthdate", "Luis,Paz,1,\ufeff2000-02-29,5\n", 1, "birthdate: U+FEFF"},
		{"blank name", "Luis,\u00a0 ,1,2000-02-29,5\n", 1, "last_name: empty"},
		{"number with a plus sign", "Luis,Paz,1,2000-02-29,+7574\n", 1, `number: "+7574" is not plain digits`},
		{"number with a minus sign", "Luis,Paz,1,2000-02-29,-0\n", 1, `number: "-0" is not plain digits`},
		{"number with inner space", "Luis,Paz,1,2000-02-29,75 74\n", 1, `number: "75 74" is not plain digits`},
		{"number in Arabic-Indic digits", "Luis,Paz,1,2000-02-29,٧٥٧٤\n", 1, "number:"},
		{"number with a zero width space", "Luis,Paz,1,2000-02-29,7574\u200b\n", 1, "number:"},
		{"number too large with zeros", "Luis,Paz,1,2000-02-29,010000\n", 1, `number: "010000" is outside 0..9999`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := collect(t, ReadAgencyFile(strings.NewReader(tt.in), testPath, 3))
			checkFileError(t, err, testPath, tt.line)
			if !errors.Is(err, lottery.ErrInvalidBet) {
				t.Errorf("error %q does not wrap lottery.ErrInvalidBet", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// utf16File returns s encoded as UTF-16, little or big endian, with or
// without a byte-order mark.
func utf16File(t *testing.T, s string, bigEndian, bom bool) string {
	t.Helper()
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	var buf bytes.Buffer
	for _, u := range units {
		if bigEndian {
			buf.WriteByte(byte(u >> 8))
			buf.WriteByte(byte(u))
		} else {
			buf.WriteByte(byte(u))
			buf.WriteByte(byte(u >> 8))
		}
	}
	return buf.String()
}

// TestReadAgencyFileNamesTheCause: a file that does not read as lines of
// bets is refused with its real cause and what to do, not with a count of
// fields.
func TestReadAgencyFileNamesTheCause(t *testing.T) {
	two := juanLine + "\r\n" + anaLine + "\r\n"
	cr := func(lines ...string) string { return strings.Join(lines, "\r") + "\r" }
	var bigCR strings.Builder
	for bigCR.Len() < 200<<10 {
		bigCR.WriteString(anaLine + "\r")
	}
	tests := []struct {
		name   string
		in     string
		line   int // 0: the error is about the file
		want   error
		before int // bets yielded before the error
	}{
		{"UTF-16LE with BOM", utf16File(t, two, false, true), 0, errUTF16, 0},
		{"UTF-16BE with BOM", utf16File(t, two, true, true), 0, errUTF16, 0},
		{"UTF-16LE without BOM", utf16File(t, two, false, false), 0, errUTF16, 0},
		{"UTF-16BE without BOM", utf16File(t, two, true, false), 0, errUTF16, 0},
		{"UTF-16LE, LF line ends", utf16File(t, juanLine+"\n"+anaLine+"\n", false, false), 0, errUTF16, 0},
		{"UTF-16LE after a blank line", utf16File(t, "\n"+two, false, false), 0, errUTF16, 0},
		{"UTF-16BE, one line", utf16File(t, juanLine, true, true), 0, errUTF16, 0},
		{"CR only", cr(juanLine, anaLine, joseLine), 1, errCROnly, 0},
		{"CR only, two lines", cr(juanLine, anaLine), 1, errCROnly, 0},
		{"CR only, with BOM", "\uFEFF" + cr(juanLine, anaLine), 1, errCROnly, 0},
		{"CR only, longer than the read buffer", bigCR.String(), 1, errCROnly, 0},
		{"CR only after LF lines", juanLine + "\n" + anaLine + "\n" + cr(juanLine, anaLine), 3, errCROnly, 2},
		{"CR only after blank lines", "\n\n" + cr(juanLine, anaLine), 3, errCROnly, 0},
		{"BOM at line 2: two files concatenated", "\uFEFF" + juanLine + "\r\n" + "\uFEFF" + anaLine + "\r\n", 2, errInnerBOM, 1},
		{"BOM at line 3, first file without", juanLine + "\n" + anaLine + "\n" + "\uFEFF" + joseLine + "\n", 3, errInnerBOM, 2},
		{"BOM alone on a line", juanLine + "\n\uFEFF\n" + anaLine + "\n", 2, errInnerBOM, 1},
		{"BOM after blank lines", juanLine + "\n\n\n\uFEFF" + anaLine + "\n", 4, errInnerBOM, 1},
		{"two BOMs at the start", "\uFEFF\uFEFF" + juanLine + "\n", 1, errInnerBOM, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, ReadAgencyFile(strings.NewReader(tt.in), testPath, 3))
			if len(got) != tt.before {
				t.Errorf("%d bets before the error, want %d", len(got), tt.before)
			}
			checkFileError(t, err, testPath, tt.line)
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "fields") {
				t.Errorf("error %q counts fields, not the cause", err)
			}
		})
	}
}

// TestCheckAgencyFileNamesTheCause: the check the agency runs before it
// connects reports the same causes, in the words the issue asked for.
func TestCheckAgencyFileNamesTheCause(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"UTF-16", utf16File(t, juanLine+"\r\n", false, true), "agency-3.csv: the file is UTF-16; save it as UTF-8"},
		{"CR only", juanLine + "\r" + anaLine + "\r", "agency-3.csv line 1: line ends are CR only (old Mac); save with LF or CRLF line ends"},
		{"inner BOM", "\uFEFF" + juanLine + "\n" + "\uFEFF" + anaLine + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agency-3.csv")
			if err := os.WriteFile(path, []byte(tt.in), 0o644); err != nil {
				t.Fatal(err)
			}
			err := CheckAgencyFile(path, 3)
			if tt.want == "" {
				// CheckAgencyFile reads the first bet only; the
				// upload (OpenAgencyFile) finds the second file.
				if err != nil {
					t.Fatalf("CheckAgencyFile = %v, want nil", err)
				}
				_, err = collectFile(t, path, 1)
				if !errors.Is(err, errInnerBOM) || !strings.Contains(err.Error(), "agency-3.csv line 2: a byte-order mark (U+FEFF) inside the file, at the start of the line: two files concatenated?") {
					t.Errorf("OpenAgencyFile skip 1: %v, want the inner byte-order mark at line 2", err)
				}
				return
			}
			if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("CheckAgencyFile = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRuneNames checks the names lottery.CanonicalText gives characters
// against the Unicode names of x/text, which the domain cannot import.
func TestRuneNames(t *testing.T) {
	for _, r := range []rune{
		0x00, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x7F, 0x85, 0xA0, 0xAD,
		0x300, 0x301, 0x303, 0x308, 0x327, 0x34F, 0x61C, 0x1680, 0x180E,
		0x2002, 0x2003, 0x2009, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F,
		0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x202F,
		0x205F, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0x3000, 0xFEFF,
		0x2000, 0x2001, 0x2126, 0x212A, 0x212B,
	} {
		err := lottery.CanonicalText("A" + string(r)) // at the end: white space too is refused there
		if err == nil {
			t.Errorf("CanonicalText accepts %U at the end of a text", r)
			continue
		}
		name := runenames.Name(r)
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			name = map[rune]string{0x00: "NULL", 0x09: "CHARACTER TABULATION", 0x0A: "LINE FEED", 0x0B: "LINE TABULATION",
				0x0C: "FORM FEED", 0x0D: "CARRIAGE RETURN", 0x7F: "DELETE", 0x85: "NEXT LINE"}[r] // runenames has "<control>"
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("CanonicalText names %U %q, want its name %q", r, err, name)
		}
	}
}

// TestCanonicalTextIsNFC checks the claim of lottery.CanonicalText: for
// Latin-script text, canonical is NFC. Every character of the Latin blocks
// (and of Latin-1's symbols, the letterlike symbols and general
// punctuation) that CanonicalText accepts is NFC and cannot combine with
// the character before it, so any text of them is NFC; and any text that
// NFC changes holds a character CanonicalText refuses.
func TestCanonicalTextIsNFC(t *testing.T) {
	blocks := [][2]rune{
		{0x0000, 0x036F}, // Basic Latin to Combining Diacritical Marks
		{0x1AB0, 0x1AFF}, // Combining Diacritical Marks Extended
		{0x1DC0, 0x1EFF}, // Combining Diacritical Marks Supplement, Latin Extended Additional
		{0x2000, 0x214F}, // General Punctuation to Letterlike Symbols
		{0x2C60, 0x2C7F}, // Latin Extended-C
		{0xA720, 0xA7FF}, // Latin Extended-D
		{0xAB30, 0xAB6F}, // Latin Extended-E
		{0xFB00, 0xFB06}, // Latin ligatures
		{0xFE20, 0xFE2F}, // Combining Half Marks
	}
	for _, b := range blocks {
		for r := b[0]; r <= b[1]; r++ {
			s := string(r)
			if lottery.CanonicalText("a"+s+"a") != nil {
				continue
			}
			if !norm.NFC.IsNormalString(s) || !norm.NFC.PropertiesString(s).BoundaryBefore() {
				t.Errorf("CanonicalText accepts %U, which NFC changes or combines with the character before it", r)
			}
		}
	}
}

// TestCourseDatasetReads reads each file of the course dataset as an
// agency does: every one of its 78,697 bets is accepted, and none is
// changed by normalization, so the digests of the course's files are what
// they were. It reads ../shared/data/dataset.zip beside the repository,
// and skips where that is absent.
func TestCourseDatasetReads(t *testing.T) {
	n := 0
	for _, f := range harness.Dataset(t) {
		lines := strings.Split(strings.TrimSuffix(string(f.Data), "\r\n"), "\r\n")
		i := 0
		for bet, err := range ReadAgencyFile(bytes.NewReader(f.Data), f.Name, 1) {
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			row := AppendAgencyRow(nil, bet)
			if i >= len(lines) || string(row[:len(row)-1]) != lines[i] {
				t.Fatalf("%s line %d: read as %q, the file says %q", f.Name, i+1, row, lines[min(i, len(lines)-1)])
			}
			i++
		}
		if i != len(lines) {
			t.Errorf("%s: read %d bets of %d lines", f.Name, i, len(lines))
		}
		n += i
	}
	if n != 78697 {
		t.Errorf("read %d bets of the course dataset, want 78697", n)
	}
}
