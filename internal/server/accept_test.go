package server_test

import (
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// exhaustedListener is a real listener whose first fails Accepts fail as
// accept4 does when the process has no descriptor left.
type exhaustedListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *exhaustedListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestServeOutlivesDescriptorExhaustion: Accept failing with EMFILE (the
// process out of descriptors) does not end Serve: it backs off, serves
// the next connection, and says the episode in one line with its count.
func TestServeOutlivesDescriptorExhaustion(t *testing.T) {
	const fails = 6
	logged, ln := &logSink{&harness.Buffer{}}, listen(t)
	stop := serveFailing(t, logged, &exhaustedListener{Listener: ln, fails: fails})
	h := dial(t, &testServer{addr: ln.Addr().String()})
	h.send(protocol.Health{})
	if m, ok := h.read().(protocol.HealthOK); !ok {
		t.Errorf("Health after %d EMFILE: %#v, want HealthOK", fails, m)
	}
	if err := stop(); err != nil {
		t.Errorf("Serve: %v, want it served on", err)
	}
	lines := logged.lines("action: accept | result: fail")
	if len(lines) != 1 {
		t.Fatalf("%d accept fail lines, want one for the episode:\n%s", len(lines), logged)
	}
	if !strings.Contains(lines[0], "too many open files") || !strings.Contains(lines[0], "| count: 6") {
		t.Errorf("episode line %q, want the error and count: %d", lines[0], fails)
	}
}
