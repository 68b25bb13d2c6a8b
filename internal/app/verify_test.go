package app_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// TestVerifyAgencyWithoutBets: before the draw, an agency that has stored
// nothing yet (a backup taken early in the upload) is verified as holding
// 0 bets, not taken for an error.
func TestVerifyAgencyWithoutBets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bets.csv")
	s, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bets := []lottery.Bet{{Agency: 1, FirstName: "Ana", LastName: "Paz", Document: "30000001", Birthdate: "1990-05-17", Number: 7574}}
	if err := s.StoreBets(bets); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var out harness.Buffer
	if err := app.Verify(t.Context(), path, 3, logging.New(&out, slog.LevelInfo)); err != nil {
		t.Fatalf("Verify of a store where agencies 2 and 3 have no bets: %v\n%s", err, out.String())
	}
	for _, want := range []string{"agencia: 1 | apuestas: 1", "agencia: 2 | apuestas: 0", "agencia: 3 | apuestas: 0", "action: verify | result: success"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verify's lines lack %q:\n%s", want, out.String())
		}
	}
}
