package server_test

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/loadgen"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

// floodSource is the address the flood comes from: loopback, but not the
// agencies' 127.0.0.1, so that the per-source budget tells them apart
// (as it tells apart hosts on a network).
const floodSource = "127.0.0.2"

// floodDuration is how long the flood goes on at least; it goes on until
// the agencies are done too.
const floodDuration = 2 * time.Second

// clientHello returns the first TLS record that an agency sends: its
// ClientHello, which a flood replays with no cryptography of its own.
func clientHello(t *testing.T, dir string) []byte {
	t.Helper()
	cfg, err := mtls.Client(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "agency-1.crt"), filepath.Join(dir, "agency-1.key"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	agency, wire := net.Pipe()
	defer wire.Close()
	go func() {
		defer agency.Close()
		tls.Client(agency, cfg).Handshake() // ends when wire closes
	}()
	header := make([]byte, 5)
	if _, err := io.ReadFull(wire, header); err != nil {
		t.Fatal(err)
	}
	record := make([]byte, 5+int(binary.BigEndian.Uint16(header[3:])))
	copy(record, header)
	if _, err := io.ReadFull(wire, record[5:]); err != nil {
		t.Fatal(err)
	}
	return record
}

// flood replays hello from floodSource to addr, from a few goroutines at
// full speed, until stop is closed, and returns how many connections it
// opened: each one the central accepted and must refuse.
func flood(t *testing.T, addr string, hello []byte, stop <-chan struct{}) (opened func() int64) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(floodSource)}}
	if c, err := d.Dial("tcp", addr); err != nil {
		t.Skipf("cannot connect from %s (not Linux's loopback?): %v", floodSource, err)
	} else {
		c.Close()
	}
	var n atomic.Int64
	n.Add(1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					if errors.Is(err, syscall.ECONNRESET) {
						n.Add(1) // accepted, and reset before Dial returned
					}
					continue // otherwise (out of ephemeral ports, say) not a connection
				}
				n.Add(1)
				c.Write(hello)
				c.Close()
			}
		})
	}
	t.Cleanup(wg.Wait)
	return func() int64 {
		wg.Wait()
		return n.Load()
	}
}

// refusalsMetric reads quiniela_refusals_total at the admin endpoint at
// addr: its sum and its value by reason.
func refusalsMetric(t *testing.T, addr string) (int64, map[string]int64) {
	t.Helper()
	by, err := loadgen.Refusals(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range by {
		total += n
	}
	return total, by
}

// TestHandshakeFlood: a ClientHello replayed at full speed from one
// address, while three agencies hold a lottery over mutual TLS: the
// agencies complete; the flood's source is closed at accept once it has
// spent its budget; the central writes at most 100 fail lines (the
// source's first lines, then its summary); and every flooded connection
// is counted, in the refusals metric and in the log (its lines in full
// and its summary's count).
func TestHandshakeFlood(t *testing.T) {
	dir := lotteryCerts(t, 3, time.Time{})
	ts := startServer(t, 3, withTLS(t, dir), func(s *serverSetup) { s.cfg.AdminAddress = "127.0.0.1:0" })
	stop := make(chan struct{})
	opened := flood(t, ts.addr, clientHello(t, dir), stop)
	floodEnds := time.After(floodDuration)

	errs := make(chan error, 3)
	for a := 1; a <= 3; a++ {
		file := lotteryFile(t, a)
		go func() {
			w, err := runAgencyWith(t, ts, a, file, agencyTLS(dir, fmt.Sprintf("agency-%d", a), dir))
			if err == nil && len(w) != a%3 {
				err = fmt.Errorf("%d winners, want %d", len(w), a%3)
			}
			errs <- err
		}()
	}
	for a := 1; a <= 3; a++ {
		if err := <-errs; err != nil {
			t.Errorf("an agency during the flood: %v", err)
		}
	}
	<-floodEnds
	close(stop)
	flooded := opened()
	waitFor(t, func() bool { n, _ := refusalsMetric(t, ts.AdminAddr()); return n >= flooded },
		"the refusals metric to count the %d flooded connections", flooded)
	total, by := refusalsMetric(t, ts.AdminAddr())
	if total != flooded || by["over_budget"] == 0 {
		t.Errorf("refusals metric %d (%v), want the %d flooded connections, most over budget", total, by, flooded)
	}
	fails := ts.log.lines("result: fail")
	ts.Stop() // its last summary
	lines := harness.ParseLog(ts.log.String())
	if len(fails) > 100 {
		t.Errorf("%d fail lines during a flood of %d connections, want at most 100", len(fails), flooded)
	}
	said := len(harness.Filter(lines, "tls", logging.ResultFail))
	var summed int64
	for _, l := range harness.With(harness.Filter(lines, "refusals", logging.ResultFail), "source", floodSource) {
		n, _ := strconv.ParseInt(l.Fields["count"], 10, 64)
		summed += n
	}
	if int64(said)+summed != flooded {
		t.Errorf("%d tls fail lines and summaries counting %d: %d, want the %d flooded connections", said, summed, int64(said)+summed, flooded)
	}
	t.Logf("flooded connections %d, refusals %v, fail lines %d", flooded, by, len(fails))
}
