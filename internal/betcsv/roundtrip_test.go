package betcsv_test

import (
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// TestRoundTrip takes names that need quoting, and some that do not,
// through every writer and reader of a bet: the sample-data generator
// writes an agency's file, the client's reader reads it, storage writes
// the bets to bets.csv and reads them back. A name that is not canonical
// in the file (white space around it, decomposed accents) is stored in its
// canonical form, which lottery.Validate (the central's check) accepts.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name          string
		first, last   string // as written in the agency's file
		sFirst, sLast string // as stored, when it differs
	}{
		{name: "comma", first: "Juan, Jr", last: "Pérez"},
		{name: "quote", first: `Juan "el Tano"`, last: `O"Brien`},
		{name: "unicode", first: "José María", last: "Núñez Ñandú"},
		{name: "comma, quote and unicode", first: `Ñandú, "el Ñato"`, last: `Ibáñez, O"Higgins`},
		{name: "only a quote and a comma", first: `"`, last: ","},
		{name: "leading space", first: " Inés", last: "Muñoz", sFirst: "Inés"},
		{name: "spaces around", first: "  Inés ", last: "\u00a0Muñoz \u3000", sFirst: "Inés", sLast: "Muñoz"},
		{name: "spaces around a quoted name", first: ` Juan "el Tano" `, last: " Pérez, Jr ", sFirst: `Juan "el Tano"`, sLast: "Pérez, Jr"},
		{name: "decomposed accents", first: "Jose\u0301", last: "Nu\u0301n\u0303ez", sFirst: "José", sLast: "Núñez"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			written := []lottery.Bet{
				{Agency: 4, FirstName: tt.first, LastName: tt.last, Document: "30904465", Birthdate: "1999-03-17", Number: 7574},
				{Agency: 4, FirstName: "Ana", LastName: tt.last, Document: "1", Birthdate: "2000-02-29", Number: 0},
			}
			want := slices.Clone(written)
			for i := range want {
				if tt.sFirst != "" && want[i].FirstName == tt.first {
					want[i].FirstName = tt.sFirst
				}
				if tt.sLast != "" {
					want[i].LastName = tt.sLast
				}
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "agency-4.csv")
			if err := sampledata.WriteBets(file, slices.Values(written)); err != nil {
				t.Fatal(err)
			}
			fromFile := readAgencyFile(t, file, 4)
			if !slices.Equal(fromFile, want) {
				t.Fatalf("client read from the agency's file\n %+v, want\n %+v", fromFile, want)
			}
			got := storeAndLoad(t, filepath.Join(dir, "bets.csv"), fromFile)
			if !slices.Equal(got, want) {
				t.Errorf("storage loaded\n %+v, want\n %+v", got, want)
			}
			for _, bet := range got {
				if err := lottery.Validate(bet); err != nil {
					t.Errorf("the central would refuse the stored bet %+v: %v", bet, err)
				}
			}
		})
	}
}

func readAgencyFile(t *testing.T, path string, agency int) []lottery.Bet {
	t.Helper()
	seq, closer, err := betcsv.OpenAgencyFile(path, agency, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	var bets []lottery.Bet
	for bet, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		bets = append(bets, bet)
	}
	return bets
}

func storeAndLoad(t *testing.T, path string, bets []lottery.Bet) []lottery.Bet {
	t.Helper()
	s, err := storage.Open(path, storage.Options{Logger: slog.New(slog.DiscardHandler), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.StoreBets(bets); err != nil {
		t.Fatal(err)
	}
	var got []lottery.Bet
	for bet, err := range s.LoadBets() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, bet)
	}
	return got
}
