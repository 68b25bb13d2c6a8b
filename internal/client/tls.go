package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
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
	case isRemoteAlert(err):
		return fmt.Errorf("%w: the central refused the agency's certificate: %w", ErrTLS, err)
	}
	return fmt.Errorf("tls handshake: %w", err)
}

// isRemoteAlert reports whether err is a TLS alert the central sent (it
// refused the agency's certificate). In TLS 1.3 that alert comes after
// the agency's side of the handshake is complete: on its first read.
// crypto/tls reports a peer's alert as a *net.OpError whose Op is
// "remote error" (tls.AlertError is for QUIC only).
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
