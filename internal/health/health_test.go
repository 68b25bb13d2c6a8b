package health

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// TestCheckErrorsNameTheAddress checks that every failed check is one line
// that names the address dialed: the one thing an operator reading a
// container's health log must know.
func TestCheckErrorsNameTheAddress(t *testing.T) {
	// A closed listener's address: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name   string
		addr   string
		answer func(net.Conn) // nil: nothing listens
	}{
		{name: "refused", addr: refused},
		{name: "closed without an answer", answer: func(nc net.Conn) {}},
		{name: "wrong answer", answer: func(nc net.Conn) {
			w := protocol.NewWriter(nc)
			w.Write(protocol.NotYet{})
			w.Flush()
		}},
		{name: "refusal", answer: func(nc net.Conn) {
			w := protocol.NewWriter(nc)
			w.Write(&protocol.Error{Code: protocol.CodeBusy, Message: "too many connections"})
			w.Flush()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr
			if tt.answer != nil {
				addr = serveOnce(t, tt.answer)
			}
			_, err := Check(context.Background(), addr, 2*time.Second, nil)
			if err == nil {
				t.Fatal("Check: got no error")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, addr) {
				t.Errorf("Check error %q: want one line naming %s", msg, addr)
			}
		})
	}
}

// serveOnce accepts one connection on a free port of 127.0.0.1, reads its
// Health message, answers it with answer and closes it.
func serveOnce(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := protocol.NewReader(nc).Read(); err == nil {
			answer(nc)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}
