package client

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// checkCutLine checks that the log holds exactly one corte_sorteo success
// line, naming agency, with the bets the draw took and those it did not.
func checkCutLine(t *testing.T, lines []harness.Line, agency int, took, left uint64) {
	t.Helper()
	got := harness.Filter(lines, "corte_sorteo", logging.ResultSuccess)
	want := map[string]string{
		"agencia":            strconv.Itoa(agency),
		"apuestas_incluidas": strconv.FormatUint(took, 10),
		"apuestas_excluidas": strconv.FormatUint(left, 10),
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Fields, want) {
		t.Errorf("corte_sorteo success lines %v, want one with %v", got, want)
	}
}

// TestCutOff runs agency 3 against a fake central whose sales closed
// before the agency notified: the agency checks the bets the central
// holds, says what the draw took and what it did not, and asks for its
// winners, without sending a bet or a Done; a central whose bets are not
// its own stops it as on any resume. An agency that had notified is not
// cut off, draw or not.
func TestCutOff(t *testing.T) {
	all := digestOf(agencyLines...)
	first2 := digestOf(agencyLines[:2]...)
	swapped := digestOf(agencyLines[1], agencyLines[0])
	draw := digestOf("draw")
	const (
		hello   = protocol.TypeHello
		declare = protocol.TypeDeclare
		batch   = protocol.TypeBatch
		winners = protocol.TypeWinnersQuery
	)
	won := []protocol.Winners{{Documents: []string{"1"}, Digest: draw}}
	none := []protocol.Winners{{Digest: draw}}
	closed := &protocol.Error{Code: protocol.CodeDrawClosed, Message: "agency 3: sales are closed"}
	tests := []struct {
		name     string
		welcome  protocol.Welcome
		batchErr *protocol.Error
		winners  []protocol.Winners
		wantSent []protocol.Type
		wantErr  error // nil: the run succeeds
		want     Result
	}{
		{
			name:     "the draw held with two of its bets",
			welcome:  protocol.Welcome{Committed: 2, Drawn: true, Digest: first2},
			winners:  won,
			wantSent: []protocol.Type{hello, declare, winners},
			want:     Result{Winners: []string{"1"}, Sent: 2, Digest: first2, Draw: draw, CutOff: true, Left: 1},
		},
		{
			name:     "the draw held before its first bet",
			welcome:  protocol.Welcome{Drawn: true, Digest: lottery.EmptyDigest},
			winners:  none,
			wantSent: []protocol.Type{hello, declare, winners},
			want:     Result{Sent: 0, Digest: lottery.EmptyDigest, Draw: draw, CutOff: true, Left: 3},
		},
		{
			// Sales closed, the draw not held yet: the refusal alone tells
			// the agency, which asks on a new connection; the central holds
			// its query until the draw.
			name:     "refused before the draw is held",
			welcome:  protocol.Welcome{Digest: lottery.EmptyDigest},
			batchErr: closed,
			winners:  none,
			wantSent: []protocol.Type{hello, declare, batch, hello, declare, winners},
			want:     Result{Sent: 0, Digest: lottery.EmptyDigest, Draw: draw, CutOff: true, Left: 3},
		},
		{
			name:     "the draw held, the central's bets are not its own",
			welcome:  protocol.Welcome{Committed: 2, Drawn: true, Digest: swapped},
			winners:  won,
			wantSent: []protocol.Type{hello, declare},
			wantErr:  ErrVerification,
		},
		{
			name:     "the draw held after it notified",
			welcome:  protocol.Welcome{Committed: 3, Done: true, Drawn: true, Digest: all},
			winners:  won,
			wantSent: []protocol.Type{hello, declare, winners},
			want:     Result{Winners: []string{"1"}, Sent: 3, Digest: all, Draw: draw},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCentral{welcome: tt.welcome, batchErr: tt.batchErr, winners: tt.winners}
			f.start(t)
			log := &harness.Buffer{}
			winnersFile := filepath.Join(t.TempDir(), "ganadores.txt")
			a := newTestAgency(t, f.addr, agencyLines, log)
			a.cfg.WinnersFile = winnersFile
			res, err := a.Run(context.Background())
			for _, typ := range tt.wantSent {
				if typ == hello {
					f.wait(t) // each connection, to its end
				}
			}
			f.mu.Lock()
			sent := types(f.received)
			f.mu.Unlock()

			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Run error %v, want %v; log:\n%s", err, tt.wantErr, log)
			}
			if !reflect.DeepEqual(sent, tt.wantSent) {
				t.Errorf("the agency sent %v, want %v", sent, tt.wantSent)
			}
			lines := harness.ParseLog(log.String())
			if tt.wantErr != nil {
				for _, action := range []string{"corte_sorteo", "consulta_ganadores", "ganadores_guardados"} {
					if l := harness.Filter(lines, action, logging.ResultSuccess); len(l) != 0 {
						t.Errorf("%s lines %v from an agency that failed", action, l)
					}
				}
				return
			}
			if !reflect.DeepEqual(res, tt.want) {
				t.Errorf("Run = %+v, want %+v", res, tt.want)
			}
			if fails := harness.Filter(lines, "", logging.ResultFail); len(fails) != 0 {
				t.Errorf("fail lines %v", fails)
			}
			if !tt.want.CutOff {
				if l := harness.Filter(lines, "corte_sorteo", ""); len(l) != 0 {
					t.Errorf("corte_sorteo lines %v from an agency that notified", l)
				}
				return
			}
			checkCutLine(t, lines, 3, tt.want.Sent, tt.want.Left)
			checkVerificacion(t, lines, logging.ResultSuccess,
				map[string]string{"apuestas": strconv.FormatUint(tt.want.Sent, 10), "digest": tt.want.Digest.String()})
			if got := harness.Filter(lines, "consulta_ganadores", logging.ResultSuccess); len(got) != 1 ||
				got[0].Fields["cant_ganadores"] != strconv.Itoa(len(tt.want.Winners)) {
				t.Errorf("consulta_ganadores lines %v, want one with %d winners", got, len(tt.want.Winners))
			}
			wantData := ""
			for _, doc := range tt.want.Winners {
				wantData += doc + "\n"
			}
			if data, err := os.ReadFile(winnersFile); err != nil || string(data) != wantData {
				t.Errorf("winners file %q (%v), want %q", data, err, wantData)
			}
		})
	}
}

// salesCloser closes the central's sales, as DRAW_DEADLINE does, at a
// point of an agency's run: when its atAck-th batch is acknowledged (the
// agency has batches in flight and more to send), or just before it
// sends its Done. The draw is held before the agency goes on.
type salesCloser struct {
	t       *testing.T
	central *apptest.Central
	atAck   int // 0: not at an ack
	atDone  bool
	acks    int
	closed  bool
}

func (s *salesCloser) close() {
	if s.closed {
		return
	}
	s.closed = true
	if err := s.central.Central().CloseSales(); err != nil {
		s.t.Errorf("CloseSales: %v", err)
	}
}

func (s *salesCloser) OnAck(int, time.Duration) {
	if s.acks++; s.acks == s.atAck {
		s.close()
	}
}

func (s *salesCloser) OnDone() {
	if s.atDone {
		s.close()
	}
}

// TestCutOffByDeadline runs agency 1 of 2 against a real central whose
// sales close (CloseSales, what DRAW_DEADLINE calls) in the middle of its
// upload, at its Done, or before it connects; agency 2 never comes. Each
// time the agency reports the bets the central holds for it as those the
// draw took, the rest of its file as left out, and as its winners exactly
// the winning bets among those it took, in file order; it writes them to
// its winners file. Run again, it reports the same.
func TestCutOffByDeadline(t *testing.T) {
	const bets = 1000
	spec := sampledata.Spec{Agency: 1, Bets: bets, Winners: 300, Seed: 7}
	tests := []struct {
		name    string
		atAck   int  // sales close at this ack (batches of 10 bets) ...
		atDone  bool // ... or before the Done; neither: before the agency connects
		refused bool // the agency learns it from a draw_closed refusal
	}{
		{name: "mid-upload", atAck: 10, refused: true},
		{name: "at its done", atDone: true, refused: true},
		{name: "after the draw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			central := apptest.Start(t, apptest.Config(2))
			closer := &salesCloser{t: t, central: central, atAck: tt.atAck, atDone: tt.atDone}
			if tt.atAck == 0 && !tt.atDone {
				closer.close()
			}
			dir := t.TempDir()
			cfg := config.DefaultClient()
			cfg.ID, cfg.ServerAddress, cfg.BatchMax = 1, central.Address(), 10
			cfg.DataFile, cfg.WinnersFile = filepath.Join(dir, "agency-1.csv"), filepath.Join(dir, "ganadores.txt")
			cfg.ServerTimeout, cfg.RetryTimeout = 5*time.Second, 5*time.Second
			if err := sampledata.WriteFile(cfg.DataFile, spec); err != nil {
				t.Fatal(err)
			}
			run := func(opts ...Option) (Result, []harness.Line) {
				t.Helper()
				log := &harness.Buffer{}
				opts = append(opts, WithBackoff(10*time.Millisecond, 50*time.Millisecond))
				res, err := New(cfg, logging.New(log, slog.LevelInfo), opts...).Run(context.Background())
				if err != nil {
					t.Fatalf("Run: %v; log:\n%s", err, log)
				}
				return res, harness.ParseLog(log.String())
			}
			res, lines := run(WithObserver(closer))

			st, err := central.Central().Resume(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			var want []string // the winning documents among the bets the draw took
			var n uint64
			for bet := range sampledata.Bets(spec) {
				if n == st.Stored {
					break
				}
				if lottery.HasWon(bet) {
					want = append(want, bet.Document)
				}
				n++
			}
			switch {
			case tt.atAck != 0 && (st.Stored < 100 || st.Stored == bets || len(want) == 0):
				t.Fatalf("the central holds %d of %d bets, %d winners among them: not a cut in the middle of the upload", st.Stored, bets, len(want))
			case tt.atDone && st.Stored != bets, tt.atAck == 0 && !tt.atDone && st.Stored != 0:
				t.Fatalf("the central holds %d of %d bets", st.Stored, bets)
			}
			if !res.CutOff || res.Sent != st.Stored || res.Left != bets-st.Stored || res.Digest != st.Digest || !slices.Equal(res.Winners, want) {
				t.Errorf("Run = %+v, want cut off with %d bets taken (digest %v), %d left, winners %v", res, st.Stored, st.Digest, bets-st.Stored, want)
			}
			checkCutLine(t, lines, 1, st.Stored, bets-st.Stored)
			if got := len(harness.Filter(lines, "corte_sorteo", logging.ResultInProgress)); got != 0 != tt.refused {
				t.Errorf("%d corte_sorteo in_progress lines (the refusal), want them only when refused: %v", got, tt.refused)
			}
			if fails := harness.Filter(lines, "", logging.ResultFail); len(fails) != 0 {
				t.Errorf("fail lines %v", fails)
			}
			data, err := os.ReadFile(cfg.WinnersFile)
			if wantData := strings.Join(want, "\n"); err != nil || strings.TrimSuffix(string(data), "\n") != wantData {
				t.Errorf("winners file %q (%v), want the documents %v", data, err, want)
			}
			if sorteo := harness.Filter(harness.ParseLog(central.Log.String()), "sorteo", logging.ResultSuccess); len(sorteo) != 1 || sorteo[0].Fields["ausentes"] != "1,2" {
				t.Errorf("the central's sorteo lines %v, want one with ausentes: 1,2", sorteo)
			}

			again, lines := run()
			if !reflect.DeepEqual(again, res) {
				t.Errorf("run again: %+v, want %+v", again, res)
			}
			checkCutLine(t, lines, 1, st.Stored, bets-st.Stored)
		})
	}
}
