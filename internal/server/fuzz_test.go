package server_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// FuzzConn drives the connection handler with arbitrary byte streams and
// frame sequences, through an in-memory connection that ends where the
// input does. The central must never panic, must finish with every input,
// and must still serve afterwards. Its seed corpus runs in every `go test`.
func FuzzConn(f *testing.F) {
	frames := func(msgs ...protocol.Message) []byte {
		var b []byte
		for _, m := range msgs {
			var err error
			if b, err = protocol.AppendFrame(b, m); err != nil {
				f.Fatal(err)
			}
		}
		return b
	}
	bets := validBets(1, 3, 0)
	// A leading odd byte makes the harness open a session for agency 1
	// first, so that mutations explore the session's states too.
	session := func(b []byte) []byte { return append([]byte{1}, b...) }
	f.Add([]byte{})
	f.Add(session(nil))
	f.Add(append([]byte{0}, frames(protocol.Health{})...))
	f.Add(append([]byte{0}, frames(protocol.Hello{Agency: 2, Version: protocol.Version}, protocol.Batch{Bets: bets}, protocol.Done{Total: 3}, protocol.WinnersQuery{})...))
	f.Add(session(frames(protocol.Batch{First: 0, Bets: bets}, protocol.Batch{First: 0, Bets: bets}, protocol.Done{Total: 3})))
	f.Add(session(frames(protocol.Batch{First: 9, Bets: bets})))
	f.Add(session(frames(protocol.Done{Total: 0}, protocol.WinnersQuery{}, protocol.WinnersQuery{})))
	f.Add(session(frames(protocol.Hello{Agency: 2, Version: protocol.Version})))
	f.Add(session(frames(protocol.Declare{Total: 3}, protocol.Batch{First: 0, Bets: bets}, protocol.Declare{Total: 1 << 40})))
	f.Add(append([]byte{0}, frames(protocol.Hello{Agency: 2, Version: protocol.MinVersion}, protocol.Declare{Total: 3})...))
	f.Add(append([]byte{0}, frames(protocol.Hello{Agency: 2, Version: protocol.MinVersion}, protocol.WinnersQuery{})...))
	f.Add(session(frames(protocol.Waiting{Expected: 2, Notified: 1})))
	f.Add(session(frames(protocol.Ack{Committed: 1}, protocol.NotYet{})))
	f.Add(session([]byte{0, 0, 0, 9, byte(protocol.TypeBatch), 0, 0}))
	f.Add(session(rawFrame(1<<20, 2, nil)))
	f.Add(session(batchWithName("\xff")))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))

	// One central serves every input of this process: state carries over
	// from input to input, as it does for a real central.
	ts := startServer(f, 2, withPeerTimeout(time.Second), withWinnersHold(time.Millisecond))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0]&1 == 1 {
			data = append(frames(protocol.Hello{Agency: 1, Version: protocol.Version}), data[1:]...)
		} else if len(data) > 0 {
			data = data[1:]
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			ts.Server().ServeConn(context.Background(), newFakeConn(data), time.Now())
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler did not finish with an input that had ended")
		}
		conn := newFakeConn(frames(protocol.Health{}))
		ts.Server().ServeConn(context.Background(), conn, time.Now())
		if m, err := protocol.NewReader(&conn.out).Read(); err != nil || m.Type() != protocol.TypeHealthOK {
			t.Fatalf("central not serving after the input: %v %v", m, err)
		}
	})
}

// fakeConn is a connection whose peer sent in and then closed; what the
// central writes collects in out.
type fakeConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func newFakeConn(in []byte) *fakeConn { return &fakeConn{in: bytes.NewReader(in)} }

func (c *fakeConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

type fakeAddr struct{}

func (fakeAddr) Network() string { return "fake" }
func (fakeAddr) String() string  { return "fuzz-peer" }
