package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maker is one run of Make.
type maker struct {
	dir    string
	now    time.Time
	force  bool
	names  []string
	report *Report
	ca     *x509.Certificate
	caKey  crypto.Signer
}

// path is name's path in the directory Make writes.
func (m *maker) path(name string) string { return filepath.Join(m.dir, name) }

// state reports which of p's two files exist; a half pair is an error
// naming the file that is there.
func (m *maker) state(p pair) (exists bool, err error) {
	certThere, err := m.exists(p.cert)
	if err != nil {
		return false, err
	}
	keyThere, err := m.exists(p.key)
	if err != nil {
		return false, err
	}
	switch {
	case certThere && !keyThere:
		return false, fmt.Errorf("%s exists without its key %s: restore the key, or delete %s to issue both anew", m.path(p.cert), m.path(p.key), m.path(p.cert))
	case keyThere && !certThere:
		return false, fmt.Errorf("%s exists without its certificate %s: restore the certificate, or delete %s to issue both anew", m.path(p.key), m.path(p.cert), m.path(p.key))
	}
	return certThere, nil
}

// exists reports whether the directory holds a file (or anything else)
// called name.
func (m *maker) exists(name string) (bool, error) {
	_, err := os.Lstat(m.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// loadOrMakeCA loads the CA p names, checking it is one, or makes it when
// neither of its files is there. It never replaces a CA.
func (m *maker) loadOrMakeCA(p pair) error {
	exists, err := m.state(p)
	if err != nil {
		return fmt.Errorf("%w; %s", err, newCAHint)
	}
	if exists {
		cert, key, err := m.load(p)
		if err != nil {
			return fmt.Errorf("%w; %s", err, newCAHint)
		}
		if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
			return fmt.Errorf("%s is not a CA certificate; %s", m.path(p.cert), newCAHint)
		}
		if !m.now.Before(cert.NotAfter) {
			return fmt.Errorf("%s expired on %s; %s", m.path(p.cert), cert.NotAfter.UTC().Format(time.DateOnly), newCAHint)
		}
		m.ca, m.caKey = cert, key
		m.kept(p, cert)
		return nil
	}
	key, serial, err := newKey()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Lotería Nacional quiniela CA", Organization: []string{"Lotería Nacional"}},
		NotBefore:             m.now.Add(-ClockSkew),
		NotAfter:              m.now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := m.write(p, cert, key, false); err != nil {
		return err
	}
	m.ca, m.caKey = cert, key
	return nil
}

// leaf keeps p's certificate where it is there and good, and issues it
// (again, with Force) otherwise.
func (m *maker) leaf(p pair) error {
	exists, err := m.state(p)
	if err != nil {
		return err
	}
	if exists && !m.force {
		cert, _, err := m.load(p)
		if err != nil {
			return err
		}
		if err := m.checkLeaf(p, cert); err != nil {
			return err
		}
		m.kept(p, cert)
		return nil
	}
	key, serial, err := newKey()
	if err != nil {
		return err
	}
	notAfter := m.now.Add(p.validity())
	if notAfter.After(m.ca.NotAfter) {
		notAfter = m.ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: p.holder, Organization: []string{"Lotería Nacional"}},
		NotBefore:             m.now.Add(-ClockSkew),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if p.role == RoleCentral {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, name := range m.names {
			if ip := net.ParseIP(name); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, name)
			}
		}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		u, err := url.Parse(p.identity.URI())
		if err != nil {
			return err
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.ca, key.Public(), m.caKey)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	return m.write(p, cert, key, exists)
}

// checkLeaf checks a certificate that is kept: signed by the CA, and
// naming who its file says (the central: every name asked for).
func (m *maker) checkLeaf(p pair, cert *x509.Certificate) error {
	if err := cert.CheckSignatureFrom(m.ca); err != nil {
		return fmt.Errorf("%s is not signed by %s: %v", m.path(p.cert), m.path(CACert), err)
	}
	if p.role == RoleCentral {
		var missing []string
		for _, name := range m.names {
			if !certNames(cert, name) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s does not name %s: -force issues it again with every name", m.path(p.cert), strings.Join(missing, ", "))
		}
		return nil
	}
	id, err := IdentityOf(cert)
	if err != nil {
		return fmt.Errorf("%s: %v", m.path(p.cert), err)
	}
	if id != p.identity {
		return fmt.Errorf("%s is %s's certificate (%s), not %s's", m.path(p.cert), id, id.URI(), p.identity)
	}
	return nil
}

// certNames reports whether cert carries name (normalized as centralNames
// does) as a DNS or IP SAN.
func certNames(cert *x509.Certificate, name string) bool {
	if ip := net.ParseIP(name); ip != nil {
		return slices.ContainsFunc(cert.IPAddresses, ip.Equal)
	}
	return slices.ContainsFunc(cert.DNSNames, func(dns string) bool { return strings.EqualFold(dns, name) })
}

// load reads p's certificate and key and checks that they belong
// together.
func (m *maker) load(p pair) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(m.path(p.cert))
	if err != nil {
		return nil, nil, err
	}
	der, err := pemBlock(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", m.path(p.cert), err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", m.path(p.cert), err)
	}
	keyPEM, err := readPrivateKey(m.path(p.key))
	if err != nil {
		return nil, nil, err
	}
	der, err = pemBlock(keyPEM, "PRIVATE KEY")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", m.path(p.key), err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// The parser's error says nothing of the key's bytes.
		return nil, nil, fmt.Errorf("%s: %v", m.path(p.key), err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: a %T cannot sign", m.path(p.key), parsed)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, nil, fmt.Errorf("%s is not the key of %s (-force issues both anew, except the CA's)", m.path(p.key), m.path(p.cert))
	}
	return cert, key, nil
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// kept records p's files in the report as kept, not made.
func (m *maker) kept(p pair, cert *x509.Certificate) {
	m.record(p, cert, false)
}

// record adds p's certificate and key files to the report, in that order.
func (m *maker) record(p pair, cert *x509.Certificate, made bool) {
	for _, name := range []string{p.cert, p.key} {
		m.report.Files = append(m.report.Files, File{
			Name: name, Made: made, Role: p.role, Holder: p.holder, Identity: p.identity,
			Serial: SerialHex(cert.SerialNumber), NotAfter: cert.NotAfter,
		})
	}
}

// newKey returns a new certificate's key (ECDSA P-256) and serial.
func newKey() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	return key, serial, err
}

// newSerial is a random 128-bit serial number, never zero.
func newSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}
