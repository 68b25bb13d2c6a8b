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
	"errors"
	"fmt"
	"net/netip"
	"os"
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
