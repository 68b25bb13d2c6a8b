package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyLookup answers a name with addrs for the calls in answered (by
// number, from 1) and "no such host" for the others.
type flakyLookup struct {
	addrs    []string
	answered func(call int) bool
	mu       sync.Mutex
	calls    int
}

func (f *flakyLookup) lookup(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.answered(f.calls) {
		return f.addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestComposeDefaultAddress runs agencies whose central's name does not
// resolve, with the grace of the Compose name (server) already over (0)
// or not (an hour). Only the Compose name, never resolved, past the
// grace, stops with ErrComposeAddress and what to set; the others
// retry until retry.timeout, as before.
func TestComposeDefaultAddress(t *testing.T) {
	never := func(int) bool { return false }
	_, port, err := net.SplitHostPort(refusedAddr(t)) // where a resolved name's connection is refused
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		host     string
		grace    time.Duration
		answered func(call int) bool
		want     error
	}{
		{"compose default never resolves", "server", 0, never, ErrComposeAddress},
		{"another name never resolves", "nowhere", 0, never, ErrRetryDeadline},
		{"compose default within its grace", "server", time.Hour, never, ErrRetryDeadline},
		{"compose default resolved once, then not", "server", 0, func(call int) bool { return call == 1 }, ErrRetryDeadline},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyLookup{addrs: []string{"127.0.0.1"}, answered: tc.answered}
			grace := func(a *Agency) { a.composeGrace = tc.grace }
			_, _, err := runAgencyRetrying(t, net.JoinHostPort(tc.host, port), WithResolver(f.lookup), grace)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run = %v, want %v", err, tc.want)
			}
			if tc.want == ErrComposeAddress && !strings.Contains(err.Error(), "set CLI_SERVER_ADDRESS, or server.address in config.yaml") {
				t.Errorf("Run = %v, want it to say what to set", err)
			}
		})
	}
}

// runAgencyRetrying is runAgency with a retry.timeout short enough for
// an agency that cannot reach the central to give up in the test.
func runAgencyRetrying(t *testing.T, address string, opts ...Option) (Result, string, error) {
	t.Helper()
	short := func(a *Agency) { a.cfg.RetryTimeout = 300 * time.Millisecond }
	return runAgency(t, context.Background(), address, append(opts, short)...)
}
