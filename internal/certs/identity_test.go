package certs

import (
	"crypto/x509"
	"math/big"
	"net/url"
	"strings"
	"testing"
)

// withURIs is a certificate whose URI SANs are uris, as x509 would parse
// them.
func withURIs(t *testing.T, uris ...string) *x509.Certificate {
	t.Helper()
	cert := &x509.Certificate{}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", s, err)
		}
		cert.URIs = append(cert.URIs, u)
	}
	return cert
}

func TestIdentityOf(t *testing.T) {
	tests := []struct {
		name    string
		uris    []string
		want    Identity
		wantErr string // a part of the error; "" wants none
	}{
		{"agency 1", []string{"urn:quiniela:agency:1"}, Identity{Agency: 1}, ""},
		{"agency 65535", []string{"urn:quiniela:agency:65535"}, Identity{Agency: 65535}, ""},
		{"probe", []string{"urn:quiniela:probe"}, Identity{Probe: true}, ""},
		{"other URIs ignored", []string{"spiffe://example.org/x", "urn:quiniela:agency:7", "https://example.org/"}, Identity{Agency: 7}, ""},
		{"upper-case scheme, as x509 parses it", []string{"URN:quiniela:agency:2"}, Identity{Agency: 2}, ""},

		{"no URI", nil, Identity{}, "no quiniela identity"},
		{"only other URIs", []string{"spiffe://example.org/agency/3", "urn:other:agency:3"}, Identity{}, "no quiniela identity"},
		{"agency and probe", []string{"urn:quiniela:agency:1", "urn:quiniela:probe"}, Identity{}, "two identities: urn:quiniela:agency:1 and urn:quiniela:probe"},
		{"two agencies", []string{"urn:quiniela:agency:1", "urn:quiniela:agency:2"}, Identity{}, "two identities"},
		{"one agency twice", []string{"urn:quiniela:agency:4", "urn:quiniela:agency:4"}, Identity{}, "two identities"},
		{"a bad one beside a good one", []string{"urn:quiniela:agency:1", "urn:quiniela:agency:x"}, Identity{}, "two identities"},
		{"agency 0", []string{"urn:quiniela:agency:0"}, Identity{}, "agency 0 outside 1..65535"},
		{"agency 65536", []string{"urn:quiniela:agency:65536"}, Identity{}, "agency 65536 outside 1..65535"},
		{"agency too long for an int", []string{"urn:quiniela:agency:99999999999999999999999"}, Identity{}, "outside 1..65535"},
		{"leading zero", []string{"urn:quiniela:agency:03"}, Identity{}, "urn:quiniela:agency:03 is not canonical"},
		{"zeros", []string{"urn:quiniela:agency:00"}, Identity{}, "outside 1..65535"},
		{"no number", []string{"urn:quiniela:agency:"}, Identity{}, "not a decimal number"},
		{"sign", []string{"urn:quiniela:agency:+3"}, Identity{}, "not a decimal number"},
		{"negative", []string{"urn:quiniela:agency:-3"}, Identity{}, "not a decimal number"},
		{"hex", []string{"urn:quiniela:agency:0x3"}, Identity{}, "not a decimal number"},
		{"escaped digit", []string{"urn:quiniela:agency:%33"}, Identity{}, "not a decimal number"},
		{"fragment", []string{"urn:quiniela:agency:3#x"}, Identity{}, "not a decimal number"},
		{"query", []string{"urn:quiniela:probe?agency=3"}, Identity{}, "not a quiniela identity"},
		{"upper-case agency", []string{"urn:QUINIELA:agency:3"}, Identity{}, "not canonical"},
		{"upper-case probe", []string{"urn:quiniela:PROBE"}, Identity{}, "not canonical"},
		{"unknown kind", []string{"urn:quiniela:central"}, Identity{}, "urn:quiniela:central is not a quiniela identity"},
		{"agency without colon", []string{"urn:quiniela:agency3"}, Identity{}, "not a quiniela identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IdentityOf(withURIs(t, tt.uris...))
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("IdentityOf(%q) = %+v, %v; want %+v", tt.uris, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("IdentityOf(%q) = %+v, %v; want an error containing %q", tt.uris, got, err, tt.wantErr)
			}
		})
	}
}

func TestIdentityOfNil(t *testing.T) {
	if _, err := IdentityOf(nil); err == nil {
		t.Fatal("IdentityOf(nil): no error")
	}
}

// TestIdentityURI checks that each identity's URI reads back as itself.
func TestIdentityURI(t *testing.T) {
	tests := []struct {
		id       Identity
		uri, str string
	}{
		{Identity{Agency: 1}, "urn:quiniela:agency:1", "agency-1"},
		{Identity{Agency: 42}, "urn:quiniela:agency:42", "agency-42"},
		{Identity{Agency: 65535}, "urn:quiniela:agency:65535", "agency-65535"},
		{Identity{Probe: true}, "urn:quiniela:probe", "probe"},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			if got := tt.id.URI(); got != tt.uri {
				t.Errorf("URI() = %q, want %q", got, tt.uri)
			}
			if got := tt.id.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			back, err := IdentityOf(withURIs(t, tt.id.URI()))
			if err != nil || back != tt.id {
				t.Errorf("IdentityOf(URI()) = %+v, %v; want %+v", back, err, tt.id)
			}
		})
	}
}

func TestSerialHex(t *testing.T) {
	tests := []struct {
		serial *big.Int
		want   string
	}{
		{nil, ""},
		{big.NewInt(1), "1"},
		{big.NewInt(0xabc), "abc"},
		{new(big.Int).Lsh(big.NewInt(1), 127), "80000000000000000000000000000000"},
	}
	for _, tt := range tests {
		if got := SerialHex(tt.serial); got != tt.want {
			t.Errorf("SerialHex(%v) = %q, want %q", tt.serial, got, tt.want)
		}
	}
}
