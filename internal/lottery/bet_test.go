package lottery

import (
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
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
