package certs

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readTestCRL reads dir's crl.pem and checks the CA of dir signed it.
func readTestCRL(t *testing.T, dir string) *x509.RevocationList {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "X509 CRL" {
		t.Fatalf("%s: want an X509 CRL PEM block", CRLFile)
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(readCert(t, filepath.Join(dir, CACert))); err != nil {
		t.Fatalf("%s is not the CA's: %v", CRLFile, err)
	}
	return crl
}

// TestRevoke: each Revoke writes the CA's CRL again, with every serial it
// revoked before and the agencies asked for, its number one more; an
// agency already revoked is said so, not listed twice.
func TestRevoke(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 3})
	serial := func(n int) string { return SerialHex(readCert(t, filepath.Join(dir, AgencyCert(n))).SerialNumber) }
	steps := []struct {
		agencies []int
		already  []bool
		number   int64
		want     []string // the CRL's serials, in order
	}{
		{[]int{3}, []bool{false}, 1, []string{serial(3)}},
		{[]int{1, 3}, []bool{false, true}, 2, []string{serial(3), serial(1)}},
	}
	for _, s := range steps {
		r, err := Revoke(dir, s.agencies, testNow)
		if err != nil {
			t.Fatalf("Revoke(%v): %v", s.agencies, err)
		}
		var already []bool
		for _, a := range r.Revoked {
			already = append(already, a.Already)
		}
		crl := readTestCRL(t, dir)
		var got []string
		for _, e := range crl.RevokedCertificateEntries {
			got = append(got, SerialHex(e.SerialNumber))
		}
		if !slices.Equal(got, s.want) || crl.Number.Int64() != s.number || r.Number.Int64() != s.number || r.Total != len(s.want) {
			t.Errorf("Revoke(%v): CRL number %v (report %v) with %v; want %d with %v", s.agencies, crl.Number, r.Number, got, s.number, s.want)
		}
		if !slices.Equal(already, s.already) || r.Path != filepath.Join(dir, CRLFile) {
			t.Errorf("Revoke(%v) reports already %v at %s; want %v at %s", s.agencies, already, r.Path, s.already, filepath.Join(dir, CRLFile))
		}
		if !crl.NextUpdate.Equal(testNow.Add(CRLValidity)) {
			t.Errorf("NextUpdate %v, want %v", crl.NextUpdate, testNow.Add(CRLValidity))
		}
	}
}

// TestRevokeRefuses: what Revoke cannot do names the file or agency and
// leaves the CRL as it was.
func TestRevokeRefuses(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 2})
	other := newDir(t)
	makeCerts(t, Options{Dir: other, Agencies: 2})
	if _, err := Revoke(other, []int{1}, testNow); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string)
		agencies []int
		err      string
	}{
		{"no agency", nil, nil, "no agency"},
		{"no certificate", nil, []int{3}, AgencyCert(3)},
		{"out of range", nil, []int{0}, "agency 0"},
		{"another CA's CRL", func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(other, CRLFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, CRLFile), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []int{1}, "not signed by the CA"},
		{"another CA's agency", func(t *testing.T, dir string) {
			for _, name := range []string{AgencyCert(2), AgencyKey(2)} {
				data, err := os.ReadFile(filepath.Join(other, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}, []int{2}, "is not signed by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "certs")
			if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			keysPrivate(t, d) // CopyFS writes 0644, which Revoke refuses for a key
			if tt.setup != nil {
				tt.setup(t, d)
			}
			before := snapshot(t, d)
			_, err := Revoke(d, tt.agencies, testNow)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Revoke(%v) = %v; want an error naming %q", tt.agencies, err, tt.err)
			}
			if after := snapshot(t, d); !slices.Equal(names(before), names(after)) || string(before[CRLFile]) != string(after[CRLFile]) {
				t.Errorf("a refused Revoke changed the directory: %v, then %v", names(before), names(after))
			}
		})
	}
}

// keysPrivate makes every key in dir its owner's alone, as server certs
// writes them.
func keysPrivate(t *testing.T, dir string) {
	t.Helper()
	keys, err := filepath.Glob(filepath.Join(dir, "*.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := os.Chmod(k, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
