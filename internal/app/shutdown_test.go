package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
	"github.com/loteria-nacional/quiniela/internal/server"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// hangFS is the disk, whose fsyncs hang once armed, until released: a
// disk that stops answering.
type hangFS struct {
	storage.OSFS
	mu      sync.Mutex
	armed   bool
	hanging chan struct{} // closed once a Sync hangs
	release chan struct{} // closed to let every Sync through
	open    sync.WaitGroup
	hung    sync.Once // closes hanging
	once    sync.Once // closes release
}

func newHangFS() *hangFS {
	return &hangFS{hanging: make(chan struct{}), release: make(chan struct{})}
}

func (h *hangFS) OpenFile(name string) (storage.File, error) {
	f, err := h.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	h.open.Add(1)
	return &hangFile{File: f, fs: h}, nil
}

// arm makes every later Sync hang until unhang.
func (h *hangFS) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = true
}

// unhang lets every Sync through, and waits until every file is closed:
// the store the shutdown abandoned closes then.
func (h *hangFS) unhang() {
	h.once.Do(func() { close(h.release) })
	h.open.Wait()
}

type hangFile struct {
	storage.File
	fs *hangFS
}

func (f *hangFile) Sync() error {
	f.fs.mu.Lock()
	armed := f.fs.armed
	f.fs.mu.Unlock()
	if armed {
		f.fs.hung.Do(func() { close(f.fs.hanging) })
		<-f.fs.release
	}
	return f.File.Sync()
}

func (f *hangFile) Close() error {
	defer f.fs.open.Done()
	return f.File.Close()
}

// agencySession is a raw agency's connection, past its Welcome.
type agencySession struct {
	nc net.Conn
	r  *protocol.Reader
	w  *protocol.Writer
}

func hello(t *testing.T, addr string, agency int) *agencySession {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	s := &agencySession{nc: nc, r: protocol.NewReader(nc), w: protocol.NewWriter(nc)}
	s.send(t, protocol.Hello{Agency: uint32(agency), Version: protocol.Version})
	if m := s.read(t); m.Type() != protocol.TypeWelcome {
		t.Fatalf("answered %v to Hello, want Welcome", m)
	}
	return s
}

func (s *agencySession) send(t *testing.T, m protocol.Message) {
	t.Helper()
	if err := s.w.Write(m); err != nil {
		t.Fatal(err)
	}
	if err := s.w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func (s *agencySession) read(t *testing.T) protocol.Message {
	t.Helper()
	m, err := s.r.Read()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rest reads every frame until the central closes the connection.
func (s *agencySession) rest() []protocol.Message {
	var ms []protocol.Message
	for {
		m, err := s.r.Read()
		if err != nil {
			return ms
		}
		ms = append(ms, m)
	}
}

func shutdownBets(first, n int) []lottery.Bet {
	bets := make([]lottery.Bet, n)
	for i := range bets {
		bets[i] = lottery.Bet{Agency: 1, FirstName: "Ana", LastName: "Paz", Document: "30111222",
			Birthdate: "1990-01-01", Number: 100 + first + i}
	}
	return bets
}

// TestShutdownBounded: a shutdown whose disk stops answering (every fsync
// hangs) ends once SERVER_SHUTDOWN_GRACE is over: Run and Close return
// ErrShutdownAbandoned, and one fail line says what was abandoned (the
// request waiting for storage, the store's close); the agency was never
// acknowledged what was abandoned, and what it was acknowledged before is
// in the store once the disk answers again. With a disk that answers, the
// same shutdown returns Run's cancel, Close nil, and no fail line.
func TestShutdownBounded(t *testing.T) {
	tests := []struct {
		name string
		hang bool
		last protocol.Message // sent after the armed hang
	}{
		{"batch, disk answers", false, protocol.Batch{First: 3, Bets: shutdownBets(3, 2)}},
		{"batch, fsync hangs", true, protocol.Batch{First: 3, Bets: shutdownBets(3, 2)}},
		{"done, fsync hangs", true, protocol.Done{Total: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newHangFS()
			cfg := apptest.Config(1)
			cfg.ShutdownGrace = 200 * time.Millisecond
			c := apptest.Start(t, cfg, func(m *app.Main) { m.StorageFS = fs })
			t.Cleanup(fs.unhang) // before Stop, a no-op after Shutdown, and the store's files
			a := hello(t, c.Address(), 1)
			a.send(t, protocol.Batch{First: 0, Bets: shutdownBets(0, 3)})
			if m := a.read(t); m != (protocol.Ack{Committed: 3}) {
				t.Fatalf("answered %v to the first batch, want Ack 3", m)
			}
			if tt.hang {
				fs.arm()
			}
			a.send(t, tt.last)
			if tt.hang {
				<-fs.hanging
			} else if m := a.read(t); m.Type() != protocol.TypeAck {
				t.Fatalf("answered %v, want an Ack", m)
			}

			run, closeErr := c.Shutdown()
			fails := harness.Filter(harness.ParseLog(c.Log.String()), "shutdown", "fail")
			if !tt.hang {
				if !errors.Is(run, context.Canceled) || closeErr != nil || len(fails) != 0 {
					t.Fatalf("Run %v, Close %v, %d fail lines; want the cancel, nil, none; log:\n%s", run, closeErr, len(fails), c.Log)
				}
				return
			}
			if !errors.Is(run, app.ErrShutdownAbandoned) || !errors.Is(run, server.ErrGraceOver) {
				t.Errorf("Run: %v, want ErrShutdownAbandoned and server.ErrGraceOver", run)
			}
			if !errors.Is(closeErr, app.ErrShutdownAbandoned) {
				t.Errorf("Close: %v, want ErrShutdownAbandoned", closeErr)
			}
			if len(fails) != 1 {
				t.Fatalf("%d shutdown fail lines, want 1; log:\n%s", len(fails), c.Log)
			}
			what := fails[0].Fields["abandoned"]
			if !strings.Contains(what, "1 request waiting for storage") || !strings.Contains(what, "storage close") {
				t.Errorf("abandoned: %q, want the request waiting for storage and the storage close", what)
			}
			for _, m := range a.rest() {
				if m.Type() == protocol.TypeAck || m.Type() == protocol.TypeDoneAck {
					t.Errorf("the agency was answered %v, which the shutdown abandoned", m)
				}
			}
			fs.unhang()
			checkStored(t, c.Config.StoragePath, 3)
		})
	}
}

// checkStored opens the store at path and checks that it holds at least
// the agency's acknowledged bets.
func checkStored(t *testing.T, path string, acked uint64) {
	t.Helper()
	// The abandoned store closes, and lets go of its lock, once its
	// writer's fsync returns: after unhang, a moment later.
	var s *storage.Store
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s, err = storage.Open(path, storage.Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "is locked") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("the store, reopened: %v", err)
	}
	defer s.Close()
	if got := s.Holdings()[1].Bets; got < acked {
		t.Errorf("the store holds %d bets of agency 1, want the %d acknowledged at least", got, acked)
	}
}
