package lottery

import (
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// validBet returns a bet that Validate accepts.
func validBet() Bet {
	return Bet{
		Agency:    1,
		FirstName: "Santiago Lionel",
		LastName:  "Lorca",
		Document:  "30904465",
		Birthdate: "1999-03-17",
		Number:    7574,
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Bet)
		field  string // "" when the bet is valid
	}{
		{"valid", func(*Bet) {}, ""},
		{"valid accented names", func(b *Bet) { b.FirstName, b.LastName = "José María", "Núñez Ñandú" }, ""},
		{"valid name with inner spaces and symbols", func(b *Bet) { b.LastName = "O'Brien-D'Alessandro, Jr." }, ""},
		{"agency is not checked", func(b *Bet) { b.Agency = -5 }, ""},

		{"empty first name", func(b *Bet) { b.FirstName = "" }, "first_name"},
		{"blank first name", func(b *Bet) { b.FirstName = "   " }, "first_name"},
		{"empty last name", func(b *Bet) { b.LastName = "" }, "last_name"},
		{"blank last name", func(b *Bet) { b.LastName = " \t " }, "last_name"},
		{"blank last name, unicode space", func(b *Bet) { b.LastName = "\u00a0\u2003" }, "last_name"},
		{"first name 255 bytes", func(b *Bet) { b.FirstName = strings.Repeat("a", 255) }, ""},
		{"first name 256 bytes", func(b *Bet) { b.FirstName = strings.Repeat("a", 256) }, "first_name"},
		{"last name 255 bytes", func(b *Bet) { b.LastName = strings.Repeat("a", 255) }, ""},
		{"last name 256 bytes", func(b *Bet) { b.LastName = strings.Repeat("a", 256) }, "last_name"},
		{"last name 255 bytes of 2-byte runes", func(b *Bet) { b.LastName = strings.Repeat("ñ", 127) + "a" }, ""},
		{"last name 256 bytes of 2-byte runes", func(b *Bet) { b.LastName = strings.Repeat("ñ", 128) }, "last_name"},
		{"first name invalid UTF-8", func(b *Bet) { b.FirstName = "Jos\xe9" }, "first_name"},
		{"last name invalid UTF-8", func(b *Bet) { b.LastName = "\xff\xfe" }, "last_name"},
		{"last name truncated rune", func(b *Bet) { b.LastName = "Nu\xc3" }, "last_name"},
		{"first name newline", func(b *Bet) { b.FirstName = "Juan\nPedro" }, "first_name"},
		{"first name carriage return", func(b *Bet) { b.FirstName = "Juan\r" }, "first_name"},
		{"last name tab", func(b *Bet) { b.LastName = "Pérez\tGómez" }, "last_name"},
		{"last name NUL", func(b *Bet) { b.LastName = "Pérez\x00" }, "last_name"},
		{"last name DEL", func(b *Bet) { b.LastName = "Pérez\x7f" }, "last_name"},
		{"last name C1 control", func(b *Bet) { b.LastName = "Pérez\u0085" }, "last_name"},

		// Text fields are canonical (CanonicalText): the central refuses
		// what an agency's reader should have normalized.
		{"first name space before", func(b *Bet) { b.FirstName = " Ana" }, "first_name"},
		{"first name space after", func(b *Bet) { b.FirstName = "Ana " }, "first_name"},
		{"last name spaces around", func(b *Bet) { b.LastName = " Gómez " }, "last_name"},
		{"last name no-break space after", func(b *Bet) { b.LastName = "Gómez\u00a0" }, "last_name"},
		{"first name BOM glued", func(b *Bet) { b.FirstName = "\ufeffLuis" }, "first_name"},
		{"first name zero width space inside", func(b *Bet) { b.FirstName = "Lu\u200bis" }, "first_name"},
		{"last name zero width joiner", func(b *Bet) { b.LastName = "Gó\u200dmez" }, "last_name"},
		{"last name right-to-left mark", func(b *Bet) { b.LastName = "\u200fGómez" }, "last_name"},
		{"last name soft hyphen", func(b *Bet) { b.LastName = "Gó\u00admez" }, "last_name"},
		{"last name line separator", func(b *Bet) { b.LastName = "Gómez\u2028Paz" }, "last_name"},
		{"first name decomposed (NFD)", func(b *Bet) { b.FirstName = "Jose\u0301" }, "first_name"},
		{"last name decomposed inside", func(b *Bet) { b.LastName = "Nu\u0303n\u0303ez" }, "last_name"},
		{"valid inner no-break space", func(b *Bet) { b.FirstName = "José\u00a0María" }, ""},
		{"valid precomposed", func(b *Bet) { b.FirstName, b.LastName = "Jos\u00e9", "N\u00fa\u00f1ez" }, ""},
		{"document with space after", func(b *Bet) { b.Document = "30904465 " }, "document"},
		{"document with zero width space", func(b *Bet) { b.Document = "3090\u200b4465" }, "document"},
		{"birthdate with space after", func(b *Bet) { b.Birthdate = "1999-03-17 " }, "birthdate"},
		{"birthdate with BOM", func(b *Bet) { b.Birthdate = "\ufeff1999-03-17" }, "birthdate"},

		{"document 1 digit", func(b *Bet) { b.Document = "7" }, ""},
		{"document 16 digits", func(b *Bet) { b.Document = strings.Repeat("9", 16) }, ""},
		{"document 17 digits", func(b *Bet) { b.Document = strings.Repeat("9", 17) }, "document"},
		{"document empty", func(b *Bet) { b.Document = "" }, "document"},
		{"document with letter", func(b *Bet) { b.Document = "3090446a" }, "document"},
		{"document with dots", func(b *Bet) { b.Document = "30.904.465" }, "document"},
		{"document with sign", func(b *Bet) { b.Document = "-30904465" }, "document"},
		{"document with space", func(b *Bet) { b.Document = " 30904465" }, "document"},
		{"document with unicode digit", func(b *Bet) { b.Document = "٣٠٩" }, "document"},

		{"birthdate leap day", func(b *Bet) { b.Birthdate = "2024-02-29" }, ""},
		{"birthdate 2023-02-30", func(b *Bet) { b.Birthdate = "2023-02-30" }, "birthdate"},
		{"birthdate 2023-02-29", func(b *Bet) { b.Birthdate = "2023-02-29" }, "birthdate"},
		{"birthdate 2023-2-3", func(b *Bet) { b.Birthdate = "2023-2-3" }, "birthdate"},
		{"birthdate 2023-13-01", func(b *Bet) { b.Birthdate = "2023-13-01" }, "birthdate"},
		{"birthdate abc", func(b *Bet) { b.Birthdate = "abc" }, "birthdate"},
		{"birthdate empty", func(b *Bet) { b.Birthdate = "" }, "birthdate"},
		{"birthdate slashes", func(b *Bet) { b.Birthdate = "2023/02/03" }, "birthdate"},
		{"birthdate with time", func(b *Bet) { b.Birthdate = "2023-02-03T00:00:00Z" }, "birthdate"},
		{"birthdate padded", func(b *Bet) { b.Birthdate = " 2023-2-03" }, "birthdate"},

		{"number -1", func(b *Bet) { b.Number = -1 }, "number"},
		{"number 0", func(b *Bet) { b.Number = 0 }, ""},
		{"number 9999", func(b *Bet) { b.Number = 9999 }, ""},
		{"number 10000", func(b *Bet) { b.Number = 10000 }, "number"},

		{"first wrong field is named", func(b *Bet) { b.LastName = ""; b.Number = -1 }, "last_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bet := validBet()
			tt.modify(&bet)
			err := Validate(bet)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", bet, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want an error naming %s", bet, tt.field)
			}
			if !errors.Is(err, ErrInvalidBet) {
				t.Errorf("error %q does not wrap ErrInvalidBet", err)
			}
			if !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("error %q does not name field %s", err, tt.field)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestCanonicalText is the rule of a bet's text fields, character by
// character: what it accepts, and for what it refuses, the character it
// names and where.
func TestCanonicalText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // a part of the error, "" when s is canonical
	}{
		{"empty", "", ""},
		{"ascii", "Santiago Lionel", ""},
		{"inner spaces kept", "María  del Carmen", ""},
		{"precomposed accents", "Núñez Ñandú, Çé", ""},
		{"symbols", "O'Brien-D'Alessandro, Jr.", ""},
		{"inner no-break space", "José\u00a0María", ""},
		{"other scripts, precomposed", "Ελένη Петров 王秀英", ""},
		{"emoji", "Ana 🍀", ""},

		{"space before", " Ana", "U+0020 SPACE at the start of the text (white space around the text)"},
		{"space after", "Ana ", "U+0020 SPACE at the end of the text (white space around the text)"},
		{"spaces around", "  Ana  ", "U+0020 SPACE at the start of the text"},
		{"space after, non-ASCII", "Muñoz ", "U+0020 SPACE at the end of the text"},
		{"no-break space before", "\u00a0Ana", "U+00A0 NO-BREAK SPACE at the start of the text"},
		{"ideographic space after", "Ana\u3000", "U+3000 IDEOGRAPHIC SPACE at the end of the text"},
		{"em space after", "Ana\u2003", "U+2003 EM SPACE at the end"},
		{"blank", "   ", "blank: only white space"},
		{"blank unicode", "\u00a0\u2003", "blank: only white space"},

		{"tab inside", "Ana\tPaz", "U+0009 CHARACTER TABULATION inside the text (a control character)"},
		{"tab before", "\tAna", "U+0009 CHARACTER TABULATION at the start of the text (a control character)"},
		{"line feed", "Ana\nPaz", "U+000A LINE FEED inside the text"},
		{"carriage return after", "Ana\r", "U+000D CARRIAGE RETURN at the end of the text"},
		{"NUL", "A\x00na", "U+0000 NULL inside the text"},
		{"DEL", "Ana\x7f", "U+007F DELETE at the end of the text"},
		{"C1 control", "A\u0085na", "U+0085 NEXT LINE inside the text (a control character)"},
		{"C1 control unnamed", "A\u0090na", "U+0090 inside the text (a control character)"},

		{"BOM glued before", "\ufeffLuis", "U+FEFF ZERO WIDTH NO-BREAK SPACE, the byte-order mark, at the start of the text (a format character"},
		{"BOM inside", "Lu\ufeffis", "U+FEFF ZERO WIDTH NO-BREAK SPACE, the byte-order mark, inside the text"},
		{"zero width space inside", "Lu\u200bis", "U+200B ZERO WIDTH SPACE inside the text"},
		{"zero width space after", "Luis\u200b", "U+200B ZERO WIDTH SPACE at the end of the text"},
		{"zero width non-joiner", "Lu\u200cis", "U+200C ZERO WIDTH NON-JOINER inside the text"},
		{"zero width joiner", "Lu\u200dis", "U+200D ZERO WIDTH JOINER inside the text"},
		{"left-to-right mark", "\u200eLuis", "U+200E LEFT-TO-RIGHT MARK at the start"},
		{"right-to-left override", "Lu\u202eis", "U+202E RIGHT-TO-LEFT OVERRIDE inside the text"},
		{"first strong isolate", "Lu\u2068is", "U+2068 FIRST STRONG ISOLATE inside"},
		{"word joiner", "Lu\u2060is", "U+2060 WORD JOINER inside"},
		{"soft hyphen", "Gó\u00admez", "U+00AD SOFT HYPHEN inside the text (a format character"},
		{"tag character, unnamed", "Ana\U000E0041", "U+E0041 at the end of the text (a format character"},
		{"line separator", "Ana\u2028Paz", "U+2028 LINE SEPARATOR inside the text (a line break)"},
		{"paragraph separator", "Ana\u2029", "U+2029 PARAGRAPH SEPARATOR at the end of the text (a line break)"},

		{"NFD acute", "Jose\u0301", "U+0301 COMBINING ACUTE ACCENT at the end of the text (a combining mark: write the letter precomposed (Unicode NFC))"},
		{"NFD tilde inside", "Nu\u0303n\u0303ez", "U+0303 COMBINING TILDE inside the text"},
		{"NFD cedilla", "C\u0327e", "U+0327 COMBINING CEDILLA inside"},
		{"mark first", "\u0301Ana", "U+0301 COMBINING ACUTE ACCENT at the start"},
		{"grapheme joiner", "A\u034fna", "U+034F COMBINING GRAPHEME JOINER inside"},
		{"no precomposed form", "n\u0308", "U+0308 COMBINING DIAERESIS at the end"},
		{"spacing mark (Mc), Devanagari", "\u0930\u093e\u092e", "U+093E inside the text (a combining mark"},
		{"enclosing mark (Me)", "A\u20dd", "U+20DD at the end of the text (a combining mark"},

		{"angstrom sign", "\u212Bngström", "U+212B ANGSTROM SIGN at the start of the text (Unicode NFC writes it as U+00C5)"},
		{"kelvin sign", "Kevin \u212A", "U+212A KELVIN SIGN at the end"},
		{"em quad inside", "Ana\u2001Paz", "U+2001 EM QUAD inside the text (Unicode NFC writes it as U+2003)"},
		{"precomposed Å", "\u00c5ngström", ""},

		{"invalid UTF-8", "Jos\xe9", "not valid UTF-8"},
		{"truncated rune", "Nu\xc3", "not valid UTF-8"},
		{"surrogate half", "A\xed\xa0\x80", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CanonicalText(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CanonicalText(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CanonicalText(%q) = nil, want an error with %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CanonicalText(%q) = %q, want it to contain %q", tt.in, err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\n\r") || !utf8.ValidString(err.Error()) {
				t.Errorf("error is not one line of UTF-8: %q", err)
			}
		})
	}
}

func TestValidateAgency(t *testing.T) {
	tests := []struct {
		agency, agencies int
		ok               bool
	}{
		{1, 5, true},
		{5, 5, true},
		{3, 5, true},
		{0, 5, false},
		{-1, 5, false},
		{6, 5, false},
		{1, 1, true},
		{2, 1, false},
		{1, 0, false},
		{65535, 65535, true},
		{65536, 65535, false},
	}
	for _, tt := range tests {
		err := ValidateAgency(tt.agency, tt.agencies)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateAgency(%d, %d) = %v, want ok=%v", tt.agency, tt.agencies, err, tt.ok)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidBet) {
				t.Errorf("ValidateAgency(%d, %d) error %q does not wrap ErrInvalidBet", tt.agency, tt.agencies, err)
			}
			if !strings.Contains(err.Error(), "agency") {
				t.Errorf("ValidateAgency(%d, %d) error %q does not name the agency", tt.agency, tt.agencies, err)
			}
		}
	}
}

func TestHasWon(t *testing.T) {
	if LotteryWinnerNumber != 7574 {
		t.Fatalf("LotteryWinnerNumber = %d, want 7574", LotteryWinnerNumber)
	}
	for _, tt := range []struct {
		number int
		want   bool
	}{
		{7574, true}, {7573, false}, {7575, false}, {0, false}, {9999, false}, {-7574, false}, {17574, false},
	} {
		bet := validBet()
		bet.Number = tt.number
		if got := HasWon(bet); got != tt.want {
			t.Errorf("HasWon(number %d) = %v, want %v", tt.number, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true},
		{"7574", 7574, true},
		{"9999", 9999, true},
		{"0007", 7, true},
		{"07574", 7574, true},
		{"0000", 0, true},
		{"00009999", 9999, true},
		{"+7574", 0, false},
		{"+0", 0, false},
		{"-0", 0, false},
		{"7574 ", 0, false},
		{"7 574", 0, false},
		{"0x1D96", 0, false},
		{"٧٥٧٤", 0, false}, // Arabic-Indic digits
		{"７５７４", 0, false}, // fullwidth digits
		{"7574\u200b", 0, false},
		{"\ufeff7574", 0, false},
		{"1e3", 0, false},
		{"9223372036854775807", 0, false},
		{"10000", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"abc", 0, false},
		{"12x", 0, false},
		{" 12", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseNumber(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("ParseNumber(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseNumber(%q) = %d, nil; want an error", tt.in, got)
			continue
		}
		if !errors.Is(err, ErrInvalidBet) || !strings.Contains(err.Error(), "number") {
			t.Errorf("ParseNumber(%q) error %q: want ErrInvalidBet naming number", tt.in, err)
		}
	}
}

// item is one element of a Seq2 of bets.
type item struct {
	bet Bet
	err error
}

// seqOf yields items in order, stopping when the consumer stops.
func seqOf(items []item) iter.Seq2[Bet, error] {
	return func(yield func(Bet, error) bool) {
		for _, it := range items {
			if !yield(it.bet, it.err) {
				return
			}
		}
	}
}

func bet(agency int, document string, number int) Bet {
	b := validBet()
	b.Agency, b.Document, b.Number = agency, document, number
	return b
}

func TestDraw(t *testing.T) {
	errDisk := errors.New("disk read")
	tests := []struct {
		name    string
		items   []item
		want    map[int][]string
		wantErr error
	}{
		{
			name: "no bets",
			want: map[int][]string{},
		},
		{
			name:  "no winners",
			items: []item{{bet: bet(1, "1", 1)}, {bet: bet(2, "2", 7573)}},
			want:  map[int][]string{},
		},
		{
			name: "winners per agency in storage order",
			items: []item{
				{bet: bet(1, "10", 7574)},
				{bet: bet(2, "20", 7574)},
				{bet: bet(1, "11", 1234)},
				{bet: bet(1, "12", 7574)},
				{bet: bet(3, "30", 0)},
				{bet: bet(2, "21", 7574)},
				{bet: bet(1, "10", 7574)}, // documents are not unique
			},
			want: map[int][]string{1: {"10", "12", "10"}, 2: {"20", "21"}},
		},
		{
			name: "error stops the draw",
			items: []item{
				{bet: bet(1, "10", 7574)},
				{err: errDisk},
				{bet: bet(1, "11", 7574)},
			},
			wantErr: errDisk,
		},
		{
			name:    "error first",
			items:   []item{{err: errDisk}},
			wantErr: errDisk,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			consumed := 0
			seq := func(yield func(Bet, error) bool) {
				for b, err := range seqOf(tt.items) {
					consumed++
					if !yield(b, err) {
						return
					}
				}
			}
			got, _, err := Draw(t.Context(), seq)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Draw error = %v, want %v", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("Draw returned winners %v along with an error", got)
				}
				for i, it := range tt.items {
					if it.err != nil && consumed != i+1 {
						t.Errorf("Draw consumed %d items, want it to stop at the error (item %d)", consumed, i+1)
					}
					if it.err != nil {
						break
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Draw: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Draw = %v, want %v", got, tt.want)
			}
			for agency, docs := range tt.want {
				if !slices.Equal(got[agency], docs) {
					t.Errorf("agency %d winners = %v, want %v", agency, got[agency], docs)
				}
			}
		})
	}
}

// TestValidateAllocatesNothing: the central's check of each bet it takes
// allocates nothing for a valid bet, accents included.
func TestValidateAllocatesNothing(t *testing.T) {
	v := NewValidator(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	bet := Bet{Agency: 1, FirstName: "María José", LastName: "Núñez", Document: "30904465", Birthdate: "1999-03-17", Number: 7574}
	if err := v.Validate(bet); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = v.Validate(bet) }); allocs != 0 {
		t.Errorf("Validate: %v allocations a bet, want none", allocs)
	}
}
