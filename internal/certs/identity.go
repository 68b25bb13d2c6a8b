package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// AgencyURIPrefix starts the one URI SAN of an agency's certificate:
// urn:quiniela:agency:N, N the agency's number in decimal, 1..65535, with
// no sign and no leading zero.
const AgencyURIPrefix = "urn:quiniela:agency:"

// ProbeURI is the one URI SAN of the probe's certificate: the operator's
// identity (server healthcheck, validar-servidor.sh), which may ask Health
// and nothing else.
const ProbeURI = "urn:quiniela:probe"

// quinielaPrefix starts every URI this package gives a meaning to. A URI
// SAN that starts with it, in any case, claims a quiniela identity and must
// be one exactly; other URIs are not the lottery's and are ignored.
const quinielaPrefix = "urn:quiniela:"

// maxAgency is the highest agency number (lottery.MaxAgencies; this
// package imports only the standard library).
const maxAgency = 65535

// Identity is who a client certificate speaks for: one agency (Agency
// 1..65535) or the probe.
type Identity struct {
	Agency int  // the agency's number; 0 for the probe
	Probe  bool // the operator's probe: Health only
}

// AgencyURI is the URI SAN of agency n's certificate.
func AgencyURI(n int) string {
	return AgencyURIPrefix + strconv.Itoa(n)
}

// URI is the identity's URI SAN: urn:quiniela:agency:N or
// urn:quiniela:probe.
func (id Identity) URI() string {
	if id.Probe {
		return ProbeURI
	}
	return AgencyURI(id.Agency)
}

// String is the identity's common name: agency-N or probe.
func (id Identity) String() string {
	if id.Probe {
		return "probe"
	}
	return "agency-" + strconv.Itoa(id.Agency)
}

// IdentityOf reads who cert speaks for from its URI SANs: exactly one of
// them must be a quiniela identity (urn:quiniela:agency:N or
// urn:quiniela:probe, byte for byte); URIs outside urn:quiniela: are
// ignored. The error names what is wrong. IdentityOf checks neither the
// signature nor the dates nor the key usage: the TLS handshake does.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, errors.New("no certificate")
	}
	var found []string
	var id Identity
	for _, u := range cert.URIs {
		if u == nil {
			continue
		}
		s := u.String()
		if len(s) < len(quinielaPrefix) || !strings.EqualFold(s[:len(quinielaPrefix)], quinielaPrefix) {
			continue
		}
		found = append(found, s)
		if len(found) > 1 {
			return Identity{}, fmt.Errorf("two identities: %s and %s", found[0], found[1])
		}
		var err error
		if id, err = parseIdentity(s); err != nil {
			return Identity{}, err
		}
	}
	if len(found) == 0 {
		return Identity{}, fmt.Errorf("no quiniela identity: want one URI SAN %sN or %s", AgencyURIPrefix, ProbeURI)
	}
	return id, nil
}

// parseIdentity reads one URI that claims a quiniela identity.
func parseIdentity(s string) (Identity, error) {
	if s == ProbeURI {
		return Identity{Probe: true}, nil
	}
	if !strings.HasPrefix(s, AgencyURIPrefix) {
		if strings.EqualFold(s, ProbeURI) || hasPrefixFold(s, AgencyURIPrefix) {
			return Identity{}, fmt.Errorf("%s is not canonical: want lower case", s)
		}
		return Identity{}, fmt.Errorf("%s is not a quiniela identity: want %sN or %s", s, AgencyURIPrefix, ProbeURI)
	}
	digits := s[len(AgencyURIPrefix):]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return Identity{}, fmt.Errorf("%s: agency %q is not a decimal number", s, digits)
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > maxAgency {
		return Identity{}, fmt.Errorf("agency %s outside 1..%d", digits, maxAgency)
	}
	if strconv.Itoa(n) != digits {
		return Identity{}, fmt.Errorf("%s is not canonical: want %s", s, AgencyURI(n))
	}
	return Identity{Agency: n}, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// SerialHex is the one way the lottery writes a certificate's serial
// number: in server certs' report, in a revocation list and in the
// central's refusals (package mtls): lower-case hexadecimal, no leading
// zeros, no colons.
func SerialHex(serial *big.Int) string {
	if serial == nil {
		return ""
	}
	return serial.Text(16)
}
