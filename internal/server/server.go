// Package server is the central's network side: it accepts agencies'
// connections, speaks package protocol with them, hands their bets to the
// store and their notifications and winners queries to the draw barrier
// (lottery.Central), and shuts all of that down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// DefaultWinnersHold is how long the central holds a winners query
// before the draw, before answering NotYet.
const DefaultWinnersHold = 5 * time.Second

// MaxBatchesInFlight bounds the batches, over all agencies, that the
// central has decoded and not yet answered: enough to keep two group
// commits full, few enough that memory stays flat at any number of agencies
// (a decoded batch takes about 20 kB).
const MaxBatchesInFlight = 256

// busyReplyTimeout bounds the time spent telling a refused peer why.
const busyReplyTimeout = time.Second

// Server serves agencies over TCP.
type Server struct {
	store   *storage.Store
	central *lottery.Central
	log     *slog.Logger

	readTimeout time.Duration
	// WinnersHold is how long a winners query waits for the draw before
	// the central answers NotYet; set it before Serve.
	WinnersHold time.Duration

	slots      chan struct{}       // one per connection being served
	batchSlots *semaphore.Weighted // one per batch decoded and not yet answered

	mu       sync.Mutex
	conns    map[*conn]struct{}
	sessions map[int]*conn // agency → the connection that speaks for it
	wg       sync.WaitGroup
}

// New returns a server over store and central.
func New(cfg config.Server, store *storage.Store, central *lottery.Central, log *slog.Logger) *Server {
	return &Server{
		store:       store,
		central:     central,
		log:         log,
		readTimeout: cfg.ReadTimeout,
		WinnersHold: DefaultWinnersHold,
		slots:       make(chan struct{}, cfg.MaxConnections),
		batchSlots:  semaphore.NewWeighted(MaxBatchesInFlight),
		conns:       make(map[*conn]struct{}),
		sessions:    make(map[int]*conn),
	}
}

// Run is the whole central: it opens the store, sets up the draw barrier,
// listens, and serves until ctx is done; then it stops accepting, closes
// every connection and the store, in that order, logging each close.
// ready, when not nil, is called with the listening address; opts
// configure the draw barrier. A shutdown through ctx is a normal return
// (nil).
func Run(ctx context.Context, cfg config.Server, log *slog.Logger, ready func(net.Addr), opts ...lottery.Option) error {
	store, err := storage.Open(cfg.StoragePath, storage.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close", "result", "fail", "resource", "storage", "error", err)
			return
		}
		log.Info("close", logging.Success, "resource", "storage", "file", cfg.StoragePath)
	}()
	central, err := lottery.NewCentral(ledger{store}, cfg.Agencies, log, opts...)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Address())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("accept_connections", logging.InProgress, "address", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}
	return New(cfg, store, central, log).Serve(ctx, ln)
}

// ledger adapts the store to what the draw barrier needs.
type ledger struct{ *storage.Store }

var _ lottery.Ledger = ledger{}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection and waits for their goroutines. It takes ownership of
// ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var acceptErr error
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("accept: %w", err)
			}
			break
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.refuseBusy(nc)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.serveConn(ctx, nc)
		}()
	}
	if ctx.Err() != nil {
		s.log.Info("shutdown", logging.InProgress)
	}
	ln.Close()
	s.log.Info("close", logging.Success, "resource", "listener", "address", ln.Addr().String())
	// Every connection's context is a child of ctx: they are closing
	// now. Wait for them, so that the store closes after the last one.
	s.wg.Wait()
	return acceptErr
}

var (
	errShutdown   = errors.New("central shutting down")
	errSuperseded = errors.New("a newer connection took over the agency")
)

// refuseBusy tells a peer over the connection limit to come back later.
func (s *Server) refuseBusy(nc net.Conn) {
	s.log.Error("conexion", logging.Fail, "peer", nc.RemoteAddr().String(), "error", "too many connections")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer nc.Close()
		nc.SetWriteDeadline(time.Now().Add(busyReplyTimeout))
		writeError(nc, codeBusy, "too many connections, try again later")
	}()
}

// serveConn serves one connection until it ends, and closes it.
func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	s.newConn(ctx, nc).serve()
}

func (s *Server) newConn(ctx context.Context, nc net.Conn) *conn {
	cctx, cancel := context.WithCancelCause(ctx)
	c := &conn{srv: s, nc: nc, peer: nc.RemoteAddr().String(), ctx: cctx, cancel: cancel}
	// Once the connection is closing, a blocked read returns at once and
	// a blocked write soon. readFrame and flush set their deadlines
	// before they look at the context, so this cannot be undone by them.
	context.AfterFunc(cctx, func() {
		nc.SetReadDeadline(time.Now())
		nc.SetWriteDeadline(time.Now().Add(closingWriteTimeout))
	})
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

// claim makes c the connection of its agency, taking over from any other.
func (s *Server) claim(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.sessions[c.agency]; old != nil && old != c {
		old.cancel(errSuperseded)
	}
	s.sessions[c.agency] = c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.sessions[c.agency] == c {
		delete(s.sessions, c.agency)
	}
}
