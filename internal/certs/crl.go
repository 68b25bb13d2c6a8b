package certs

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"time"
)

// CRLFile is the lottery's certificate revocation list in the directory
// Make writes: an X.509 CRL in PEM ("X509 CRL"), signed by the CA, mode
// 0644. SERVER_TLS_REVOKED may name it.
const CRLFile = "crl.pem"

// CRLValidity is how long after its making a CRL says its successor is
// due (its NextUpdate). Nothing publishes CRLs on a schedule here: it is
// as long as an agency's certificate lives, and a central given a CRL past
// it warns and uses it all the same.
const CRLValidity = AgencyValidity

// RevokeReport is what Revoke did.
type RevokeReport struct {
	Path       string    // the CRL written
	Number     *big.Int  // its cRLNumber: the previous one's plus one
	NextUpdate time.Time // its NextUpdate
	Revoked    []Revoked // the agencies asked for, in order
	Total      int       // the certificates the CRL revokes, these included
}

// Revoked is one agency's certificate that Revoke revoked.
type Revoked struct {
	Identity Identity
	Serial   string // SerialHex
	Already  bool   // the previous CRL revoked it already
}

// Revoke revokes the certificates of agencies (their agency-N.crt in
// dir, which must be the CA's and say who they are) in dir's CRL: it
// reads crl.pem where it is there (it must be the CA's), keeps what it
// revokes, adds the agencies' serials, and writes it again signed by
// ca.key, its number one more, atomically. now zero is time.Now().
func Revoke(dir string, agencies []int, now time.Time) (RevokeReport, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if len(agencies) == 0 {
		return RevokeReport{}, errors.New("no agency to revoke")
	}
	m := maker{dir: dir, now: now}
	ca, caKey, err := m.load(pair{role: RoleCA, holder: "ca", cert: CACert, key: CAKey})
	if err != nil {
		return RevokeReport{}, err
	}
	r := RevokeReport{Path: m.path(CRLFile)}
	prev, err := readCRL(r.Path, ca)
	if err != nil {
		return r, err
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(CRLValidity)}
	have := map[string]bool{}
	if prev != nil {
		tmpl.Number = new(big.Int).Add(prev.Number, big.NewInt(1))
		tmpl.RevokedCertificateEntries = prev.RevokedCertificateEntries
		for _, e := range prev.RevokedCertificateEntries {
			have[SerialHex(e.SerialNumber)] = true
		}
	}
	for _, n := range agencies {
		cert, err := m.agencyCert(ca, n)
		if err != nil {
			return r, err
		}
		serial := SerialHex(cert.SerialNumber)
		r.Revoked = append(r.Revoked, Revoked{Identity: Identity{Agency: n}, Serial: serial, Already: have[serial]})
		if !have[serial] {
			have[serial] = true
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
				x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: now})
		}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca, caKey)
	if err != nil {
		return r, fmt.Errorf("%s: %w", r.Path, err)
	}
	if err := writeFile(dir, CRLFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), certMode, true); err != nil {
		return r, err
	}
	r.Number, r.NextUpdate, r.Total = tmpl.Number, tmpl.NextUpdate, len(have)
	return r, nil
}

// readCRL reads the CRL at path, which ca must have signed; nil where
// there is none.
func readCRL(path string, ca *x509.Certificate) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	der, err := pemBlock(data, "X509 CRL")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("%s is not signed by the CA of this directory: %v", path, err)
	}
	if crl.Number == nil {
		crl.Number = new(big.Int)
	}
	return crl, nil
}

// agencyCert reads agency n's certificate, checking it is the CA's and
// agency n's.
func (m *maker) agencyCert(ca *x509.Certificate, n int) (*x509.Certificate, error) {
	if n < 1 || n > maxAgency {
		return nil, fmt.Errorf("agency %d outside 1..%d", n, maxAgency)
	}
	path := m.path(AgencyCert(n))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	der, err := pemBlock(data, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	m.ca = ca
	if err := m.checkLeaf(pair{role: RoleAgency, cert: AgencyCert(n), identity: Identity{Agency: n}}, cert); err != nil {
		return nil, err
	}
	return cert, nil
}
