package app

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/netguard"
	"github.com/loteria-nacional/quiniela/internal/server"
)

// tls loads the central's mutual TLS, or says once that agencies are not
// authenticated: plaintext is possible, and visible.
func (m *Main) tls() (*tls.Config, error) {
	if !m.cfg.TLS() {
		m.log.Warn("tls", logging.Success, "mode", "plaintext", "nota", "agencies are not authenticated: set SERVER_TLS_CERT, SERVER_TLS_KEY and SERVER_TLS_CLIENT_CA for mutual TLS")
		return nil, nil
	}
	if err := m.loadRevocation(); err != nil {
		return nil, fmt.Errorf("SERVER_TLS_REVOKED: %w", err)
	}
	cfg, err := mtls.Server(m.cfg.TLSCert, m.cfg.TLSKey, m.cfg.TLSClientCA, m.revocation)
	if err != nil {
		return nil, fmt.Errorf("SERVER_TLS_*: %w", err)
	}
	attrs := []any{logging.Success, "mode", "mutual", "cert", m.cfg.TLSCert, "client_ca", m.cfg.TLSClientCA, "revoked", m.cfg.TLSRevoked}
	if l := m.revocation.List(); l != nil {
		attrs = append(attrs, "revoked_format", l.Format, "revoked_count", len(l.Serials))
	}
	m.log.Info("tls", attrs...)
	return cfg, nil
}

// settings are the server's settings: the configuration's (with
// DRAW_DEADLINE's instant, which openCentral set), TLS, the admin
// endpoint's metrics where there are any, and Main's WinnersHold and
// WaitingEvery.
func (m *Main) settings(tlsCfg *tls.Config) server.Settings {
	s := server.Settings{
		TLS:            tlsCfg,
		PeerTimeout:    m.cfg.ReadTimeout,
		HelloTimeout:   m.cfg.HelloTimeout,
		MaxConnections: m.cfg.MaxConnections,
		Refusals:       netguard.Budget{Rate: float64(m.cfg.RefusalRate), Burst: m.cfg.RefusalBurst},
		WinnersHold:    m.WinnersHold,
		WaitingEvery:   m.WaitingEvery,
		ShutdownGrace:  m.cfg.ShutdownGrace,
		DrawDeadline:   m.deadline,
	}
	if m.metrics != nil {
		s.Observer = m.metrics
	}
	if m.revocation != nil {
		s.Revoked = m.revocation.Revoked
	}
	return s
}

// serve accepts agencies on the listener bound at SERVER_IP:SERVER_PORT,
// calls Ready, and serves them until ctx is done; Serve closes the
// listener and every connection before it returns.
func (m *Main) serve(ctx context.Context) error {
	ln := m.ln.agencies
	m.ln.agencies = nil // Serve owns it now
	m.addr = ln.Addr()
	m.log.Info("accept_connections", logging.InProgress, "address", m.addr.String())
	m.adminSrc.setListening(true) // before Ready: /readyz says ready by then
	if m.Ready != nil {
		m.Ready(m.addr)
	}
	err := m.srv.Serve(ctx, ln)
	m.adminSrc.setListening(false) // Serve closed the listener
	return err
}
