package app

import (
	"context"
	"errors"
	"net/http"
	_ "net/http/pprof" // served only where SERVER_PPROF_ADDRESS is set
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// pprofShutdownTimeout bounds the wait for profiles being served at exit.
const pprofShutdownTimeout = time.Second

// adminShutdownTimeout bounds the wait for admin requests being served at
// exit.
const adminShutdownTimeout = time.Second

// newAdmin makes, where SERVER_ADMIN_ADDRESS is set, the admin
// endpoint's source, not ready until it has a central, and its metrics in
// a registry of their own.
func (m *Main) newAdmin() {
	if m.cfg.AdminAddress == "" {
		return
	}
	m.registry = prometheus.NewRegistry()
	m.adminSrc = newAdminSource(m.cfg, m.log)
	m.metrics = admin.NewMetrics(m.registry, m.adminSrc, refusalReasons())
	m.adminSrc.metrics = m.metrics
}

// readAdminToken reads SERVER_ADMIN_TOKEN_FILE's token, where it is set,
// before anything opens: a file that others may read, or no token in it,
// stops the start.
func (m *Main) readAdminToken() error {
	if m.cfg.AdminTokenFile == "" {
		return nil
	}
	tok, err := admin.ReadTokenFile(m.cfg.AdminTokenFile)
	if err != nil {
		return &config.KeyError{Key: "SERVER_ADMIN_TOKEN_FILE", Value: m.cfg.AdminTokenFile, Err: err}
	}
	m.adminTok = tok
	return nil
}

// serveAdmin serves the admin endpoint on its own listener, where
// SERVER_ADMIN_ADDRESS is set, once the central and the server exist.
func (m *Main) serveAdmin() {
	src := m.adminSrc
	if src == nil {
		return
	}
	src.central = m.central
	m.metrics.Agencies(m.central.Agencies())
	src.storage.Watch(m.store)
	src.srv.Store(m.srv)
	src.storeOpen.Store(true)
	ln := m.ln.admin
	m.ln.admin = nil // the admin server owns it now
	m.adminAddr = ln.Addr().String()
	lim := admin.DefaultLimits()
	lim.IdleTimeout = m.cfg.AdminIdleTimeout
	var h http.Handler = admin.New(src, m.registry)
	auth := "none"
	if m.adminTok != nil {
		h, auth = admin.RequireToken(h, m.adminTok), "token"
	}
	m.admin = admin.NewServer(h, lim)
	m.log.Info("admin", logging.InProgress, "address", m.adminAddr, "auth", auth)
	go func() {
		if err := m.admin.Serve(lim.Listener(ln, m.log)); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("admin", logging.Fail, "address", m.adminAddr, "error", err)
		}
	}()
}

// closeAdmin shuts the admin endpoint down, logging it.
func (m *Main) closeAdmin() error {
	if m.admin == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	err := m.admin.Shutdown(ctx)
	if err != nil {
		m.log.Error("close", logging.Fail, "resource", "admin", "address", m.adminAddr, "error", err)
	} else {
		m.log.Info("close", logging.Success, "resource", "admin", "address", m.adminAddr)
	}
	m.admin = nil
	return err
}

// servePprof serves net/http/pprof on its own listener, where
// SERVER_PPROF_ADDRESS is set. For profiling only: never on a deployed
// central's network.
func (m *Main) servePprof() {
	if m.cfg.PprofAddress == "" {
		return
	}
	ln := m.ln.pprof
	m.ln.pprof = nil // the profiling server owns it now
	m.pprof = &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.pprof.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("pprof", logging.Fail, "address", ln.Addr().String(), "error", err)
		}
	}()
}

// closePprof shuts the profiling endpoint down, logging it.
func (m *Main) closePprof() error {
	if m.pprof == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pprofShutdownTimeout)
	defer cancel()
	err := m.pprof.Shutdown(ctx)
	if err != nil {
		m.log.Error("close", logging.Fail, "resource", "pprof", "error", err)
	} else {
		m.log.Info("close", logging.Success, "resource", "pprof", "address", m.cfg.PprofAddress)
	}
	m.pprof = nil
	return err
}
