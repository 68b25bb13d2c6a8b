package e2e

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// slowHello is what a slow peer dribbles: the header of a Hello frame
// whose length says 64 bytes of payload, then payload bytes. At one byte
// per 500 ms it would take 34.5 s, longer than the default read timeout
// (30 s), as the 11-byte Hello at one byte per 5 s (55 s) did;
// it never completes.
func slowHello() []byte {
	b := binary.BigEndian.AppendUint32(nil, 65)
	b = append(b, byte(protocol.TypeHello))
	return append(b, make([]byte, 64)...)
}

// flood is n connections to a central, each dribbling slowHello one byte
// every interval and opened again as soon as the central closes or
// refuses it, until its context is done; wg counts its goroutines.
type flood struct {
	opened atomic.Int64 // connections opened so far
	open   atomic.Int64 // connections open now
	wg     sync.WaitGroup
}

// startFlood starts a flood of n connections to addr, the first ones
// opened over spread (as a flood that has gone on for a while is: its
// connections are not closed all at once).
func startFlood(ctx context.Context, addr string, n int, interval, spread time.Duration) *flood {
	f := &flood{}
	payload := slowHello()
	for i := range n {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			select {
			case <-time.After(spread * time.Duration(i) / time.Duration(n)):
			case <-ctx.Done():
			}
			var d net.Dialer
			for ctx.Err() == nil {
				nc, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // out of ports, say: not the central's doing
					continue
				}
				f.opened.Add(1)
				f.open.Add(1)
				dribble(ctx, nc, payload, interval)
				f.open.Add(-1)
			}
		}()
	}
	return f
}

// dribble writes payload to nc one byte every interval until the central
// closes the connection (noticed at once, by a reader) or ctx is done,
// then closes nc.
func dribble(ctx context.Context, nc net.Conn, payload []byte, interval time.Duration) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(io.Discard, nc) // until the central closes or refuses it
	}()
	defer func() {
		nc.Close()
		<-closed
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		if _, err := nc.Write(payload[i%len(payload) : i%len(payload)+1]); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-closed:
			return
		case <-ctx.Done():
			return
		}
	}
}

// TestSlowPeersFlood is issue 11's attack, scaled down: with
// SERVER_MAX_CONNECTIONS=100, 150 connections each dribble a Hello one
// byte every 500 ms and are opened again as soon as the central closes
// or refuses them, while 3 agencies upload their bets. Connections that
// do not complete Hello within SERVER_HELLO_TIMEOUT (2 s) are closed, so
// slots keep freeing; every agency gets in, within its retry.timeout
// (60 s), and gets its own winners.
func TestSlowPeersFlood(t *testing.T) { forEachBackend(t, testSlowPeersFlood) }

func testSlowPeersFlood(t *testing.T, be backend) {
	const (
		limit        = 100
		attackers    = 150
		interval     = 500 * time.Millisecond
		helloTimeout = 2 * time.Second
	)
	data := genData(t, 3, "3000", "1,2,1", 61)
	srv := startServer(t, be.env(map[string]string{
		"AGENCIES_AMOUNT":        "3",
		"SERVER_MAX_CONNECTIONS": strconv.Itoa(limit),
		"SERVER_HELLO_TIMEOUT":   helloTimeout.String(),
	}))
	ctx, cancel := context.WithCancel(context.Background())
	f := startFlood(ctx, srv.Addr, attackers, interval, helloTimeout)
	defer func() {
		cancel()
		f.wg.Wait()
	}()
	// The flood has gone on for two Hello deadlines: it holds every slot,
	// and the central has begun to close or refuse its connections.
	time.Sleep(2 * helloTimeout)
	eventually(t, 10*time.Second, "the flood to fill the central", func() bool {
		return f.open.Load() > limit && len(harness.Filter(srv.Lines(), "", "fail")) > 0
	})

	start := time.Now()
	t.Logf("agencies start: the flood has %d connections open, %d opened so far", f.open.Load(), f.opened.Load())
	clients := startAgencies(t, srv.Addr, data, 3)
	for _, c := range clients {
		c.WaitExit(t, 90*time.Second)
		t.Logf("%s exited %d after %v, %d reconnections", c.Name(), c.ExitCode(),
			time.Since(start).Round(100*time.Millisecond), len(harness.Filter(c.Lines(), "reconectar", "")))
	}
	cancel()
	f.wg.Wait()
	srv.Stop(t)
	lines := srv.Lines()
	t.Logf("flood: %d connections opened; central: %d closed at the Hello deadline, %d refused busy",
		f.opened.Load(),
		len(harness.With(harness.Filter(lines, "frame", "fail"), "error", "hello not completed in 2s")),
		len(harness.With(harness.Filter(lines, "conexion", "fail"), "error", "too many connections")))
	assertAgenciesWon(t, clients, []int{1, 2, 1})
	if len(harness.Filter(lines, "sorteo", "success")) != 1 {
		t.Errorf("server logged no sorteo line")
	}
}
