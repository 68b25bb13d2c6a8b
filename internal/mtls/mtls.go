// Package mtls builds the TLS configurations of mutual TLS between the
// central and its agencies: TLS 1.3 only, both ends authenticated by the
// lottery's CA, an agency identified by its certificate
// (certs.IdentityOf), never by what it says.
package mtls

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/certs"
)

// Server returns the central's configuration: its certificate and key,
// TLS 1.3, and a client certificate required and checked: by crypto/tls
// against the lottery CA of caFile (its chain, its use, client
// authentication, and its validity in time), then by VerifyConnection
// against the revocation list in force in revoked (optional: nil revokes
// nothing; see LoadRevocation) and for a quiniela identity.
//
// The chain is crypto/tls's to check so that the alert that refuses a
// certificate tells the agency the class of the refusal, and nothing
// more: unknown_ca (another CA's certificate), certificate_expired
// (expired or not valid yet), bad_certificate (revoked, or not an agency
// certificate of this lottery: whatever VerifyConnection refuses, which
// crypto/tls always answers bad_certificate), certificate_required (none).
// The central's log names the certificate of every refusal: see Refusal.
func Server(certFile, keyFile, caFile string, revoked *Revocation) (*tls.Config, error) {
	cert, roots, err := load(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPeer(cs, revoked)
		},
	}, nil
}

// verifyPeer checks a client certificate that crypto/tls has verified
// against the lottery CA: not revoked, and a quiniela identity. Each
// refusal names the certificate: whose it is and its serial.
func verifyPeer(cs tls.ConnectionState, revoked *Revocation) error {
	if len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return errors.New("no client certificate verified against the lottery CA")
	}
	leaf := cs.PeerCertificates[0]
	who := Describe(leaf)
	if revoked != nil && revoked.Revoked(leaf) {
		return fmt.Errorf("%s: revoked (SERVER_TLS_REVOKED)", who)
	}
	if _, err := certs.IdentityOf(leaf); err != nil {
		return fmt.Errorf("%s: %w", who, err)
	}
	return nil
}

// Refusal returns the error of a failed handshake of the central's with
// the refused certificate named, where crypto/tls refused it (its chain
// or its validity in time), as VerifyConnection's refusals name theirs:
// "agency 3's certificate (serial bf89...): x509: certificate has
// expired...". Other errors are returned as they are.
func Refusal(err error) error {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		return fmt.Errorf("%s: %w", Describe(cve.UnverifiedCertificates[0]), cve.Err)
	}
	return err
}

// Client returns the configuration of an agency, or of the probe: its
// certificate and key, the lottery CA of caFile as the only root, and the
// central's certificate verified for serverName.
func Client(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cert, roots, err := load(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		ServerName:   serverName,
	}, nil
}

// PeerIdentity returns the identity of a connection's client certificate,
// which VerifyConnection has checked.
func PeerIdentity(cs tls.ConnectionState) (certs.Identity, error) {
	if len(cs.PeerCertificates) == 0 {
		return certs.Identity{}, errors.New("no client certificate")
	}
	return certs.IdentityOf(cs.PeerCertificates[0])
}

// Describe names a certificate in a log line: its identity, or its
// subject when it has none, and its serial.
func Describe(c *x509.Certificate) string {
	id, err := certs.IdentityOf(c)
	switch {
	case err != nil:
		return fmt.Sprintf("certificate %q (serial %s, no quiniela identity)", c.Subject.CommonName, certs.SerialHex(c.SerialNumber))
	case id.Probe:
		return fmt.Sprintf("the probe's certificate (serial %s)", certs.SerialHex(c.SerialNumber))
	}
	return fmt.Sprintf("agency %d's certificate (serial %s)", id.Agency, certs.SerialHex(c.SerialNumber))
}

// LoadRevoked reads a revocation list in the text format: one serial
// number per line, in hexadecimal (an optional 0x and colons are ignored,
// case is not significant); blank lines and lines starting with # are
// skipped. LoadRevocation reads it too, and CRLs.
func LoadRevoked(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	return parseText(data, path)
}

// parseText reads a text list; name names its file in errors.
func parseText(data []byte, name string) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimLeft(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "0x"), ":", ""), "0")
		if s == "" || strings.Trim(s, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("revocation list %s line %d: %q is not a serial number in hexadecimal (nor a PEM or DER X.509 CRL)", name, line, sc.Text())
		}
		out[s] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", name, err)
	}
	return out, nil
}

// load reads one end's certificate and key, and the lottery CA it trusts.
func load(certFile, keyFile, caFile string) (tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	roots, err := loadPool(caFile)
	return cert, roots, err
}

func loadPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("lottery CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("lottery CA %s: no PEM certificate in it", caFile)
	}
	return pool, nil
}
