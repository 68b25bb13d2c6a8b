// Package certs makes the lottery's certificates for mutual TLS, and
// reads who a client certificate speaks for (IdentityOf).
//
// Make writes, into one directory:
//
//	ca.crt, ca.key            the lottery's CA; its key signs every other
//	                          certificate and never leaves the directory
//	central.crt, central.key  the central: ServerAuth, DNS and IP SANs of
//	                          the names it is reached by
//	agency-N.crt, .key        agency N: ClientAuth, one URI SAN
//	                          urn:quiniela:agency:N, common name agency-N
//	probe.crt, probe.key      the operator's probe: ClientAuth, one URI SAN
//	                          urn:quiniela:probe, common name probe
//
// Keys are ECDSA P-256 in PKCS#8 PEM ("PRIVATE KEY"), mode 0600;
// certificates are PEM ("CERTIFICATE"), mode 0644; a directory Make
// creates is 0700. Every file is written atomically, and an existing key is
// never replaced unless Options.Force asks for it; the CA is never
// replaced. The package imports only the standard library.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validity of each certificate, counted from the moment it is made. The CA
// lives as long as the lottery; the others are renewed with Options.Force
// (a leaf never outlives the CA: its NotAfter is cut to the CA's).
const (
	CAValidity      = 10 * 365 * 24 * time.Hour // 10 years
	CentralValidity = 365 * 24 * time.Hour      // 1 year
	AgencyValidity  = 365 * 24 * time.Hour      // 1 year
	ProbeValidity   = 365 * 24 * time.Hour      // 1 year
)

// ClockSkew is how far before its making a certificate is already valid
// (NotBefore), so that a peer whose clock is a little behind accepts it.
const ClockSkew = time.Hour

// DefaultNames are the names the central's certificate always carries:
// the compose service name, and the loopback by name and by address.
var DefaultNames = []string{"server", "localhost", "127.0.0.1"}

// File names in the directory.
const (
	CACert      = "ca.crt"
	CAKey       = "ca.key"
	CentralCert = "central.crt"
	CentralKey  = "central.key"
	ProbeCert   = "probe.crt"
	ProbeKey    = "probe.key"
)

// AgencyCert is agency n's certificate file name, agency-N.crt.
func AgencyCert(n int) string { return "agency-" + strconv.Itoa(n) + ".crt" }

// AgencyKey is agency n's key file name, agency-N.key.
func AgencyKey(n int) string { return "agency-" + strconv.Itoa(n) + ".key" }

const (
	keyMode  = 0o600
	certMode = 0o644
	dirMode  = 0o700
)

// Options says what Make makes.
type Options struct {
	Dir      string    // the directory; created 0700 when missing
	Agencies int       // agencies 1..Agencies get a certificate; 0..65535
	Names    []string  // the central's names beyond DefaultNames: host names or IP addresses
	Force    bool      // re-issue the central, agency and probe certificates, with new keys; never the CA
	Now      time.Time // the time certificates are made at; zero is time.Now()
}

// Check reports the first option that is wrong: an empty Dir, Agencies
// outside 0..65535, a name that is neither an IP address nor a host name.
func (o Options) Check() error {
	if o.Dir == "" {
		return errors.New("no directory")
	}
	if o.Agencies < 0 || o.Agencies > maxAgency {
		return fmt.Errorf("agencies %d outside 0..%d", o.Agencies, maxAgency)
	}
	for _, name := range o.Names {
		if err := CheckName(name); err != nil {
			return err
		}
	}
	return nil
}

// CheckName reports whether name may be one of the central's names: an IP
// address (an IP SAN) or a host name (a DNS SAN): labels of letters,
// digits, hyphens and underscores (as SERVER_IP allows), separated by dots.
func CheckName(name string) error {
	if _, err := netip.ParseAddr(name); err == nil {
		if strings.Contains(name, "%") {
			return fmt.Errorf("name %q: an IP address with a zone cannot be a certificate's name", name)
		}
		return nil
	}
	if name == "" || len(name) > 253 {
		return fmt.Errorf("name %q: want an IP address or a host name", name)
	}
	bad := fmt.Errorf("name %q: want an IP address or a host name", name)
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return bad
			}
		}
	}
	// A last label of digits alone is a mistyped address (10.0.0), not a
	// host name.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return bad
	}
	return nil
}

// Role is what a certificate is for.
type Role string

// The roles of the certificates Make writes.
const (
	RoleCA      Role = "ca"
	RoleCentral Role = "central"
	RoleAgency  Role = "agency"
	RoleProbe   Role = "probe"
)

// Report is what Make did, file by file, in the order of the files:
// the CA, the central, agencies 1..N, the probe; each certificate before
// its key.
type Report struct {
	Dir   string
	Files []File
}

// File is one file Make made or kept. A key's File carries its
// certificate's serial and holder.
type File struct {
	Name     string    // the file's name in the directory, e.g. agency-3.crt
	Made     bool      // written by this Make; false: it was there and is kept
	Role     Role      // what the certificate is for
	Holder   string    // whom it is for: ca, central, agency-N, probe (a leaf's common name)
	Identity Identity  // the agency or probe (RoleAgency, RoleProbe); zero otherwise
	Serial   string    // the certificate's serial number, SerialHex: what the revocation list names
	NotAfter time.Time // when the certificate expires
}

// pair is one certificate and its key, as Make plans them.
type pair struct {
	role     Role
	holder   string
	identity Identity
	cert     string // file names in the directory
	key      string
}

func (p pair) validity() time.Duration {
	switch p.role {
	case RoleCA:
		return CAValidity
	case RoleCentral:
		return CentralValidity
	case RoleAgency:
		return AgencyValidity
	default:
		return ProbeValidity
	}
}

// newCAHint is what an error about the CA tells the operator.
const newCAHint = "Make never replaces the CA (not with -force either): a new CA is a new lottery; " +
	"to make one, delete ca.crt and ca.key by hand, then every certificate is issued anew"

// Make writes the certificates opts asks for into opts.Dir: the CA where
// it is missing (else it loads ca.crt and ca.key and signs with them), the
// central's certificate, agencies 1..opts.Agencies and the probe, each
// where missing. Files already there are kept (and checked: the key is the
// certificate's, the certificate is the CA's and names who its file name
// says), so that adding agency 6 is Make with Agencies 6 on the same
// directory. opts.Force issues the central, agency and probe certificates
// again, with new keys, but never the CA. A certificate without its key,
// or a key without its certificate, is an error naming the file; so is a
// central certificate that lacks a name asked for (Force re-issues it).
//
// On an error, the files written before it stay and are valid: Make again
// goes on from there.
func Make(opts Options) (Report, error) {
	if err := opts.Check(); err != nil {
		return Report{}, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	names := centralNames(opts.Names)
	r := Report{Dir: opts.Dir}
	if err := os.MkdirAll(opts.Dir, dirMode); err != nil {
		return r, err
	}
	m := maker{dir: opts.Dir, now: now, force: opts.Force, names: names, report: &r}

	caPair := pair{role: RoleCA, holder: "ca", cert: CACert, key: CAKey}
	if err := m.loadOrMakeCA(caPair); err != nil {
		return r, err
	}
	pairs := []pair{{role: RoleCentral, holder: "central", cert: CentralCert, key: CentralKey}}
	for n := 1; n <= opts.Agencies; n++ {
		id := Identity{Agency: n}
		pairs = append(pairs, pair{role: RoleAgency, holder: id.String(), identity: id, cert: AgencyCert(n), key: AgencyKey(n)})
	}
	probe := Identity{Probe: true}
	pairs = append(pairs, pair{role: RoleProbe, holder: probe.String(), identity: probe, cert: ProbeCert, key: ProbeKey})
	for _, p := range pairs {
		if err := m.leaf(p); err != nil {
			return r, err
		}
	}
	return r, nil
}

// centralNames is DefaultNames and then extra, each once: host names in
// lower case, IP addresses in their canonical form.
func centralNames(extra []string) []string {
	var names []string
	for _, name := range slices.Concat(DefaultNames, extra) {
		if ip, err := netip.ParseAddr(name); err == nil {
			name = ip.Unmap().String()
		} else {
			name = strings.ToLower(name)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

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

func (m *maker) exists(name string) (bool, error) {
	_, err := os.Lstat(m.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

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
	keyPEM, err := os.ReadFile(m.path(p.key))
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

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func (m *maker) kept(p pair, cert *x509.Certificate) {
	m.record(p, cert, false)
}

func (m *maker) record(p pair, cert *x509.Certificate, made bool) {
	for _, name := range []string{p.cert, p.key} {
		m.report.Files = append(m.report.Files, File{
			Name: name, Made: made, Role: p.role, Holder: p.holder, Identity: p.identity,
			Serial: SerialHex(cert.SerialNumber), NotAfter: cert.NotAfter,
		})
	}
}

// write writes p's key, then its certificate. replace says the pair is
// there and is being issued again (Force); otherwise an existing file is
// never replaced.
func (m *maker) write(p pair, cert *x509.Certificate, key *ecdsa.PrivateKey, replace bool) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(m.dir, p.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), keyMode, replace); err != nil {
		return err
	}
	if err := writeFile(m.dir, p.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), certMode, replace); err != nil {
		return err
	}
	m.record(p, cert, true)
	return nil
}

// newSerial is a random 128-bit serial number, never zero.
// newKey returns a new certificate's key (ECDSA P-256) and serial.
func newKey() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	return key, serial, err
}

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

// pemBlock is the DER of the one PEM block of type typ in data.
func pemBlock(data []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block %q", typ)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("a PEM block %q, want %q", block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("more than one PEM block, want one %q", typ)
	}
	return block.Bytes, nil
}
