// Package server is the central's network side: it accepts agencies'
// connections, speaks package protocol with them, and hands every request
// to the domain (lottery.Central), which decides it; then it shuts all of
// that down in order. It knows nothing of storage or of configuration
// files: package app wires them.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/netguard"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// DefaultWinnersHold is how long the central holds a winners query
// before the draw, before answering NotYet: the longest the protocol
// allows, which agencies wait for (protocol.MaxWinnersHold).
const DefaultWinnersHold = protocol.MaxWinnersHold

// DefaultWaitingEvery is the least time between two Waiting frames to a
// connection (see teller). A count told at each notification
// would cost the central N frames for each of N agencies (fifty million
// at 10,000 agencies); paced, the newest count is told, which is all an
// agency's log line needs.
const DefaultWaitingEvery = time.Second

// MaxBatchesInFlight bounds the batches, over all agencies, that the
// central has decoded and not yet answered: enough to keep two group
// commits full, few enough that memory stays flat at any number of agencies
// (a decoded batch takes about 20 kB).
const MaxBatchesInFlight = 256

// busyReplyTimeout bounds the time spent telling a refused peer why.
const busyReplyTimeout = time.Second

// DefaultHelloTimeout is how long a connection has, from its accept, to
// complete its first frame (Hello, or Health) when Settings.HelloTimeout
// is zero.
const DefaultHelloTimeout = 5 * time.Second

// DefaultShutdownGrace is how long a shutdown gives the requests in
// flight when Settings.ShutdownGrace is zero.
const DefaultShutdownGrace = 5 * time.Second

// Settings are what the server needs of the central's configuration.
type Settings struct {
	// PeerTimeout bounds how long a peer may hold the central up, after
	// Hello: the silence before a frame, the time from a frame's first
	// byte to its last, and each write of answers to it.
	PeerTimeout time.Duration
	// HelloTimeout is how long a connection has, from its accept, to
	// complete Hello (or Health): one deadline, which no byte moves.
	// DefaultHelloTimeout when zero.
	HelloTimeout time.Duration
	// MaxConnections bounds the connections served at once. As many more
	// may wait for a slot, each until its Hello deadline; others are
	// refused busy at once.
	MaxConnections int
	// WinnersHold is how long a winners query waits for the draw before
	// the central answers NotYet; DefaultWinnersHold when zero. Agencies
	// wait for at most protocol.MaxWinnersHold (and a margin): a longer
	// hold makes them give up and reconnect.
	WinnersHold time.Duration
	// WaitingEvery is the least time between two Waiting frames to a
	// connection; DefaultWaitingEvery when zero.
	WaitingEvery time.Duration
	// TLS, when set, is the central's mutual TLS (see package mtls):
	// every connection completes a TLS handshake within its Hello
	// deadline, and its client certificate says which agency it may
	// speak for. Nil is plaintext: agencies are not authenticated.
	TLS *tls.Config
	// Observer, when not nil, hears of every batch stored and every
	// refusal (for metrics).
	Observer Observer
	// Refusals is the per-source budget of refusals (see
	// netguard.Budget): a failed TLS handshake or a peer refused before
	// Hello spends one of its source's tokens, and a connection from a
	// source with none left is closed at accept, before any handshake or
	// log line. A zero Rate is no budget. Whatever the budget, the fail
	// lines of a source refused in a loop are collapsed into a summary
	// (netguard.Refusals).
	Refusals netguard.Budget
	// ShutdownGrace is how long, once Serve's context is done, the
	// requests in flight have to be answered (a batch waiting for its
	// group commit, a Done for its record); after it, Serve gives up
	// their waits and returns an *AbandonError. DefaultShutdownGrace
	// when zero.
	ShutdownGrace time.Duration
	// Revoked, when not nil, reports whether a client certificate is
	// revoked now. The handshake checks the list in force when it
	// begins (see package mtls); Revoked covers a list put in force
	// since: CloseRevoked closes the connections it revokes, and a
	// handshake that ends after CloseRevoked looked is checked here.
	Revoked func(*x509.Certificate) bool
	// DrawDeadline is when sales close whoever has not notified
	// (DRAW_DEADLINE); the zero time is none. Agencies waiting for the
	// draw are told it (protocol.Waiting); the central's timer, not the
	// server, closes sales.
	DrawDeadline time.Time
}

// Observer hears what the server answers. Its methods are called from
// connections' goroutines and must not block.
type Observer interface {
	// BatchStored: a batch of agency's with bets new bets was
	// acknowledged, ack after its last byte was read.
	BatchStored(agency, bets int, ack time.Duration)
	// Refused: a connection or a request was refused, for reason: a
	// protocol.Code's name, ReasonTLS (a failed TLS handshake) or
	// netguard.ReasonOverBudget (closed at accept).
	Refused(reason string)
}

// Activity is what the server saw of one agency since it started.
type Activity struct {
	Connected bool      // a connection speaks for it now
	LastSeen  time.Time // its latest Hello, batch stored or close
	Batches   uint64    // its batches with new bets, acknowledged
	// LastRefusal is its latest refusal, nil when none: after Hello, or
	// at a handshake whose certificate names it (revoked).
	LastRefusal *Refusal
	// Refused: its latest connection was refused (LastRefusal), and no
	// session of its has begun since.
	Refused bool
	// Declared is the total of bets the agency said it has, in its
	// latest Declare (protocol version 3); 0 when it declared none. For
	// display only: the agency's Done says its total.
	Declared uint64
}

// Server serves agencies over TCP.
type Server struct {
	central  *lottery.Central
	log      *slog.Logger
	settings Settings
	guard    *netguard.Refusals // the refusals' budget and fail lines, per source
	teller   *teller            // the Waiting frames of held winners queries

	slots      *semaphore.Weighted // one per connection being served; waiters in turn
	waiting    atomic.Int64        // connections waiting for a slot
	batchSlots *semaphore.Weighted // one per batch decoded and not yet answered

	// drain bounds every wait for the ledger: it ends ShutdownGrace
	// after Serve's context (abandon, see shutdown), and abandoned counts
	// the requests whose waits it ended.
	drain     context.Context
	abandon   context.CancelCauseFunc
	abandoned atomic.Int64

	mu       sync.Mutex
	conns    map[*conn]struct{}
	sessions map[int]*conn // agency → the connection that speaks for it
	activity map[int]*Activity
	wg       sync.WaitGroup
}

// New returns a server that hands agencies' requests to central.
func New(settings Settings, central *lottery.Central, log *slog.Logger) *Server {
	if settings.WinnersHold == 0 {
		settings.WinnersHold = DefaultWinnersHold
	}
	if settings.WaitingEvery == 0 {
		settings.WaitingEvery = DefaultWaitingEvery
	}
	if settings.HelloTimeout == 0 {
		settings.HelloTimeout = DefaultHelloTimeout
	}
	if settings.ShutdownGrace == 0 {
		settings.ShutdownGrace = DefaultShutdownGrace
	}
	drain, abandon := context.WithCancelCause(context.Background())
	return &Server{
		drain:      drain,
		abandon:    abandon,
		central:    central,
		log:        log,
		settings:   settings,
		guard:      netguard.NewRefusals(settings.Refusals, log),
		teller:     newTeller(central, settings.WaitingEvery, settings.DrawDeadline),
		slots:      semaphore.NewWeighted(int64(settings.MaxConnections)),
		batchSlots: semaphore.NewWeighted(MaxBatchesInFlight),
		conns:      make(map[*conn]struct{}),
		sessions:   make(map[int]*conn),
		activity:   make(map[int]*Activity),
	}
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection and waits for their goroutines. It takes ownership of
// ln. An Accept error that passes (no descriptor left: see
// netguard.Backoff) is retried after a back-off, logged once per episode;
// any other ends Serve.
//
// Closing a connection stops its reading at once, but the requests it has
// in flight (a batch waiting for its group commit, a Done for its record)
// are answered first: each has ShutdownGrace from then. A request not
// answered by then is given up, never acknowledged, and Serve returns an
// *AbandonError saying how many were.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = netguard.Backoff(ln, s.log)
	ctx, cancel := context.WithCancel(ctx) // also ended by a failed accept
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	// The refusals' summaries and the held queries' Waiting frames,
	// until every connection has ended.
	sweep, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	var background sync.WaitGroup
	background.Go(func() { s.guard.Run(sweep) })
	background.Go(func() { s.teller.run(sweep) })
	var acceptErr error
	for {
		nc, err := ln.Accept()
		accepted := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("accept: %w", err)
			}
			break
		}
		if !s.guard.Allow(nc.RemoteAddr()) {
			s.closeOverBudget(nc)
			continue
		}
		s.dispatch(ctx, nc, accepted)
	}
	if ctx.Err() != nil {
		s.log.Info("shutdown", logging.InProgress, "grace", s.settings.ShutdownGrace)
	}
	cancel() // every connection's context is a child of ctx: they close now
	ln.Close()
	s.log.Info("close", logging.Success, "resource", "listener", "address", ln.Addr().String())
	// Wait for them, so that the store closes after the last one.
	err := errors.Join(acceptErr, s.shutdown())
	stopSweep() // the last summary, once the last connection ended
	background.Wait()
	return err
}

// dispatch hands a connection accepted at accepted to a goroutine that
// serves it in a free slot, waits for one, or refuses it busy.
func (s *Server) dispatch(ctx context.Context, nc net.Conn, accepted time.Time) {
	s.wg.Add(1)
	switch {
	case s.slots.TryAcquire(1):
		go func() {
			defer s.wg.Done()
			defer s.slots.Release(1)
			s.serveConn(ctx, nc, accepted)
		}()
	case s.waiting.Add(1) <= int64(s.settings.MaxConnections):
		go func() {
			defer s.wg.Done()
			s.awaitSlot(ctx, nc, accepted)
		}()
	default:
		s.waiting.Add(-1)
		go func() {
			defer s.wg.Done()
			s.refuseBusy(nc)
		}()
	}
}

var (
	errShutdown   = errors.New("central shutting down")
	errSuperseded = errors.New("a newer connection took over the agency")
	errRevoked    = errors.New("the certificate of this connection was revoked")
)

// awaitSlot serves a connection that came when every slot was taken,
// once one frees. Connections wait in the order they came (the
// semaphore's waiters are served first in, first out), each until its
// Hello deadline: a slot goes to whoever has waited longest, never to a
// peer that merely connects again faster, and a waiting peer's Hello
// deadline runs meanwhile. One that is still waiting at its deadline is
// refused busy.
func (s *Server) awaitSlot(ctx context.Context, nc net.Conn, accepted time.Time) {
	wctx, cancel := context.WithDeadline(ctx, accepted.Add(s.settings.HelloTimeout))
	err := s.slots.Acquire(wctx, 1)
	cancel()
	s.waiting.Add(-1)
	switch {
	case err == nil:
		defer s.slots.Release(1)
		s.serveConn(ctx, nc, accepted)
	case ctx.Err() != nil:
		nc.Close() // shutting down: it was never served
	default:
		s.refuseBusy(nc)
	}
}

// closeOverBudget closes a connection whose source has spent its budget
// of refusals, at once: no handshake, no line (its source's summary
// counts it), and a reset rather than an orderly close, so that the
// central keeps no TIME_WAIT socket of it either.
func (s *Server) closeOverBudget(nc net.Conn) {
	if l, ok := nc.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	nc.Close()
	s.refusedFor(netguard.ReasonOverBudget)
}

// refuseBusy tells a peer over the connection limit to come back later,
// and closes the connection. A busy refusal costs no budget (see costs).
func (s *Server) refuseBusy(nc net.Conn) {
	s.refused(protocol.CodeBusy)
	if s.guard.Refuse(nc.RemoteAddr(), protocol.CodeBusy.String(), costs(protocol.CodeBusy.String())) {
		s.log.Error("conexion", logging.Fail, "peer", nc.RemoteAddr().String(), "error", "too many connections")
	}
	defer nc.Close()
	if s.settings.TLS != nil {
		// A TLS agency would read a plaintext frame as a central that does
		// not speak TLS, which it does not retry; a handshake per refusal
		// would cost a flood's worth of CPU. Closed before the handshake,
		// it retries as after any broken connection.
		return
	}
	nc.SetWriteDeadline(time.Now().Add(busyReplyTimeout))
	writeError(nc, protocol.CodeBusy, "too many connections, try again later")
}

// serveConn serves one connection, accepted at accepted, until it ends,
// and closes it.
func (s *Server) serveConn(ctx context.Context, nc net.Conn, accepted time.Time) {
	s.newConn(ctx, nc, accepted).serve()
}

func (s *Server) newConn(ctx context.Context, nc net.Conn, accepted time.Time) *conn {
	cctx, cancel := context.WithCancelCause(ctx)
	c := &conn{srv: s, nc: nc, peer: nc.RemoteAddr().String(), ctx: cctx, cancel: cancel, told: toldWaiting{count: -1}}
	if s.settings.TLS != nil {
		c.nc = tls.Server(nc, s.settings.TLS) // the handshake is the first thing serve does
	}
	c.clock = newReadClock(cctx, c.nc, accepted, s.settings)
	// Once the connection is closing, a blocked read returns at once and
	// a blocked write soon. readClock and flush set their deadlines
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
	a := s.seen(c.agency)
	a.Connected, a.Refused = true, false
}

// seen returns agency's activity, marked seen now. s.mu is held.
func (s *Server) seen(agency int) *Activity {
	a := s.activity[agency]
	if a == nil {
		a = &Activity{}
		s.activity[agency] = a
	}
	a.LastSeen = time.Now()
	return a
}

// stored records a batch of agency's acknowledged with fresh new bets.
func (s *Server) stored(agency, fresh int, ack time.Duration) {
	s.mu.Lock()
	a := s.seen(agency)
	if fresh > 0 {
		a.Batches++
	}
	s.mu.Unlock()
	if fresh > 0 && s.settings.Observer != nil {
		s.settings.Observer.BatchStored(agency, fresh, ack)
	}
}

// refused tells the observer of a refusal with code.
func (s *Server) refused(code protocol.Code) { s.refusedFor(code.String()) }

// refusedFor tells the observer of a refusal for reason.
func (s *Server) refusedFor(reason string) {
	if s.settings.Observer != nil {
		s.settings.Observer.Refused(reason)
	}
}

// Activity returns what the server saw of each agency that said Hello.
func (s *Server) Activity() map[int]Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[int]Activity, len(s.activity))
	for a, act := range s.activity {
		m[a] = *act
	}
	return m
}

// Connections returns how many connections are open now.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.sessions[c.agency] == c {
		delete(s.sessions, c.agency)
		s.seen(c.agency).Connected = false
	}
}
