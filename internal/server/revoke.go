package server

import (
	"crypto/x509"
	"fmt"
	"strconv"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

// admit records the certificate of c's completed handshake, unless
// Settings.Revoked revokes it. Both happen under s.mu, as CloseRevoked's
// look does: a certificate revoked while its handshake ran is either seen
// by CloseRevoked or refused here.
func (s *Server) admit(c *conn, cert *x509.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settings.Revoked != nil && s.settings.Revoked(cert) {
		return fmt.Errorf("%s: revoked (SERVER_TLS_REVOKED)", mtls.Describe(cert))
	}
	c.cert = cert
	return nil
}

// CloseRevoked closes every open connection whose client certificate
// Settings.Revoked revokes, a session or not, once a new revocation list
// is in force; each is told why (protocol.CodeForbidden) and logged in one
// line. It returns how many it closed.
func (s *Server) CloseRevoked() int {
	if s.settings.Revoked == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	closed := 0
	for c := range s.conns {
		if c.cert == nil || !s.settings.Revoked(c.cert) || c.ctx.Err() != nil {
			continue
		}
		c.cancel(errRevoked)
		closed++
		s.log.Warn("revocation", logging.Success, "peer", c.peer, "agencia", strconv.Itoa(c.agency),
			"cert", mtls.Describe(c.cert), "nota", "its open connection is closed")
	}
	return closed
}
