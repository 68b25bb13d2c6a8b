package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// ErrTLS marks a failure of mutual TLS that connecting again cannot fix:
// a certificate the agency cannot load, a central whose certificate is
// not the lottery's or not for its name, or expired, a central that
// refused the agency's certificate, or one that does not speak TLS.
var ErrTLS = errors.New("mutual TLS failed")

// handshake runs the TLS handshake on nc within the server timeout,
// checking that the central's certificate is for host (each replica's
// name, where server.address has several). A failure that retrying
// cannot fix is ErrTLS, saying what failed.
func (a *Agency) handshake(ctx context.Context, nc net.Conn, host string) (net.Conn, error) {
	cfg := a.tls
	if host != cfg.ServerName {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, a.cfg.ServerTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, tlsError(err)
	}
	return tc, nil
}

// tlsError says what a TLS failure means, marking ErrTLS those that
// retrying cannot fix; other errors (a reset, a timeout) stay retryable.
func tlsError(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w: the central's certificate is not signed by the lottery CA of tls.ca: %w", ErrTLS, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: the central's certificate is not for %s: %w", ErrTLS, hostname.Host, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("%w: the central's certificate has expired or is not yet valid: %w", ErrTLS, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: the central's certificate is not valid: %w", ErrTLS, err)
	case errors.As(err, &record):
		return fmt.Errorf("%w: the central does not speak TLS (is it configured with SERVER_TLS_CERT?): %w", ErrTLS, err)
	}
	if alert, ok := remoteAlert(err); ok {
		return fmt.Errorf("%w: %s (the central's alert: %s): contact the lottery's operator", ErrTLS, refusedFor(alert), strings.TrimPrefix(alert.Error(), "tls: "))
	}
	return fmt.Errorf("tls handshake: %w", err)
}

// The alerts with which a central refuses an agency's certificate
// (mtls.Server), by their numbers in the TLS registry. crypto/tls has no
// names for them: tls.AlertError(n) is the one exported type.
const (
	alertBadCertificate      tls.AlertError = 42
	alertCertificateExpired  tls.AlertError = 45
	alertUnknownCA           tls.AlertError = 48
	alertCertificateRequired tls.AlertError = 116
)

// refusedFor says, in words an agency's operator can act on, why the
// central refused its certificate, from the class its alert discloses: a
// central says no more (no serial, no name), so that an impostor learns
// nothing it did not know. A central older than the one that chooses
// these alerts answers bad_certificate whatever the cause.
func refusedFor(alert tls.AlertError) string {
	switch alert {
	case alertUnknownCA:
		return "the central refused this agency's certificate (tls.cert): it is not signed by this lottery's CA (another lottery's, or not the one the operator issued)"
	case alertCertificateExpired:
		return "the central refused this agency's certificate (tls.cert): it has expired, or is not valid yet (check this machine's clock)"
	case alertBadCertificate:
		return "the central refused this agency's certificate (tls.cert): it is revoked, or not an agency certificate of this lottery"
	case alertCertificateRequired:
		return "the central requires a certificate of this agency and got none (tls.cert)"
	}
	return "the central refused the TLS session"
}

// remoteAlert returns the TLS alert the central sent, where err is one: a
// refusal of the agency's certificate (in TLS 1.3 that alert comes after
// the agency's side of the handshake is complete: on its first read).
// crypto/tls reports a peer's alert as a *net.OpError whose Op is
// "remote error" and whose Err is an unexported alert type, written as
// tls.AlertError writes the same number.
func remoteAlert(err error) (tls.AlertError, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	for n := range 256 {
		if a := tls.AlertError(n); a.Error() == op.Err.Error() {
			return a, true
		}
	}
	return 0, false
}

// helloRefused says what an error in answer to the agency's Hello means
// where it is a refusal of the agency's certificate: a TLS alert (see
// remoteAlert), or forbidden, a certificate that is not agency id's (the
// central's message names the agency it is); others are returned as
// they are.
func helloRefused(err error, id int) error {
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == protocol.CodeForbidden {
		return fmt.Errorf("%w: the central refused agency %d's Hello: this agency's certificate (tls.cert) is not agency %d's (%w): check id and tls.cert, or contact the lottery's operator", ErrTLS, id, id, err)
	}
	if _, ok := remoteAlert(err); ok {
		return tlsError(err)
	}
	return err
}
