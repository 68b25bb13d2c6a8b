package loadgen

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// FloodSource is the address a handshake flood comes from: loopback, but
// not the agencies' 127.0.0.1, so that the central's per-source refusal
// budget tells the two apart as it tells apart hosts on a network.
const FloodSource = "127.0.0.2"

// FloodOptions describe a handshake flood during a course: one fixed
// ClientHello replayed at full speed, the attacker doing no cryptography.
type FloodOptions struct {
	Hello   []byte        // the record replayed: ClientHello
	Workers int           // goroutines dialing at once
	For     time.Duration // how long it lasts at least; it lasts until the course ends too
	// Lead is how long it goes on before the agencies start: 0, they
	// start with it, and meet its first burst (the source's budget of
	// refusals not yet spent); more, they meet a flood in its steady
	// state, closed at accept.
	Lead time.Duration
	// AtSink floods a listener of this process that closes each
	// connection as the central closes one over its budget (a reset,
	// right after accept), instead of the central: the control, the same
	// flood costing the host the same, the central untouched.
	AtSink bool
}

// StartSink listens on a free port of 127.0.0.1 and closes each
// connection at once with a reset, as the central closes a connection
// whose source has spent its refusal budget. It returns its address and
// its stop.
func StartSink() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by stop
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); <-done }, nil
}

// ClientHello returns the first TLS record that a client with cfg sends:
// its ClientHello, which a flood replays with no cryptography of its own.
func ClientHello(cfg *tls.Config) ([]byte, error) {
	agency, wire := net.Pipe()
	defer wire.Close()
	go func() {
		defer agency.Close()
		tls.Client(agency, cfg).Handshake() // ends when wire closes
	}()
	if err := wire.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	header := make([]byte, 5)
	if _, err := io.ReadFull(wire, header); err != nil {
		return nil, fmt.Errorf("client hello: %w", err)
	}
	record := make([]byte, 5+int(binary.BigEndian.Uint16(header[3:])))
	copy(record, header)
	if _, err := io.ReadFull(wire, record[5:]); err != nil {
		return nil, fmt.Errorf("client hello: %w", err)
	}
	return record, nil
}

// Flood replays one record to an address from a few goroutines, each
// opening a connection, writing the record and closing it, as fast as it
// can, until Stop.
type Flood struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	opened  atomic.Int64
	started time.Time
	once    sync.Once
	lasted  time.Duration
}

// StartFlood starts a flood of hello to addr from source with workers
// goroutines. It fails when source cannot connect to addr at all (not
// Linux's loopback, where all of 127/8 is local).
func StartFlood(addr, source string, hello []byte, workers int) (*Flood, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	c, err := d.Dial("tcp", addr)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) { // reset: accepted, and closed at once
		return nil, fmt.Errorf("flood: cannot connect from %s: %w", source, err)
	}
	if c != nil {
		c.Close()
	}
	f := &Flood{stop: make(chan struct{}), started: time.Now()}
	f.opened.Add(1)
	for range max(workers, 1) {
		f.wg.Go(func() { f.replay(&d, addr, hello) })
	}
	return f, nil
}

// replay is one goroutine of the flood.
func (f *Flood) replay(d *net.Dialer, addr string, hello []byte) {
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.ECONNRESET) {
				f.opened.Add(1) // accepted, and reset before Dial returned
			}
			continue // otherwise (out of ephemeral ports, say) not a connection
		}
		f.opened.Add(1)
		c.Write(hello)
		c.Close()
	}
}

// Stop ends the flood and returns how many connections it opened (each
// one the central accepted and had to refuse) and how long it lasted. It
// may be called more than once.
func (f *Flood) Stop() (opened int64, lasted time.Duration) {
	f.once.Do(func() {
		close(f.stop)
		f.wg.Wait()
		f.lasted = time.Since(f.started)
	})
	return f.opened.Load(), f.lasted
}
