package client

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

func TestWinnersWait(t *testing.T) {
	floor := protocol.MaxWinnersHold + winnersMargin
	tests := []struct {
		timeout, want time.Duration
	}{
		{time.Second, floor},
		{2 * time.Second, floor},
		{protocol.MaxWinnersHold, floor},
		{floor, floor},
		{15 * time.Second, max(15*time.Second, floor)},
		{time.Minute, time.Minute},
	}
	for _, tt := range tests {
		if got := winnersWait(tt.timeout); got != tt.want {
			t.Errorf("winnersWait(%v) = %v, want %v", tt.timeout, got, tt.want)
		}
		if got := winnersWait(tt.timeout); got <= protocol.MaxWinnersHold {
			t.Errorf("winnersWait(%v) = %v: not longer than the central's hold %v", tt.timeout, got, protocol.MaxWinnersHold)
		}
	}
}

// countingListener is an address where connections are counted and
// closed at once.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			nc.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), accepted
}

// TestPreflight checks that what no reconnection can fix stops the agency
// before its first connection, with an error that names the culprit.
func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.csv", "Juan,Pérez,30904465,1990-05-17,1234\n")
	single := &lottery.Bet{FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "1990-01-01", Number: 1}
	badSingle := &lottery.Bet{FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "0000-01-01", Number: 1}
	tests := []struct {
		name   string
		id     int
		file   string
		single *lottery.Bet
		want   string // in the error; "" when the agency must connect
	}{
		{name: "missing file", id: 1, file: filepath.Join(dir, "nope.csv"), want: "nope.csv"},
		{name: "a directory", id: 1, file: dir, want: dir},
		{name: "bad first line", id: 1, file: write("bad.csv", "Juan,Pérez,30904465,1990-05-17\n"), want: "bad.csv line 1"},
		{name: "year 0 birthdate", id: 1, file: write("year0.csv", "Juan,Pérez,30904465,0000-01-01,1234\n"), want: "year0.csv line 1"},
		{name: "id past the agencies", id: lottery.MaxAgencies + 1, file: good, want: "agency id"},
		{name: "id past 32 bits", id: 1<<32 + 2, file: good, want: "agency id 4294967298"},
		{name: "bad single bet", id: 1, file: filepath.Join(dir, "nope.csv"), single: badSingle, want: "birthdate"},
		{name: "good file", id: 1, file: good},
		{name: "empty file", id: 1, file: write("empty.csv", "")},
		{name: "single bet, no file", id: 1, file: filepath.Join(dir, "nope.csv"), single: single},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, accepted := countingListener(t)
			cfg := config.DefaultClient()
			cfg.ID, cfg.ServerAddress, cfg.DataFile = tt.id, addr, tt.file
			cfg.RetryTimeout, cfg.ServerTimeout = 200*time.Millisecond, time.Second
			a := New(cfg, logging.New(io.Discard, logging.LevelWarning),
				WithSingleBet(tt.single), WithBackoff(10*time.Millisecond, 50*time.Millisecond))
			_, err := a.Run(context.Background())
			if err == nil {
				t.Fatal("Run: got no error from a central that closes every connection")
			}
			if tt.want == "" {
				if accepted.Load() == 0 {
					t.Errorf("Run never connected: %v", err)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.want) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("Run error %q: want one line naming %q", err, tt.want)
			}
			if n := accepted.Load(); n != 0 {
				t.Errorf("Run connected %d times before refusing to start", n)
			}
			if errors.Is(err, ErrRetryDeadline) {
				t.Errorf("Run retried: %v", err)
			}
		})
	}
}

// TestShortTimeoutWaitsForDraw runs an agency whose server.timeout (2 s)
// is shorter than the central's hold of a winners query, against a real
// central whose draw comes 3 s after the agency asks: the agency waits
// for its winners on the same connection, without reconnecting.
func TestShortTimeoutWaitsForDraw(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 3 s for the draw")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	central := apptest.Config(2)
	central.MaxConnections = 64
	addr := apptest.Start(t, central).Address()

	run := func(id, winners int, timeout time.Duration, log io.Writer) (Result, error) {
		path := filepath.Join(t.TempDir(), "agency.csv")
		if err := sampledata.WriteFile(path, sampledata.Spec{Agency: id, Bets: 50, Winners: winners, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		cfg := config.DefaultClient()
		cfg.ID, cfg.ServerAddress, cfg.DataFile, cfg.ServerTimeout = id, addr, path, timeout
		a := New(cfg, logging.New(log, logging.LevelWarning-4))
		return a.Run(ctx)
	}
	log := &harness.Buffer{}
	type outcome struct {
		res Result
		err error
	}
	first := make(chan outcome, 1)
	go func() {
		res, err := run(1, 3, 2*time.Second, log)
		first <- outcome{res, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "action: notificacion | result: success") {
		if time.Now().After(deadline) {
			t.Fatalf("agency 1 did not notify within 10 s; log:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // the draw comes later than agency 1's server.timeout
	if _, err := run(2, 0, 15*time.Second, io.Discard); err != nil {
		t.Fatalf("agency 2: %v", err)
	}
	got := <-first
	if got.err != nil {
		t.Fatalf("agency 1: %v; log:\n%s", got.err, log)
	}
	if len(got.res.Winners) != 3 {
		t.Errorf("agency 1: %d winners, want 3", len(got.res.Winners))
	}
	if strings.Contains(log.String(), "action: reconectar") {
		t.Errorf("agency 1 reconnected while the central held its winners query; log:\n%s", log)
	}
}

func TestSingleBetFromEnv(t *testing.T) {
	all := map[string]string{
		"NOMBRE": "Santiago Lionel", "APELLIDO": "Lorca", "DOCUMENTO": "30904465",
		"NACIMIENTO": "1999-03-17", "NUMERO": "7574",
	}
	without := func(key string) map[string]string {
		m := map[string]string{}
		for k, v := range all {
			if k != key {
				m[k] = v
			}
		}
		return m
	}
	with := func(key, value string) map[string]string {
		m := without(key)
		m[key] = value
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    *lottery.Bet
		wantErr bool
	}{
		{name: "none set", env: map[string]string{"CLI_ID": "1", "PATH": "/bin"}, want: nil},
		{name: "all set", env: all, want: &lottery.Bet{
			FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465",
			Birthdate: "1999-03-17", Number: 7574,
		}},
		{name: "NUMERO 0", env: with("NUMERO", "0"), want: &lottery.Bet{
			FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465",
			Birthdate: "1999-03-17", Number: 0,
		}},
		{name: "only NOMBRE", env: map[string]string{"NOMBRE": "Juan"}, wantErr: true},
		{name: "all but NOMBRE", env: without("NOMBRE"), wantErr: true},
		{name: "all but APELLIDO", env: without("APELLIDO"), wantErr: true},
		{name: "all but DOCUMENTO", env: without("DOCUMENTO"), wantErr: true},
		{name: "all but NACIMIENTO", env: without("NACIMIENTO"), wantErr: true},
		{name: "all but NUMERO", env: without("NUMERO"), wantErr: true},
		{name: "NUMERO abc", env: with("NUMERO", "abc"), wantErr: true},
		{name: "NUMERO empty", env: with("NUMERO", ""), wantErr: true},
		{name: "NUMERO 1.5", env: with("NUMERO", "1.5"), wantErr: true},
		{name: "NUMERO +7574", env: with("NUMERO", "+7574"), wantErr: true},
		{name: "spaces around, as in a file", env: with("NOMBRE", "  Santiago Lionel "), want: &lottery.Bet{
			FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465",
			Birthdate: "1999-03-17", Number: 7574,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(key string) (string, bool) {
				v, ok := tt.env[key]
				return v, ok
			}
			got, err := SingleBetFromEnv(env)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SingleBetFromEnv = %+v, nil; want an error", got)
				}
				if got != nil {
					t.Errorf("SingleBetFromEnv returned a bet %+v along with an error", got)
				}
				if strings.ContainsAny(err.Error(), "\n\r") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SingleBetFromEnv: %v", err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("SingleBetFromEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSingleBetFromEnvNumeroNamed(t *testing.T) {
	env := func(key string) (string, bool) {
		return map[string]string{
			"NOMBRE": "a", "APELLIDO": "b", "DOCUMENTO": "1", "NACIMIENTO": "2000-01-01", "NUMERO": "abc",
		}[key], true
	}
	_, err := SingleBetFromEnv(env)
	if err == nil || !strings.Contains(err.Error(), "NUMERO") {
		t.Errorf("SingleBetFromEnv with NUMERO=abc = %v, want an error naming NUMERO", err)
	}
}
