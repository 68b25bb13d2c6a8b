package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFailLinesCounts: fail lines are counted by action however the log
// is cut into writes; other lines, and a line not yet ended, are not.
func TestFailLinesCounts(t *testing.T) {
	log := "2026-12-07 10:00:00 INFO     action: tls | result: success | mode: mutual\n" +
		"2026-12-07 10:00:01 ERROR    action: tls | result: fail | peer: 127.0.0.2:1 | error: EOF\n" +
		"2026-12-07 10:00:01 ERROR    action: tls | result: fail | peer: 127.0.0.2:2 | error: EOF\n" +
		"2026-12-07 10:00:02 WARNING  action: refusals | result: fail | source: 127.0.0.2 | count: 9\n" +
		"not a log line: result: fail\n" +
		"2026-12-07 10:00:03 ERROR    action: hello | result: fail | error: unended"
	want := map[string]int{"tls": 2, "refusals": 1}
	for _, size := range []int{1, 7, 64, len(log)} {
		var f FailLines
		for rest := log; rest != ""; {
			n := min(size, len(rest))
			f.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		if got := f.ByAction(); !maps.Equal(got, want) {
			t.Errorf("writes of %d bytes: %v, want %v", size, got, want)
		}
	}
}

// TestFloodReplaysTheHello: each connection of a flood carries the
// ClientHello record, whole, and Stop counts at least the connections
// the listener accepted.
func TestFloodReplaysTheHello(t *testing.T) {
	lt, err := MakeTLS(filepath.Join(t.TempDir(), "certs"), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lt.Agency(1)
	if err != nil {
		t.Fatal(err)
	}
	hello, err := ClientHello(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(hello) < 6 || hello[0] != 22 || hello[5] != 1 { // handshake record, client_hello
		t.Fatalf("ClientHello % x..., want a handshake record holding a client_hello", hello[:min(6, len(hello))])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	flood, err := StartFlood(ln.Addr().String(), FloodSource, hello, 2)
	if err != nil {
		t.Skip(err) // not Linux's loopback
	}
	const read = 5
	for i := range read + 1 { // the first is StartFlood's try, which writes nothing
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		c.Close()
		if host, _, _ := net.SplitHostPort(c.RemoteAddr().String()); host != FloodSource {
			t.Errorf("connection %d from %s, want %s", i, host, FloodSource)
		}
		if i > 0 && !bytes.Equal(got, hello) {
			t.Errorf("connection %d carried %d bytes, want the %d of the ClientHello", i, len(got), len(hello))
		}
	}
	ln.Close()
	if opened, _ := flood.Stop(); opened < read+1 {
		t.Errorf("Stop counts %d connections, want at least the %d accepted", opened, read+1)
	}
}

// TestRefusalsReadsTheMetric: quiniela_refusals_total's values by reason,
// the other metrics left out.
func TestRefusalsReadsTheMetric(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# HELP quiniela_refusals_total Refusals.\n"+
			"quiniela_refusals_total{reason=\"over_budget\"} 31040\n"+
			"quiniela_refusals_total{reason=\"tls\"} 168\n"+
			"quiniela_connections_total 12\n")
	}))
	defer srv.Close()
	by, err := Refusals(context.Background(), srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"over_budget": 31040, "tls": 168}; !maps.Equal(by, want) || Sum(by) != 31208 {
		t.Errorf("Refusals %v (sum %d), want %v (31208)", by, Sum(by), want)
	}
}

// TestSinkResets: the sink accepts and resets, as the central closes a
// source over its budget.
func TestSinkResets(t *testing.T) {
	addr, stop, err := StartSink()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset before the dial returned
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Errorf("read after the sink's close: %v, want a reset", err)
	}
}
