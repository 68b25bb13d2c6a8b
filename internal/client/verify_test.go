package client

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// fakeCentral is a central on a free port of 127.0.0.1 that answers as
// its test sets it up: its Welcome, its DoneAck and its Winners frames,
// whatever the agency sends. It records every message the agency sends.
type fakeCentral struct {
	welcome  protocol.Welcome
	doneAck  protocol.DoneAck
	winners  []protocol.Winners
	batchErr *protocol.Error // when set, answers every Batch, and closes
	// version is the protocol version it speaks, protocol.Version when
	// 0: a Hello of a later one is refused with CodeVersion, as a central
	// of that version refuses it, and Declare and Waiting are of version
	// 3. waiting are sent before the winners, on version 3.
	version  uint16
	waiting  []protocol.Waiting
	onAccept func() // when set, runs as each connection is accepted

	addr  string
	ended chan struct{} // one value per connection served to its end

	mu       sync.Mutex
	conns    int
	received []protocol.Message
}

// start serves connections, one at a time, until the test ends.
func (f *fakeCentral) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.ended = make(chan struct{}, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			if f.onAccept != nil {
				f.onAccept()
			}
			f.serve(t, nc)
			select {
			case f.ended <- struct{}{}:
			default: // nobody waits for that many: never block the accepts
			}
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// serve answers one connection until the agency closes it.
func (f *fakeCentral) serve(t *testing.T, nc net.Conn) {
	defer nc.Close()
	r, w := protocol.NewReader(nc), protocol.NewWriter(nc)
	for {
		msg, err := r.Read()
		if err != nil {
			return // the agency closed
		}
		f.mu.Lock()
		f.received = append(f.received, msg)
		f.mu.Unlock()
		var answers []protocol.Message
		v := cmp.Or(f.version, protocol.Version)
		switch m := msg.(type) {
		case protocol.Hello:
			if m.Version > v {
				w.Write(&protocol.Error{Code: protocol.CodeVersion, Message: fmt.Sprintf("agency speaks protocol %d, central speaks %d", m.Version, v)})
				w.Flush()
				return
			}
			answers = append(answers, f.welcome)
		case protocol.Declare:
			if !protocol.Has(v, m.Type()) {
				t.Errorf("fake central of version %d: the agency sent a Declare", v)
				return
			}
			continue // no answer
		case protocol.Batch:
			if f.batchErr != nil {
				w.Write(f.batchErr)
				w.Flush()
				return
			}
			answers = append(answers, protocol.Ack{Committed: m.First + uint64(len(m.Bets))})
		case protocol.Done:
			answers = append(answers, f.doneAck)
		case protocol.WinnersQuery:
			for _, w := range f.waiting {
				if protocol.Has(v, w.Type()) {
					answers = append(answers, w)
				}
			}
			for _, w := range f.winners {
				answers = append(answers, w)
			}
		default:
			t.Errorf("fake central: unexpected %v", msg.Type())
			return
		}
		for _, m := range answers {
			if err := w.Write(m); err != nil {
				t.Errorf("fake central: %v", err)
				return
			}
		}
		if err := w.Flush(); err != nil {
			return // the agency closed
		}
	}
}

// wait waits until the agency's connection has ended, so that every
// frame it sent is recorded, and returns what it sent.
func (f *fakeCentral) wait(t *testing.T) (conns int, sent []protocol.Message) {
	t.Helper()
	select {
	case <-f.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the fake central's connection did not end within 10 s")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, f.received
}

// agencyLines are agency 3's file: a name with a comma and one with a
// quote, which the central's row quotes as the file does.
var agencyLines = []string{
	"Ana,Paz,1,2000-01-01,7574",
	`"Núñez, María","O""Brien",30904465,1999-03-17,0`,
	"Juan,Pérez,12345678,1990-05-17,1234",
}

// digestOf computes by hand agency 3's digest of lines of its file, which
// are written as the central's rows write them: the SHA-256 of each line
// with "3," before it and a newline after it.
func digestOf(lines ...string) lottery.Digest {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("3," + l + "\n")
	}
	return lottery.Digest(sha256.Sum256([]byte(b.String())))
}

// types returns the types of msgs.
func types(msgs []protocol.Message) []protocol.Type {
	out := make([]protocol.Type, len(msgs))
	for i, m := range msgs {
		out[i] = m.Type()
	}
	return out
}

// TestVerification runs agency 3 against a central whose digests match
// its file, or do not: a match is logged and the agency goes on; a
// mismatch stops it with one fail line before it sends anything more.
func TestVerification(t *testing.T) {
	all := digestOf(agencyLines...)
	first2 := digestOf(agencyLines[:2]...)
	swapped := digestOf(agencyLines[1], agencyLines[0])
	draw := digestOf("draw")
	const (
		hello   = protocol.TypeHello
		declare = protocol.TypeDeclare
		batch   = protocol.TypeBatch
		done    = protocol.TypeDone
		winners = protocol.TypeWinnersQuery
	)
	won := []protocol.Winners{{Documents: []string{"1"}, More: true, Digest: draw}, {Documents: []string{"30904465"}, Digest: draw}}
	tests := []struct {
		name     string
		welcome  protocol.Welcome
		doneAck  protocol.DoneAck
		winners  []protocol.Winners // nil: won
		wantSent []protocol.Type
		wantErr  error // nil: the run succeeds
		// The verificacion line: its result, and its fields but agencia
		// (always 3). No line when wantResult is "".
		wantResult string
		wantFields map[string]string
	}{
		{
			name:       "fresh upload",
			welcome:    protocol.Welcome{Digest: lottery.EmptyDigest},
			doneAck:    protocol.DoneAck{Total: 3, Digest: all},
			wantSent:   []protocol.Type{hello, declare, batch, done, winners},
			wantResult: logging.ResultSuccess,
			wantFields: map[string]string{"apuestas": "3", "digest": all.String()},
		},
		{
			name:       "resume after the central's two bets",
			welcome:    protocol.Welcome{Committed: 2, Digest: first2},
			doneAck:    protocol.DoneAck{Total: 3, Digest: all},
			wantSent:   []protocol.Type{hello, declare, batch, done, winners},
			wantResult: logging.ResultSuccess,
			wantFields: map[string]string{"apuestas": "3", "digest": all.String()},
		},
		{
			name:     "welcome digest differs",
			welcome:  protocol.Welcome{Committed: 2, Digest: swapped},
			wantSent: []protocol.Type{hello, declare},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "2", "digest_agencia": first2.String(), "digest_central": swapped.String(),
				"error": "the central holds bets 0..1 that differ from the file",
			},
		},
		{
			name:     "welcome digest of no bets is not the empty digest",
			welcome:  protocol.Welcome{}, // what a central that sends zero digests says
			wantSent: []protocol.Type{hello, declare},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "0", "digest_agencia": lottery.EmptyDigest.String(), "digest_central": lottery.Digest{}.String(),
				"error": "the central holds no bets, but its digest is not that of no bets",
			},
		},
		{
			name:     "file shorter than committed",
			welcome:  protocol.Welcome{Committed: 5, Digest: all},
			wantSent: []protocol.Type{hello, declare},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "5", "digest_agencia": all.String(), "digest_central": all.String(),
				"error": "the file has only 3 bets, the central holds 5",
			},
		},
		{
			name:     "done ack digest differs",
			welcome:  protocol.Welcome{Digest: lottery.EmptyDigest},
			doneAck:  protocol.DoneAck{Total: 3, Digest: swapped},
			wantSent: []protocol.Type{hello, declare, batch, done},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "3", "digest_agencia": all.String(), "digest_central": swapped.String(),
				"error": "the central holds bets 0..2 that differ from the file",
			},
		},
		{
			name:     "done ack total differs",
			welcome:  protocol.Welcome{Digest: lottery.EmptyDigest},
			doneAck:  protocol.DoneAck{Total: 4, Digest: all},
			wantSent: []protocol.Type{hello, declare, batch, done},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "4", "digest_agencia": all.String(), "digest_central": all.String(),
				"error": "the central holds 4 bets, the agency sent 3",
			},
		},
		{
			name:       "already done, same bets",
			welcome:    protocol.Welcome{Committed: 3, Done: true, Drawn: true, Digest: all},
			wantSent:   []protocol.Type{hello, declare, winners},
			wantResult: logging.ResultSuccess,
			wantFields: map[string]string{"apuestas": "3", "digest": all.String()},
		},
		{
			name:     "already done, a line added since",
			welcome:  protocol.Welcome{Committed: 2, Done: true, Digest: first2},
			wantSent: []protocol.Type{hello, declare},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "2", "digest_agencia": all.String(), "digest_central": first2.String(),
				"error": "the file has 3 bets, the agency notified 2",
			},
		},
		{
			name:     "already done, bets changed since",
			welcome:  protocol.Welcome{Committed: 3, Done: true, Digest: swapped},
			wantSent: []protocol.Type{hello, declare},
			wantErr:  ErrVerification, wantResult: logging.ResultFail,
			wantFields: map[string]string{
				"apuestas": "3", "digest_agencia": all.String(), "digest_central": swapped.String(),
				"error": "the central holds bets 0..2 that differ from the file",
			},
		},
		{
			name:    "winners frames of two draws",
			welcome: protocol.Welcome{Committed: 3, Done: true, Digest: all},
			winners: []protocol.Winners{
				{Documents: []string{"1"}, More: true, Digest: draw},
				{Documents: []string{"30904465"}, Digest: all},
			},
			wantSent:   []protocol.Type{hello, declare, winners},
			wantErr:    errProtocol,
			wantResult: logging.ResultSuccess,
			wantFields: map[string]string{"apuestas": "3", "digest": all.String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCentral{welcome: tt.welcome, doneAck: tt.doneAck, winners: tt.winners}
			if f.winners == nil {
				f.winners = won
			}
			f.start(t)
			log := &harness.Buffer{}
			res, err := newTestAgency(t, f.addr, agencyLines, log).Run(context.Background())
			conns, sent := f.wait(t)

			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Run error %v, want %v; log:\n%s", err, tt.wantErr, log)
			}
			if conns != 1 {
				t.Errorf("the agency connected %d times, want once", conns)
			}
			if got := types(sent); !reflect.DeepEqual(got, tt.wantSent) {
				t.Errorf("the agency sent %v, want %v", got, tt.wantSent)
			}
			if want := (protocol.Hello{Agency: 3, Version: protocol.Version}); len(sent) == 0 || sent[0] != want {
				t.Errorf("the agency opened with %#v, want %#v", sent[:min(1, len(sent))], want)
			}
			for _, m := range sent {
				if d, ok := m.(protocol.Declare); ok && (d.Total != 3 || d.Digest != all) {
					t.Errorf("the agency declared %d bets of digest %v, want 3 of %v", d.Total, d.Digest, all)
				}
				if b, ok := m.(protocol.Batch); ok && (b.First != tt.welcome.Committed || len(b.Bets) != 3-int(b.First)) {
					t.Errorf("batch of %d bets from %d, want the bets from %d on", len(b.Bets), b.First, tt.welcome.Committed)
				}
			}

			lines := harness.ParseLog(log.String())
			checkVerificacion(t, lines, tt.wantResult, tt.wantFields)
			if tt.wantErr != nil {
				if n := len(harness.Filter(lines, "consulta_ganadores", "")); n != 0 {
					t.Errorf("%d consulta_ganadores lines from an agency that failed", n)
				}
				return
			}
			wantLine := " | cant_ganadores: 2 | digest: " + draw.String()
			got := harness.Filter(lines, "consulta_ganadores", logging.ResultSuccess)
			if len(got) != 1 || !strings.HasSuffix(got[0].Raw, "action: consulta_ganadores | result: success"+wantLine) {
				t.Errorf("consulta_ganadores lines %v, want one ending in %q", got, wantLine)
			}
			if res.Draw != draw || res.Digest != all || res.Sent != 3 || len(res.Winners) != 2 {
				t.Errorf("Run = %+v, want 2 winners, 3 bets sent, digest %v, draw %v", res, all, draw)
			}
		})
	}
}

// checkVerificacion checks that the log holds one verificacion line, with
// result and agency 3's fields, or none when result is "", and that a
// failed verification is the only fail line.
func checkVerificacion(t *testing.T, lines []harness.Line, result string, fields map[string]string) {
	t.Helper()
	var got []harness.Line // but the DEBUG lines of a resume that matched
	for _, l := range harness.Filter(lines, "verificacion", "") {
		if l.Result != logging.ResultInProgress {
			got = append(got, l)
		}
	}
	if result == "" {
		if len(got) != 0 {
			t.Errorf("verificacion lines %v, want none", got)
		}
		return
	}
	if len(got) != 1 || got[0].Result != result {
		t.Fatalf("verificacion lines %v, want one with result %s", got, result)
	}
	want := map[string]string{"agencia": "3"}
	for k, v := range fields {
		want[k] = v
	}
	if !reflect.DeepEqual(got[0].Fields, want) {
		t.Errorf("verificacion line\n\t%s\nfields %v, want %v", got[0].Raw, got[0].Fields, want)
	}
	if result == logging.ResultFail {
		if fails := harness.Filter(lines, "", logging.ResultFail); len(fails) != 1 {
			t.Errorf("fail lines %v, want only the verificacion line", fails)
		}
		if n := len(harness.Filter(lines, "reconectar", "")); n != 0 {
			t.Errorf("%d reconectar lines after a failed verification", n)
		}
	}
}

// newTestAgency returns agency 3 of the file lines, for the central at
// addr, logging at DEBUG into log, reconnecting quickly unless opts say
// otherwise.
func newTestAgency(t *testing.T, addr string, lines []string, log *harness.Buffer, opts ...Option) *Agency {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agency.csv")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultClient()
	cfg.ID, cfg.ServerAddress, cfg.DataFile = 3, addr, path
	cfg.ServerTimeout, cfg.RetryTimeout = 5*time.Second, 5*time.Second
	opts = append([]Option{WithBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)
	return New(cfg, logging.New(log, slog.LevelDebug), opts...)
}

// TestDigester pins the agency's digest against hand-made rows, and checks
// that hashing a bet allocates nothing: the agency's memory does not grow
// with its file.
func TestDigester(t *testing.T) {
	ana := lottery.Bet{Agency: 9, FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "2000-01-01", Number: 7574}
	maria := lottery.Bet{FirstName: "Núñez, María", LastName: `O"Brien`, Document: "30904465", Birthdate: "1999-03-17", Number: 0}
	tests := []struct {
		name string
		bets []lottery.Bet
		want string
	}{
		{"none", nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		// SHA-256 of "3,Ana,Paz,1,2000-01-01,7574\n": the bet's own agency
		// is not the one hashed, the agency's is. PROTOCOL.md quotes it.
		{"one", []lottery.Bet{ana}, "08ff6ea40d44858c658c3293dd0d794fec7d8e1a3fbbf8072b58c9af14255dd1"},
		// ... and `3,"Núñez, María","O""Brien",30904465,1999-03-17,0\n`.
		{"quoted", []lottery.Bet{ana, maria}, "1bfa4ebad0a04a13e2c8c69b4d4e712d1c6f5568d6aa5b53f2ffe54a37d7688c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDigester(3)
			for _, b := range tt.bets {
				d.add(b)
			}
			if got := d.sum().String(); got != tt.want {
				t.Errorf("digest %s, want %s", got, tt.want)
			}
			if d.n != uint64(len(tt.bets)) {
				t.Errorf("%d bets counted, want %d", d.n, len(tt.bets))
			}
		})
	}
	d := newDigester(3)
	if allocs := testing.AllocsPerRun(1000, func() { d.add(maria) }); allocs != 0 {
		t.Errorf("add allocates %v times per bet, want 0", allocs)
	}
}
