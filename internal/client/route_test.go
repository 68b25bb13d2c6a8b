package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// refusedAddr returns an address of 127.0.0.1 where nothing listens: a
// connection to it is refused.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fakeLookup is a resolver seam: the addresses of each name in names, and
// the names it was asked, in order.
type fakeLookup struct {
	names map[string][]string
	mu    sync.Mutex
	asked []string
}

func (f *fakeLookup) lookup(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, host)
	if ips, ok := f.names[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// runAgency runs agency 1, with 50 bets of which 2 win, against the
// central's addresses in address, and returns its result and its log.
func runAgency(t *testing.T, ctx context.Context, address string, opts ...Option) (Result, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agency.csv")
	if err := sampledata.WriteFile(path, sampledata.Spec{Agency: 1, Bets: 50, Winners: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultClient()
	cfg.ID, cfg.ServerAddress, cfg.DataFile, cfg.ServerTimeout = 1, address, path, 5*time.Second
	log := &harness.Buffer{}
	opts = append([]Option{WithBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)
	res, err := New(cfg, logging.New(log, logging.LevelWarning-4), opts...).Run(ctx)
	return res, log.String(), err
}

// TestFailover runs an agency whose first address of the central fails
// (refuses, or accepts and closes at once) against a real central at its
// second: the agency completes through the second, at once, and logs the
// move in one conectar line.
func TestFailover(t *testing.T) {
	tests := []struct {
		name  string
		first func(t *testing.T) string
	}{
		{"refused", refusedAddr},
		{"closed at once", func(t *testing.T) string { addr, _ := countingListener(t); return addr }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			central := apptest.Start(t, apptest.Config(1)).Address()
			first := tt.first(t)
			res, log, err := runAgency(t, ctx, first+","+central)
			if err != nil {
				t.Fatalf("Run: %v; log:\n%s", err, log)
			}
			if res.Sent != 50 || len(res.Winners) != 2 {
				t.Errorf("Run = %d bets sent, %d winners; want 50 and 2", res.Sent, len(res.Winners))
			}
			moved := "action: conectar | result: success | address: " + central + " | previous: " + first + "\n"
			if strings.Count(log, "action: conectar") != 1 || !strings.Contains(log, moved) {
				t.Errorf("log has not the one line %q:\n%s", moved, log)
			}
			// Refused: the central is unreachable there; closed: the
			// connection broke. Either way, on at once.
			if !regexp.MustCompile(`action: (reconectar|central_inalcanzable) \| result: in_progress \| .*intento: 1 \| espera: 0s`).MatchString(log) {
				t.Errorf("the agency did not move to the second address at once; log:\n%s", log)
			}
		})
	}
}

// TestFailoverName gives the central's name, through the resolver seam,
// two addresses of which the first refuses: the agency tries them in
// turn, and logs the move by address. A name with one address is logged
// by its name, with no conectar line, as a single address always was.
func TestFailoverName(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.2 on the loopback interface")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	central := apptest.Start(t, apptest.Config(1)).Address()
	_, port, _ := net.SplitHostPort(central)
	refused, serving := net.JoinHostPort("127.0.0.2", port), net.JoinHostPort("127.0.0.1", port)

	names := &fakeLookup{names: map[string][]string{"central.test": {"127.0.0.2", "127.0.0.1"}}}
	if _, log, err := runAgency(t, ctx, "central.test:"+port, WithResolver(names.lookup)); err != nil {
		t.Fatalf("Run: %v; log:\n%s", err, log)
	} else if moved := "address: " + serving + " | previous: " + refused + "\n"; !strings.Contains(log, moved) {
		t.Errorf("log has no conectar line ending %q:\n%s", moved, log)
	}
	if !slices.Contains(names.asked, "central.test") {
		t.Errorf("the resolver was asked %q, not central.test", names.asked)
	}

	one := &fakeLookup{names: map[string][]string{"central.test": {"127.0.0.1"}}}
	_, log, err := runAgency(t, ctx, "central.test:"+port, WithResolver(one.lookup))
	if err != nil {
		t.Fatalf("Run: %v; log:\n%s", err, log)
	}
	if strings.Contains(log, "action: conectar") || !strings.Contains(log, "resource: connection | address: central.test:"+port+"\n") {
		t.Errorf("a name with one address is not logged by its name alone:\n%s", log)
	}
}

// TestFailoverBacksOff runs an agency whose two addresses both refuse:
// it moves from one to the other at once, but waits its backoff each
// time it has tried both, and gives up at retry.timeout.
func TestFailoverBacksOff(t *testing.T) {
	first, second := refusedAddr(t), refusedAddr(t)
	path := filepath.Join(t.TempDir(), "agency.csv")
	if err := sampledata.WriteFile(path, sampledata.Spec{Agency: 1, Bets: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultClient()
	cfg.ID, cfg.ServerAddress, cfg.DataFile = 1, first+","+second, path
	cfg.ServerTimeout, cfg.RetryTimeout = time.Second, 300*time.Millisecond
	log := &harness.Buffer{}
	a := New(cfg, logging.New(log, logging.LevelWarning), WithBackoff(20*time.Millisecond, 80*time.Millisecond))
	if _, err := a.Run(context.Background()); !errors.Is(err, ErrRetryDeadline) {
		t.Fatalf("Run = %v, want the retry deadline", err)
	}
	waits := regexp.MustCompile(`central_inalcanzable .* direccion: (\S+) \| intento: \d+ \| espera: (\S+) \|`).FindAllStringSubmatch(log.String(), -1)
	if len(waits) < 4 || len(waits) > 30 {
		t.Fatalf("%d central_inalcanzable lines in %v, want a handful; log:\n%s", len(waits), cfg.RetryTimeout, log)
	}
	for i, w := range waits {
		wantAddr, immediate := first, i%2 == 0 // first refuses: on to second; second refuses: back off
		if i%2 == 1 {
			wantAddr = second
		}
		if w[1] != wantAddr || (w[2] == "0s") != immediate {
			t.Errorf("attempt %d: refused at %s, then waited %s; want %s, then immediate=%v", i+1, w[1], w[2], wantAddr, immediate)
		}
	}
}

// TestRouteUnresolved checks that a name that does not resolve fails its
// attempt as dialing it did: a retryable error naming the address, in
// one line.
func TestRouteUnresolved(t *testing.T) {
	a := New(config.Client{ServerAddress: "nowhere.test:1,127.0.0.1:2", ServerTimeout: time.Second},
		logging.New(io.Discard, logging.LevelWarning), WithResolver((&fakeLookup{}).lookup))
	rt := a.newRoute()
	tgt := rt.pick(context.Background())
	_, err := a.connect(context.Background(), tgt)
	want := "connect nowhere.test:1: dial tcp: lookup nowhere.test: no such host"
	if err == nil || err.Error() != want || !retryable(err) {
		t.Errorf("connect = %v, want the retryable %q", err, want)
	}
	if rt.failed(false) {
		t.Error("the agency backs off with an address left to try")
	}
	if got := rt.pick(context.Background()).addr; got != "127.0.0.1:2" {
		t.Errorf("after the name, the agency picked %s, want 127.0.0.1:2", got)
	}
}

// TestFailoverNotOnTLS runs an agency with mutual TLS whose first address
// fails its TLS handshake: a central of another lottery, or one that does
// not speak TLS. Connecting again cannot fix that, at another replica
// either: the agency stops with ErrTLS and never dials the second.
func TestFailoverNotOnTLS(t *testing.T) {
	ours, theirs := lotteryDir(t), lotteryDir(t)
	tests := []struct {
		name  string
		serve func(nc net.Conn)
		want  string
	}{
		{"another lottery's central", func(nc net.Conn) {
			cert, err := tls.LoadX509KeyPair(filepath.Join(theirs, certs.CentralCert), filepath.Join(theirs, certs.CentralKey))
			if err == nil {
				tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
			}
		}, "not signed by the lottery CA"},
		{"not TLS", func(nc net.Conn) { io.WriteString(nc, "HTTP/1.0 400 Bad Request\r\n\r\n") }, "does not speak TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := serveEach(t, tt.serve)
			second, accepted := countingListener(t)
			cfg := config.DefaultClient()
			cfg.ID, cfg.ServerAddress, cfg.DataFile = 1, first+","+second, filepath.Join(t.TempDir(), "none.csv")
			cfg.TLSCA, cfg.TLSCert, cfg.TLSKey = filepath.Join(ours, certs.CACert),
				filepath.Join(ours, certs.AgencyCert(1)), filepath.Join(ours, certs.AgencyKey(1))
			cfg.ServerTimeout, cfg.RetryTimeout = 2*time.Second, 2*time.Second
			one := lottery.Bet{FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "2000-01-01", Number: 1}
			a := New(cfg, logging.New(io.Discard, logging.LevelWarning), WithSingleBet(&one))
			_, err := a.Run(context.Background())
			if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want ErrTLS saying %q", err, tt.want)
			}
			if n := accepted.Load(); n != 0 {
				t.Errorf("the agency moved to the second address (%d connections) after a TLS failure", n)
			}
		})
	}
}

// lotteryDir makes, with certs.Make, the certificates of a lottery of one
// agency in a new directory.
func lotteryDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: 1}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// serveEach listens on 127.0.0.1 and runs serve on each connection, then
// closes it, until the test ends; it returns the address.
func serveEach(t *testing.T, serve func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			serve(nc)
			nc.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestFailoverTLSNames checks each replica's certificate for the name of
// its own entry: the first entry's name (which does not resolve) is not
// on the lottery central's certificate, the second's is, and the agency
// connects there.
func TestFailoverTLSNames(t *testing.T) {
	dir := lotteryDir(t)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certs.CentralCert), filepath.Join(dir, certs.CentralKey))
	if err != nil {
		t.Fatal(err)
	}
	central := serveEach(t, func(nc net.Conn) {
		tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
	})
	_, port, _ := net.SplitHostPort(central)
	cfg := config.DefaultClient()
	cfg.ID, cfg.ServerAddress, cfg.DataFile = 1, "elsewhere.test:1,localhost:"+port, filepath.Join(t.TempDir(), "none.csv")
	cfg.TLSCA, cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, certs.CACert),
		filepath.Join(dir, certs.AgencyCert(1)), filepath.Join(dir, certs.AgencyKey(1))
	cfg.ServerTimeout, cfg.RetryTimeout = 2*time.Second, 200*time.Millisecond
	one := lottery.Bet{FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "2000-01-01", Number: 1}
	names := &fakeLookup{names: map[string][]string{"localhost": {"127.0.0.1"}}}
	log := &harness.Buffer{}
	a := New(cfg, logging.New(log, slog.LevelInfo), WithSingleBet(&one), WithResolver(names.lookup),
		WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	// The listener closes after the handshake: the agency retries until
	// its deadline, a certificate for the wrong name would stop it.
	if _, err := a.Run(context.Background()); !errors.Is(err, ErrRetryDeadline) {
		t.Fatalf("Run = %v, want the retry deadline; log:\n%s", err, log)
	}
	moved := "action: conectar | result: success | address: localhost:" + port + " | previous: elsewhere.test:1\n"
	if !strings.Contains(log.String(), moved) {
		t.Errorf("log has not %q:\n%s", moved, log)
	}
}
