package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// refusalCerts makes, with certs.Make and certs.Revoke, the certificates
// of a lottery of 4 agencies in which agency 2's is revoked, and returns
// their directory and that of agency 4's previous certificate, issued two
// years ago by the same CA and expired since.
func refusalCerts(t *testing.T) (dir, expired string) {
	t.Helper()
	dir, expired = filepath.Join(t.TempDir(), "certs"), t.TempDir()
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: 4, Now: time.Now().AddDate(-2, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{certs.AgencyCert(4), certs.AgencyKey(4)} {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(expired, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: 4, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Revoke(dir, []int{2}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	return dir, expired
}

// serialIn is the serial of the PEM certificate at path, as the central's
// log writes it.
func serialIn(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return certs.SerialHex(c.SerialNumber)
}

// TestCertificateRefusalsTold runs agencies whose certificates a real
// central over mutual TLS refuses, one class each, all made by
// internal/certs: the agency stops at once (ErrTLS) with one line saying
// what happened and to contact the lottery's operator, in which no serial
// appears; the central's fail line names the certificate.
func TestCertificateRefusalsTold(t *testing.T) {
	dir, expired := refusalCerts(t)
	other := filepath.Join(t.TempDir(), "other")
	if _, err := certs.Make(certs.Options{Dir: other, Agencies: 1}); err != nil {
		t.Fatal(err)
	}
	central := apptest.Config(4)
	central.TLSCert, central.TLSKey = filepath.Join(dir, certs.CentralCert), filepath.Join(dir, certs.CentralKey)
	central.TLSClientCA, central.TLSRevoked = filepath.Join(dir, certs.CACert), filepath.Join(dir, "crl.pem")
	c := apptest.Start(t, central)

	tests := []struct {
		name     string
		id       int
		certDir  string // holds the agency-N.crt and .key it presents
		certOf   int    // N
		says     string // in the agency's line
		logNames bool   // the central's tls fail line names the certificate
	}{
		{"another CA", 1, other, 1, "it is not signed by this lottery's CA", true},
		{"expired", 4, expired, 4, "it has expired, or is not valid yet", true},
		{"revoked", 2, dir, 2, "it is revoked, or not an agency certificate of this lottery", true},
		{"another agency's", 1, dir, 3, "the central refused agency 1's Hello: this agency's certificate (tls.cert) is not agency 1's", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crt := filepath.Join(tt.certDir, certs.AgencyCert(tt.certOf))
			cfg := config.DefaultClient()
			cfg.ID, cfg.ServerAddress = tt.id, c.Address()
			cfg.TLSCA, cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, certs.CACert), crt, filepath.Join(tt.certDir, certs.AgencyKey(tt.certOf))
			cfg.ServerTimeout, cfg.RetryTimeout = 5*time.Second, 30*time.Second
			one := lottery.Bet{FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "2000-01-01", Number: 1}
			_, err := New(cfg, logging.New(io.Discard, logging.LevelWarning), WithSingleBet(&one)).Run(context.Background())
			if !errors.Is(err, ErrTLS) {
				t.Fatalf("Run = %v, want ErrTLS (not retried)", err)
			}
			line, serial := err.Error(), serialIn(t, crt)
			for _, want := range []string{tt.says, "contact the lottery's operator"} {
				if !strings.Contains(line, want) {
					t.Errorf("the agency says %q, want it to say %q", line, want)
				}
			}
			if strings.ContainsAny(line, "\n|") || strings.Contains(line, serial) {
				t.Errorf("the agency says %q: want one line, without |, naming no serial (%s)", line, serial)
			}
			// The central logs its refusal once its handshake returns,
			// which may be after the agency has read the alert.
			named := fmt.Sprintf("agency %d's certificate (serial %s)", tt.certOf, serial)
			for deadline := time.Now().Add(5 * time.Second); tt.logNames && !strings.Contains(c.Log.String(), named) && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			if tt.logNames && !strings.Contains(c.Log.String(), named) {
				t.Errorf("no line of the central names %s; log:\n%s", named, c.Log)
			}
		})
	}
}

// TestRefusedFor checks the line of each alert a central may refuse a
// certificate with, as crypto/tls reports it to the agency (a
// *net.OpError "remote error"), an old central's bad_certificate
// included, and that other errors are not taken for alerts.
func TestRefusedFor(t *testing.T) {
	remote := func(a tls.AlertError) error {
		return fmt.Errorf("hello: %w", &net.OpError{Op: "remote error", Err: errors.New(a.Error())})
	}
	tests := []struct {
		err  error
		want string // "" for no alert
	}{
		{remote(alertUnknownCA), "not signed by this lottery's CA (another lottery's, or not the one the operator issued) (the central's alert: unknown certificate authority): contact the lottery's operator"},
		{remote(alertCertificateExpired), "has expired, or is not valid yet (check this machine's clock) (the central's alert: expired certificate)"},
		{remote(alertBadCertificate), "it is revoked, or not an agency certificate of this lottery (the central's alert: bad certificate)"},
		{remote(alertCertificateRequired), "requires a certificate of this agency and got none (tls.cert) (the central's alert: certificate required)"},
		{remote(tls.AlertError(80)), "the central refused the TLS session (the central's alert: internal error): contact the lottery's operator"},
		{&net.OpError{Op: "read", Err: errors.New("tls: bad certificate")}, ""},
		{io.EOF, ""},
	}
	for _, tt := range tests {
		_, isAlert := remoteAlert(tt.err)
		got := helloRefused(tt.err, 1)
		switch {
		case tt.want == "" && (isAlert || got != tt.err):
			t.Errorf("%v: taken for a refusal: %v", tt.err, got)
		case tt.want != "" && (!errors.Is(got, ErrTLS) || !strings.Contains(got.Error(), tt.want)):
			t.Errorf("%v: %v, want ErrTLS saying %q", tt.err, got, tt.want)
		}
	}
}
