// Package app is the central, wired: the store, the domain over it, the
// agencies' server and the operators' endpoints, opened in order and
// closed in reverse. cmd/server parses its arguments and configuration
// and hands them here; tests run the same wiring in-process (see
// package apptest) rather than rebuild it by hand.
//
// Each file holds one concern of the wiring: store.go the store,
// central.go the domain over it, events.go its log lines, serve.go TLS
// and the agencies' listener, ops.go and status.go the profiling and
// admin endpoints, verify.go `server verify`.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/netguard"
	"github.com/loteria-nacional/quiniela/internal/server"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// Main is the whole central, wired: the store, the domain over it, the
// agencies' listener and, where asked for, the profiling and admin
// listeners. Run binds the listeners first, so that a start that cannot
// listen creates nothing on disk, then opens the others in that order
// and serves; Close closes what
// Run opened, in reverse order, logging each close.
//
// Its exported fields are seams, set before Run: cmd/server sets
// AfterDrawLogged, tests the others. Its accessors report what Run
// opened; they are valid once Ready has been called.
type Main struct {
	cfg config.Server
	log *slog.Logger

	// Ready, when not nil, is called with the agencies' address once the
	// central listens.
	Ready func(net.Addr)
	// AfterDrawLogged, when not nil, runs between the sorteo line and the
	// first winners answered (see EventLog).
	AfterDrawLogged func()
	// WrapLedger, when not nil, stands between the domain and the store:
	// the central writes to WrapLedger(store). For tests of a ledger
	// that misbehaves; nil in a deployed central.
	WrapLedger func(lottery.Ledger) lottery.Ledger
	// WinnersHold, when not zero, is how long a winners query waits for
	// the draw (server.Settings.WinnersHold). For tests that cannot wait
	// the protocol's hold; zero in a deployed central.
	WinnersHold time.Duration
	// WaitingEvery, when not zero, is the least time between two Waiting
	// frames to a held query (server.Settings.WaitingEvery). For tests of
	// the pacing; zero in a deployed central.
	WaitingEvery time.Duration
	// FileLimit, when not nil, reports the process's file limit in place
	// of netguard.FileLimit. For tests of a limit too small; nil in a
	// deployed central.
	FileLimit func() (netguard.Files, error)
	// StorageFS, when not nil, is the file store's file system
	// (storage.Options.FS). For tests of a disk that hangs; nil in a
	// deployed central.
	StorageFS storage.FS
	// RevocationPoll, when not zero, is how often the central looks
	// whether SERVER_TLS_REVOKED's file changed, in place of
	// DefaultRevocationPoll. For tests that cannot wait seconds; zero in
	// a deployed central.
	RevocationPoll time.Duration

	ln        listeners // bound by Run before the store opens
	store     Store
	central   *lottery.Central
	srv       *server.Server
	addr      net.Addr             // the agencies' listener's
	metrics   *admin.Metrics       // the admin endpoint's, where SERVER_ADMIN_ADDRESS is set
	registry  *prometheus.Registry // the metrics'
	adminSrc  *adminSource         // the admin endpoint's view, where SERVER_ADMIN_ADDRESS is set
	admin     *http.Server         // the admin endpoint, once it serves
	pprof     *http.Server         // the profiling endpoint, where SERVER_PPROF_ADDRESS is set
	adminAddr string               // where the admin endpoint listens
	deadline  time.Time            // DRAW_DEADLINE's instant; zero where it is not set
	adminTok  []byte               // SERVER_ADMIN_TOKEN_FILE's token, where it is set

	revocation *mtls.Revocation // SERVER_TLS_REVOKED, where it is set
	reload     chan struct{}    // ReloadRevocation's requests

	stopping  atomic.Int64 // when the shutdown began (Unix ns), 0 before: see graceLeft
	abandoned []string     // what the shutdown gave up, told by Close
}

// NewMain returns a central for cfg that logs to log.
func NewMain(cfg config.Server, log *slog.Logger) *Main {
	return &Main{cfg: cfg, log: log, reload: make(chan struct{}, 1)}
}

// Run opens the central and serves agencies until ctx is done, or until
// serving fails. A shutdown through ctx returns ctx's error; the caller
// calls Close in any case. A shutdown gives the requests in flight
// SERVER_SHUTDOWN_GRACE; one that gives any up returns an error wrapping
// ErrShutdownAbandoned, and Close says what it gave up.
func (m *Main) Run(ctx context.Context) error {
	start := time.Now()    // DRAW_DEADLINE's duration counts from here
	tlsCfg, err := m.tls() // before anything opens: a bad setting fails at once
	if err != nil {
		return err
	}
	if err := m.checkDeadlineBeforeOpen(start); err != nil {
		return err
	}
	if err := m.checkFileLimit(); err != nil {
		return err
	}
	if err := m.readAdminToken(); err != nil {
		return err
	}
	// Every socket is bound before the store is created: a start that
	// cannot listen leaves nothing on disk.
	if err := m.listen(ctx); err != nil {
		return err
	}
	defer m.closeUnserved()
	// The metrics exist before the store, which reports its group
	// commits to them; they read the central once it exists.
	m.newAdmin()
	if err := m.openStore(); err != nil {
		return err
	}
	// A failed write stops the central (see watchLedger): serve until
	// ctx is done or the ledger fails, whichever comes first.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	context.AfterFunc(ctx, m.beginShutdown)
	defer m.beginShutdown() // where Run ends otherwise: Close is bounded all the same
	if err := m.openCentral(ctx, start); err != nil {
		return err
	}
	go watchLedger(ctx, m.central, stop)
	m.servePprof()
	m.srv = server.New(m.settings(tlsCfg), m.central, m.log)
	m.serveAdmin()
	defer m.watchRevocation(ctx)()
	if err := m.serve(ctx); err != nil {
		return m.abandon(err)
	}
	if err := context.Cause(ctx); errors.Is(err, ErrLedgerFailed) {
		return err
	}
	return ctx.Err()
}

// Close closes what Run opened, in reverse order: the admin endpoint and
// the profiling listener, then the store (Serve has closed the agencies'
// listener and connections before Run returns). It logs each close and
// returns what failed. A store that does not close within what is left of
// the shutdown's grace period is abandoned (see closeStore); where the
// shutdown abandoned anything, Close says what in one line and returns
// ErrShutdownAbandoned. Calling it again does nothing.
func (m *Main) Close() error {
	if m.adminSrc != nil {
		m.adminSrc.storeOpen.Store(false) // /readyz says so until the endpoint closes
	}
	err := errors.Join(m.closeAdmin(), m.closePprof(), m.closeStore())
	return errors.Join(err, m.tellAbandoned())
}

// Addr is the address the agencies' listener took: SERVER_IP and
// SERVER_PORT, with the port chosen where SERVER_PORT is 0.
func (m *Main) Addr() net.Addr { return m.addr }

// AdminAddr is the address the admin endpoint took; empty where
// SERVER_ADMIN_ADDRESS is not set.
func (m *Main) AdminAddr() string { return m.adminAddr }

// Central is the domain the central serves.
func (m *Main) Central() *lottery.Central { return m.central }

// Server is the agencies' server.
func (m *Main) Server() *server.Server { return m.srv }

// Store is the open store, for tests that read what it holds; nil once
// closed.
func (m *Main) Store() Store { return m.store }
