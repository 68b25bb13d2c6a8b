package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// TestWaitReport: the waiting line is due the first time, at each change
// of what the central tells, and every interval otherwise.
func TestWaitReport(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 21, 0, 0, 0, time.UTC)
	oneOfTwo := protocol.Waiting{Expected: 2, Notified: 1}
	twoOfThree := protocol.Waiting{Expected: 3, Notified: 2}
	steps := []struct {
		after time.Duration // since t0
		w     protocol.Waiting
		known bool
		want  bool
	}{
		{0, oneOfTwo, true, true},                                       // the first
		{time.Second, oneOfTwo, true, false},                            // the same, soon
		{5 * time.Second, protocol.Waiting{}, false, false},             // a NotYet, soon
		{10 * time.Second, oneOfTwo, true, true},                        // the same, an interval later
		{11 * time.Second, twoOfThree, true, true},                      // a change, at once
		{12 * time.Second, protocol.Waiting{}, false, false},            // a NotYet: no change
		{21 * time.Second, protocol.Waiting{}, false, true},             // a NotYet, an interval later
		{22 * time.Second, protocol.WaitingUntil(3, 2, t0), true, true}, // a deadline now told
	}
	r := &waitReport{every: 10 * time.Second}
	for i, s := range steps {
		if got := r.due(t0.Add(s.after), s.w, s.known); got != s.want {
			t.Errorf("step %d (%v, %+v, known %v): due = %v, want %v", i, s.after, s.w, s.known, got, s.want)
		}
	}
	unknown := &waitReport{every: 10 * time.Second}
	if !unknown.due(t0, protocol.Waiting{}, false) || unknown.due(t0.Add(time.Second), protocol.Waiting{}, false) {
		t.Error("a central of version 2: the first NotYet is due and the next, a second later, is not")
	}
	if !unknown.due(t0.Add(2*time.Second), oneOfTwo, true) {
		t.Error("the first counts told are due at once")
	}
}

// runFake runs agency 3 of agencyLines against f and returns its log's
// lines.
func runFake(t *testing.T, f *fakeCentral) ([]harness.Line, string, error) {
	t.Helper()
	f.start(t)
	log := &harness.Buffer{}
	_, err := newTestAgency(t, f.addr, agencyLines, log).Run(context.Background())
	return harness.ParseLog(log.String()), log.String(), err
}

// TestWaitingLines: an agency told by the central what the draw waits
// for logs it, with the deadline, and again when the count changes.
func TestWaitingLines(t *testing.T) {
	all, draw := digestOf(agencyLines...), digestOf("draw")
	deadline := time.Now().Add(10 * time.Minute)
	f := &fakeCentral{
		welcome: protocol.Welcome{Digest: lottery.EmptyDigest},
		doneAck: protocol.DoneAck{Total: 3, Digest: all},
		waiting: []protocol.Waiting{protocol.WaitingUntil(3, 1, deadline), protocol.WaitingUntil(3, 1, deadline), protocol.WaitingUntil(3, 2, deadline)},
		winners: []protocol.Winners{{Documents: []string{}, Digest: draw}},
	}
	lines, log, err := runFake(t, f)
	if err != nil {
		t.Fatalf("Run: %v; log:\n%s", err, log)
	}
	got := harness.Filter(lines, "esperando_sorteo", logging.ResultInProgress)
	if len(got) != 2 {
		t.Fatalf("%d esperando_sorteo lines, want 2 (1 of 3, then 2 of 3); log:\n%s", len(got), log)
	}
	for i, notified := range []string{"1", "2"} {
		f := got[i].Fields
		if f["agencia"] != "3" || f["notificadas"] != notified || f["esperadas"] != "3" || f["cierre_apuestas"] != deadline.Format(timeFormat) || f["restante"] == "" {
			t.Errorf("line %d: %s; want agency 3, %s of 3 notified, the deadline %s and the time left", i, got[i].Raw, notified, deadline.Format(timeFormat))
		}
	}
}

// TestOldCentral: against a central of version 2, which refuses its
// Hello, the agency says it speaks version 2, connects again at once and
// runs the lottery as before, sending no Declare.
func TestOldCentral(t *testing.T) {
	all, draw := digestOf(agencyLines...), digestOf("draw")
	f := &fakeCentral{
		version: 2,
		welcome: protocol.Welcome{Digest: lottery.EmptyDigest},
		doneAck: protocol.DoneAck{Total: 3, Digest: all},
		waiting: []protocol.Waiting{{Expected: 3, Notified: 1}}, // not sent: version 2
		winners: []protocol.Winners{{Documents: []string{"1"}, Digest: draw}},
	}
	lines, log, err := runFake(t, f)
	if err != nil {
		t.Fatalf("Run: %v; log:\n%s", err, log)
	}
	conns, sent := f.wait(t)
	if conns != 2 {
		t.Errorf("%d connections, want 2: refused at version %d, then at 2", conns, protocol.Version)
	}
	var hellos []uint16
	for _, m := range sent {
		switch m := m.(type) {
		case protocol.Hello:
			hellos = append(hellos, m.Version)
		case protocol.Declare:
			t.Errorf("a Declare sent to a central of version 2")
		}
	}
	if len(hellos) != 2 || hellos[0] != protocol.Version || hellos[1] != protocol.MinVersion {
		t.Errorf("hello versions %v, want [%d %d]", hellos, protocol.Version, protocol.MinVersion)
	}
	if v := harness.Filter(lines, "version", logging.ResultInProgress); len(v) != 1 || v[0].Fields["version"] != "2" {
		t.Errorf("version lines %v, want one saying 2", v)
	}
	if fails := harness.Filter(lines, "", logging.ResultFail); len(fails) != 0 {
		t.Errorf("fail lines against an older central: %v", fails)
	}
}

// TestResumeLine: an agency the central already holds bets of says from
// which bet it resumes, and of what total.
func TestResumeLine(t *testing.T) {
	all, draw := digestOf(agencyLines...), digestOf("draw")
	f := &fakeCentral{
		welcome: protocol.Welcome{Committed: 2, Digest: digestOf(agencyLines[:2]...)},
		doneAck: protocol.DoneAck{Total: 3, Digest: all},
		winners: []protocol.Winners{{Documents: []string{}, Digest: draw}},
	}
	lines, log, err := runFake(t, f)
	if err != nil {
		t.Fatalf("Run: %v; log:\n%s", err, log)
	}
	got := harness.Filter(lines, "reanudacion", logging.ResultInProgress)
	want := "action: reanudacion | result: in_progress | agencia: 3 | desde_apuesta: 2 | almacenadas: 2 | total: 3 | conexion: 1"
	if len(got) != 1 || !strings.HasSuffix(got[0].Raw, want) {
		t.Errorf("reanudacion lines %v, want one ending in %q", got, want)
	}
}

// TestUnreachableLine: a central that does not listen is told apart from
// a connection that broke: the attempt, the wait and the next try's time.
func TestUnreachableLine(t *testing.T) {
	addr := refusedAddr(t)
	log := &harness.Buffer{}
	a := newTestAgency(t, addr, agencyLines, log)
	a.cfg.RetryTimeout = 300 * time.Millisecond
	_, err := a.Run(context.Background())
	if !errors.Is(err, ErrRetryDeadline) {
		t.Fatalf("Run = %v, want ErrRetryDeadline", err)
	}
	lines := harness.ParseLog(log.String())
	got := harness.Filter(lines, "central_inalcanzable", logging.ResultInProgress)
	if len(got) == 0 {
		t.Fatalf("no central_inalcanzable line; log:\n%s", log)
	}
	f := got[0].Fields
	if f["intento"] != "1" || f["direccion"] != addr || f["espera"] == "" || !strings.Contains(f["error"], "refused") {
		t.Errorf("first line %s: want attempt 1, the address %s, the wait and the refusal", got[0].Raw, addr)
	}
	if _, err := time.Parse(timeFormat, f["proximo_intento"]); err != nil {
		t.Errorf("proximo_intento %q: %v", f["proximo_intento"], err)
	}
	if n := len(harness.Filter(lines, "reconectar", "")); n != 0 {
		t.Errorf("%d reconectar lines where the central never answered", n)
	}
}
