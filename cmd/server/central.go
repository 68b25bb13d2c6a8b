package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only where SERVER_PPROF_ADDRESS is set
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/server"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// pprofShutdownTimeout bounds the wait for profiles being served at exit.
const pprofShutdownTimeout = time.Second

// The draw waits, after its sorteo line and before answering any agency,
// until the reader of the central's stdout (Docker's log driver, where it
// is a pipe) has taken the line, then drawLogSettle more for the engine to
// stamp it, at most drawLogLimit in all: the merged log of compose then
// shows the draw before any agency's winners. A terminal or a file needs
// no wait (see logging.AfterWrite).
const (
	drawLogSettle = 10 * time.Millisecond
	drawLogLimit  = time.Second
)

// Main is the whole central, wired: the store, the domain over it, the
// agencies' listener and, where asked for, the profiling listener. Run
// opens them in that order and serves; Close closes what Run opened, in
// reverse order, logging each close.
type Main struct {
	cfg config.Server
	log *slog.Logger

	// Ready, when not nil, is called with the agencies' address once the
	// central listens.
	Ready func(net.Addr)
	// AfterDrawLogged, when not nil, runs between the sorteo line and the
	// first winners answered (see server.EventLog).
	AfterDrawLogged func()

	store     *storage.Store
	pprof     *http.Server
	admin     *http.Server // the admin endpoint, where SERVER_ADMIN_ADDRESS is set
	adminAddr string
	adminSrc  *adminSource
}

// NewMain returns a central for cfg that logs to log.
func NewMain(cfg config.Server, log *slog.Logger) *Main {
	return &Main{cfg: cfg, log: log}
}

// Run opens the central and serves agencies until ctx is done, or until
// serving fails. A shutdown through ctx returns ctx's error; the caller
// calls Close in any case.
func (m *Main) Run(ctx context.Context) error {
	start := time.Now()    // DRAW_DEADLINE's duration counts from here
	tlsCfg, err := m.tls() // before anything opens: a bad setting fails at once
	if err != nil {
		return err
	}
	// The metrics exist before the store, which reports its group
	// commits to them; they read the central once it exists.
	var metrics *admin.Metrics
	var reg *prometheus.Registry
	var src *adminSource
	opts := storage.Options{Logger: m.log}
	if m.cfg.AdminAddress != "" {
		src, reg, metrics = newAdmin()
		opts.Observer = metrics
	}
	store, err := storage.Open(m.cfg.StoragePath, opts)
	if err != nil {
		return err
	}
	m.store = store
	// A failed write stops the central (see watchLedger): serve until
	// ctx is done or the ledger fails, whichever comes first.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	events := server.EventLog{Log: m.log, AfterDrawLogged: m.AfterDrawLogged}
	central, err := lottery.NewCentral(ctx, store, m.cfg.Agencies, events)
	if err != nil {
		if errors.Is(err, lottery.ErrInconsistent) {
			return fmt.Errorf("AGENCIES_AMOUNT=%d: %w", m.cfg.Agencies, err)
		}
		return err
	}
	go watchLedger(ctx, central, stop)
	if at, ok := m.cfg.Deadline(start); ok {
		// Before the listener: a deadline already past holds the draw
		// now, and no agency is answered before it.
		m.log.Info("cierre_apuestas", logging.InProgress, "draw_deadline", at.Format(time.RFC3339), "drawn", central.Drawn())
		central.CloseSalesAt(at)
	}
	if central.Agencies() != m.cfg.Agencies {
		// The draw was recorded: it is final, whatever the setting says.
		m.log.Warn("sorteo_registrado", logging.Success, "agencias", central.Agencies(),
			"agencies_amount", m.cfg.Agencies, "nota", "the recorded draw covers its agencies; AGENCIES_AMOUNT is ignored")
	}
	if m.cfg.PprofAddress != "" {
		if err := m.servePprof(); err != nil {
			return err
		}
	}
	settings := server.Settings{
		TLS:            tlsCfg,
		PeerTimeout:    m.cfg.ReadTimeout,
		HelloTimeout:   m.cfg.HelloTimeout,
		MaxConnections: m.cfg.MaxConnections,
	}
	if src != nil {
		settings.Observer = metrics
	}
	srv := server.New(settings, central, m.log)
	if src != nil {
		src.central = central
		src.srv.Store(srv)
		src.storeOpen.Store(true)
		m.adminSrc = src
		if err := m.serveAdmin(src, reg); err != nil {
			return err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.cfg.Address())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.log.Info("accept_connections", logging.InProgress, "address", ln.Addr().String())
	if m.Ready != nil {
		m.Ready(ln.Addr())
	}
	if src != nil {
		src.listening.Store(true)
	}
	err = srv.Serve(ctx, ln)
	if src != nil {
		src.listening.Store(false) // Serve closed the listener
	}
	if err != nil {
		return err
	}
	if err := context.Cause(ctx); errors.Is(err, ErrLedgerFailed) {
		return err
	}
	return ctx.Err()
}

// ErrLedgerFailed is returned by Run when a write of the ledger failed.
// The storage logged the failure (file, operation, error) where it
// happened; the caller exits non-zero without saying it again.
var ErrLedgerFailed = errors.New("ledger failed")

// watchLedger stops the central once its ledger fails. After a failed
// write or fsync the page cache cannot be trusted, so the central does
// not go on serving refusals: it closes in order and exits non-zero, its
// supervisor starts it again, and recovery decides what is durable.
func watchLedger(ctx context.Context, central *lottery.Central, stop context.CancelCauseFunc) {
	select {
	case <-central.Failed():
		stop(fmt.Errorf("%w: %w", ErrLedgerFailed, central.Err()))
	case <-ctx.Done():
	}
}

// tls loads the central's mutual TLS, or says once that agencies are not
// authenticated: plaintext is possible, and visible.
func (m *Main) tls() (*tls.Config, error) {
	if !m.cfg.TLS() {
		m.log.Warn("tls", logging.Success, "mode", "plaintext", "nota", "agencies are not authenticated: set SERVER_TLS_CERT, SERVER_TLS_KEY and SERVER_TLS_CLIENT_CA for mutual TLS")
		return nil, nil
	}
	cfg, err := mtls.Server(m.cfg.TLSCert, m.cfg.TLSKey, m.cfg.TLSClientCA, m.cfg.TLSRevoked)
	if err != nil {
		return nil, fmt.Errorf("SERVER_TLS_*: %w", err)
	}
	m.log.Info("tls", logging.Success, "mode", "mutual", "cert", m.cfg.TLSCert, "client_ca", m.cfg.TLSClientCA, "revoked", m.cfg.TLSRevoked)
	return cfg, nil
}

// servePprof serves net/http/pprof on its own listener. For profiling
// only: never on a deployed central's network.
func (m *Main) servePprof() error {
	ln, err := net.Listen("tcp", m.cfg.PprofAddress)
	if err != nil {
		return fmt.Errorf("pprof listen: %w", err)
	}
	m.pprof = &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.pprof.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("pprof", logging.Fail, "address", ln.Addr().String(), "error", err)
		}
	}()
	return nil
}

// Close closes what Run opened, in reverse order: the admin endpoint and
// the profiling listener, then the store (Serve has closed the agencies' listener and connections
// before it returns). Calling it again does nothing.
func (m *Main) Close() {
	if m.adminSrc != nil {
		m.adminSrc.storeOpen.Store(false) // /readyz says so until the endpoint closes
	}
	m.closeAdmin()
	if m.pprof != nil {
		ctx, cancel := context.WithTimeout(context.Background(), pprofShutdownTimeout)
		defer cancel()
		if err := m.pprof.Shutdown(ctx); err != nil {
			m.log.Error("close", logging.Fail, "resource", "pprof", "error", err)
		} else {
			m.log.Info("close", logging.Success, "resource", "pprof", "address", m.cfg.PprofAddress)
		}
		m.pprof = nil
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			m.log.Error("close", logging.Fail, "resource", "storage", "error", err)
		} else {
			m.log.Info("close", logging.Success, "resource", "storage", "file", m.cfg.StoragePath)
		}
		m.store = nil
	}
}
