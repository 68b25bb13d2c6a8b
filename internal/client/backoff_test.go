package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// TestFailingCentralBacksOff: a central that is up but failing welcomes
// the agency and then refuses its batch as unavailable. A Welcome is not
// progress: the agency backs off as if the central were down (doubling
// waits, so a handful of attempts) and gives up at retry.timeout, saying
// why. It used to take every Welcome as contact, reconnect at the first
// backoff step forever and never give up.
func TestFailingCentralBacksOff(t *testing.T) {
	f := &fakeCentral{
		welcome:  protocol.Welcome{Digest: lottery.EmptyDigest},
		batchErr: &protocol.Error{Code: protocol.CodeUnavailable, Message: "ledger unavailable"},
	}
	f.start(t)
	log := &harness.Buffer{}
	a := newTestAgency(t, f.addr, agencyLines, log, WithBackoff(20*time.Millisecond, 80*time.Millisecond))
	a.cfg.RetryTimeout = 400 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, err := a.Run(ctx)
	if !errors.Is(err, ErrRetryDeadline) || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("Run = %v, want the retry deadline, naming the central's refusal", err)
	}
	f.mu.Lock()
	conns := f.conns
	f.mu.Unlock()
	// Waits of at least half of 20, 40, 80, 80, ... ms within 400 ms
	// (plus the last wait) leave room for at most a dozen attempts; at
	// the first step only, there would be some 40.
	if conns > 12 {
		t.Errorf("%d connections in %v of retry.timeout, want at most 12: the agency did not back off", conns, a.cfg.RetryTimeout)
	}
	t.Logf("%d connections before giving up", conns)
}
