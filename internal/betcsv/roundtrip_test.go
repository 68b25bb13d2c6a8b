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
// the bets to bets.csv and reads them back.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		first, last string
	}{
		{"comma", "Juan, Jr", "Pérez"},
		{"quote", `Juan "el Tano"`, `O"Brien`},
		{"unicode", "José María", "Núñez Ñandú"},
		{"comma, quote and unicode", `Ñandú, "el Ñato"`, `Ibáñez, O"Higgins`},
		{"only a quote and a comma", `"`, ","},
		{"leading space", " Inés", "Muñoz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := []lottery.Bet{
				{Agency: 4, FirstName: tt.first, LastName: tt.last, Document: "30904465", Birthdate: "1999-03-17", Number: 7574},
				{Agency: 4, FirstName: "Ana", LastName: tt.last, Document: "1", Birthdate: "2000-02-29", Number: 0},
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "agency-4.csv")
			if err := sampledata.WriteBets(file, slices.Values(want)); err != nil {
				t.Fatal(err)
			}
			fromFile := readAgencyFile(t, file, 4)
			if !slices.Equal(fromFile, want) {
				t.Fatalf("client read from the agency's file\n %+v, want\n %+v", fromFile, want)
			}
			if got := storeAndLoad(t, filepath.Join(dir, "bets.csv"), fromFile); !slices.Equal(got, want) {
				t.Errorf("storage loaded\n %+v, want\n %+v", got, want)
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
