package mtls

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
)

// The formats of a revocation list (RevokedList.Format).
const (
	FormatCRL  = "crl"  // an X.509 CRL, PEM or DER, signed by the lottery CA
	FormatText = "text" // serial numbers in hexadecimal, one per line
)

// RevokedList is one reading of a revocation list.
type RevokedList struct {
	Serials map[string]bool // certs.SerialHex of each revoked certificate
	Format  string          // FormatCRL or FormatText
	// Number is the CRL's cRLNumber; nil for a text list or a CRL
	// without one.
	Number *big.Int
	// NextUpdate is when the CRL says its successor is due; zero for a
	// text list or a CRL without one.
	NextUpdate time.Time
}

// Stale reports whether a CRL's NextUpdate has passed at now. A stale
// CRL is used all the same: what it revokes stays revoked, and refusing
// it would leave the central with an older list or none (see
// Revocation).
func (l *RevokedList) Stale(now time.Time) bool {
	return !l.NextUpdate.IsZero() && now.After(l.NextUpdate)
}

// ParseRevoked reads a revocation list's content, its format told by
// its content: a PEM block "X509 CRL", or DER (an ASN.1 sequence), is a
// CRL, which must be signed by one of cas; anything else is the text
// list of LoadRevoked. name names the file in errors.
func ParseRevoked(data []byte, cas []*x509.Certificate, name string) (*RevokedList, error) {
	der, isCRL := crlDER(data)
	if !isCRL {
		serials, err := parseText(data, name)
		if err != nil {
			return nil, err
		}
		return &RevokedList{Serials: serials, Format: FormatText}, nil
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("revocation list %s: not a CRL that can be read: %w", name, err)
	}
	if err := checkIssuer(crl, cas); err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", name, err)
	}
	l := &RevokedList{Serials: map[string]bool{}, Format: FormatCRL, Number: crl.Number, NextUpdate: crl.NextUpdate}
	for _, e := range crl.RevokedCertificateEntries {
		l.Serials[certs.SerialHex(e.SerialNumber)] = true
	}
	return l, nil
}

// crlDER returns the DER of a CRL in data, PEM or DER, and whether data
// is one (rather than a text list).
func crlDER(data []byte) ([]byte, bool) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN X509 CRL-----")) {
		block, _ := pem.Decode(trimmed)
		if block == nil {
			return nil, true // cut short: ParseRevocationList says so
		}
		return block.Bytes, true
	}
	// A text list is printable ASCII; DER never is (its lengths and
	// signature are bytes of any value).
	for _, b := range data {
		if (b < 0x20 || b > 0x7e) && b != '\n' && b != '\r' && b != '\t' {
			return data, true
		}
	}
	return nil, false
}

// checkIssuer checks that one of cas signed crl.
func checkIssuer(crl *x509.RevocationList, cas []*x509.Certificate) error {
	var why []string
	for _, ca := range cas {
		err := crl.CheckSignatureFrom(ca)
		if err == nil {
			return nil
		}
		why = append(why, err.Error())
	}
	// One line: it ends up in a log line.
	return fmt.Errorf("a CRL of %q, not signed by the lottery CA (SERVER_TLS_CLIENT_CA): %s", crl.Issuer.String(), strings.Join(why, "; "))
}

// Revocation is the central's revocation list, SERVER_TLS_REVOKED, which
// Reload reads again while the central serves: a list that cannot be
// read, or a CRL of another CA, is an error at LoadRevocation, and at
// Reload keeps the list in force. Its methods are safe for concurrent
// use.
type Revocation struct {
	path string
	cas  []*x509.Certificate
	list atomic.Pointer[RevokedList]

	mu   sync.Mutex
	last [sha256.Size]byte // the content (or error) Reload last read
}

// LoadRevocation reads the revocation list at path, trusting the CRLs of
// the CA certificates in caFile.
func LoadRevocation(path, caFile string) (*Revocation, error) {
	cas, err := loadCAs(caFile)
	if err != nil {
		return nil, err
	}
	r := &Revocation{path: path, cas: cas}
	if _, _, err := r.Reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

// Path is the file the list is read from.
func (r *Revocation) Path() string { return r.path }

// List is the list in force; nil for a nil Revocation.
func (r *Revocation) List() *RevokedList {
	if r == nil {
		return nil
	}
	return r.list.Load()
}

// Revoked reports whether the list in force revokes c.
func (r *Revocation) Revoked(c *x509.Certificate) bool {
	return r.list.Load().Serials[certs.SerialHex(c.SerialNumber)]
}

// Reload reads the file again and, where it holds a good list, puts it in
// force and returns it with changed true. Unless force, a file whose
// content is what the previous Reload read (or failed to read) is not
// parsed again: changed is false and the error nil, so that a poll
// reports a bad file once. An error keeps the list in force; so does a
// CRL whose number is below the one in force (an older CRL put back).
func (r *Revocation) Reload(force bool) (l *RevokedList, changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, readErr := os.ReadFile(r.path)
	sum := sha256.Sum256(data)
	if readErr != nil {
		sum = sha256.Sum256([]byte(readErr.Error()))
	}
	if !force && sum == r.last {
		return r.list.Load(), false, nil
	}
	r.last = sum
	if readErr != nil {
		return nil, false, fmt.Errorf("revocation list: %w", readErr)
	}
	l, err = ParseRevoked(data, r.cas, r.path)
	if err != nil {
		return nil, false, err
	}
	if cur := r.list.Load(); cur != nil && cur.Number != nil && l.Number != nil && l.Number.Cmp(cur.Number) < 0 {
		return nil, false, fmt.Errorf("revocation list %s: CRL number %v is older than the one in force, %v", r.path, l.Number, cur.Number)
	}
	r.list.Store(l)
	return l, true, nil
}

// loadCAs reads the CA certificates of caFile.
func loadCAs(caFile string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("lottery CA: %w", err)
	}
	var cas []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("lottery CA %s: %w", caFile, err)
		}
		cas = append(cas, c)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("lottery CA %s: no PEM certificate in it", caFile)
	}
	return cas, nil
}
