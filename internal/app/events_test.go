package app_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// TestEventLog pins the operators' lines of the central's events, byte
// for byte after the time: log parsers and the e2e tests read them.
func TestEventLog(t *testing.T) {
	drawn := lottery.Result{Agencies: 5, Bets: 5, Winners: 2, Digest: lottery.EmptyDigest}
	tests := []struct {
		name  string
		event func(app.EventLog)
		want  string
	}{
		{"notified", func(e app.EventLog) { e.Notified(3, 12) },
			"INFO     action: notificacion | result: success | agencia: 3 | apuestas: 12"},
		{"drawn", func(e app.EventLog) { e.Drawn(drawn, nil) },
			"INFO     action: sorteo | result: success | ganadores: 2 | bets: 5 | digest: " + lottery.EmptyDigest.String()},
		{"drawn at a deadline", func(e app.EventLog) { e.Drawn(drawn, []int{3, 5}) },
			"INFO     action: sorteo | result: success | ganadores: 2 | bets: 5 | digest: " + lottery.EmptyDigest.String() + " | ausentes: 3,5"},
		{"draw failed", func(e app.EventLog) { e.DrawFailed(errors.New("disk full")) },
			"ERROR    action: sorteo | result: fail | error: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &harness.Buffer{}
			tt.event(app.EventLog{Log: logging.New(log, logging.LevelWarning-4)})
			line, _ := strings.CutSuffix(log.String(), "\n")
			// The line begins with the date, the time and the offset.
			n := len(logging.TimeLayout) + 1
			if len(line) < n || line[n:] != tt.want || strings.Contains(line, "\n") {
				t.Errorf("logged %q, want the time then %q", line, tt.want)
			}
		})
	}
}

// TestEventLogWaitsAfterTheDraw: AfterDrawLogged runs once the sorteo
// line is written, before Drawn returns.
func TestEventLogWaitsAfterTheDraw(t *testing.T) {
	log := &harness.Buffer{}
	var seen string
	e := app.EventLog{Log: logging.New(log, logging.LevelWarning-4), AfterDrawLogged: func() { seen = log.String() }}
	e.Drawn(lottery.Result{}, nil)
	if !strings.Contains(seen, "action: sorteo") {
		t.Errorf("AfterDrawLogged ran before the sorteo line: it saw %q", seen)
	}
}
