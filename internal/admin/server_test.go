package admin

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// countingListener counts the connections its peers hold open: one is
// counted closed as its Close begins, before the cap above frees its slot.
type countingListener struct {
	net.Listener
	mu         sync.Mutex
	open, most int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.most = max(l.most, l.open)
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// keepAlive asks addr for /healthz on a keep-alive connection, then
// waits for the server to close it, and returns the answer's status and
// the read's error after it (io.EOF where the server closed it).
func keepAlive(addr string) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a bound for a failing test, not a speed
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n"); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = r.ReadByte() // the next request never comes: the server closes it idle
	return resp.StatusCode, err
}

// TestServerCapsAndClosesIdleConnections: more keep-alive peers than the
// cap are served in turn, the connections open never exceed the cap, and
// each is closed by the idle timeout, which frees its slot for the next.
// Without the cap more would be open at once; without the idle timeout
// the peers beyond the cap would never be answered.
func TestServerCapsAndClosesIdleConnections(t *testing.T) {
	const maxConns, peers = 2, 6
	lim := DefaultLimits()
	lim.MaxConnections = maxConns
	lim.IdleTimeout = 50 * time.Millisecond
	lim.ReadTimeout = time.Minute // net/http's idle timeout where IdleTimeout is zero
	srv := NewServer(New(&fakeSource{st: drawnStatus()}, prometheus.NewRegistry()), lim)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingListener{Listener: raw}
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(lim.Listener(counted, logging.New(&harness.Buffer{}, logging.LevelWarning)))
	}()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, peers)
	for range peers {
		wg.Go(func() {
			code, err := keepAlive(raw.Addr().String())
			switch {
			case code != http.StatusOK:
				errs <- errors.New("not answered 200: " + http.StatusText(code) + " " + errString(err))
			case !errors.Is(err, io.EOF):
				errs <- errors.New("idle connection not closed by the server: " + errString(err))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if counted.most > maxConns {
		t.Errorf("%d connections open at once, want at most the cap, %d", counted.most, maxConns)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
