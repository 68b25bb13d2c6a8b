package mtls

import (
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
)

// TestLoadRevoked: serials as server certs prints them, and as an
// operator may paste them (upper case, 0x, colons, leading zeros), are
// one serial each; anything else names its line.
func TestLoadRevoked(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
		err        string
	}{
		{"as printed", "1f3a\nabc\n", []string{"1f3a", "abc"}, ""},
		{"comments and blanks", "# revoked 2026-11-27\n\n  1f3a  \n", []string{"1f3a"}, ""},
		{"pasted forms", "0x1F3A\n00:1f:3a\n001F3A\n", []string{"1f3a"}, ""},
		{"not hexadecimal", "1f3a\nagency-2\n", nil, "line 2"},
		{"zero", "0\n", nil, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revoked")
			if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadRevoked(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("LoadRevoked = %v, %v; want an error naming %q", got, err, tt.err)
				}
				return
			}
			want := map[string]bool{}
			for _, s := range tt.want {
				want[s] = true
			}
			if err != nil || !maps.Equal(got, want) {
				t.Errorf("LoadRevoked = %v, %v; want %v", got, err, want)
			}
		})
	}
}

// lottery makes a lottery's certificates (3 agencies) in a new directory
// and returns it.
func lottery(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: 3}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// revoke revokes agencies in dir's CRL as of now, and returns the CRL's
// PEM and its serials.
func revoke(t *testing.T, dir string, now time.Time, agencies ...int) ([]byte, []string) {
	t.Helper()
	r, err := certs.Revoke(dir, agencies, now)
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for _, a := range r.Revoked {
		serials = append(serials, a.Serial)
	}
	data, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	return data, serials
}

// TestLoadRevocationFormats: a CRL of the lottery CA, in PEM or DER, and
// the text list are read as such, each told by its content; a CRL past
// its next update is read and said stale; a CRL of another CA, one that
// cannot be parsed, or another PEM block is refused naming the file.
func TestLoadRevocationFormats(t *testing.T) {
	dir, other := lottery(t), lottery(t)
	crl, serials := revoke(t, dir, time.Time{}, 3)
	block, _ := pem.Decode(crl)
	foreign, _ := revoke(t, other, time.Time{}, 3)
	caPEM, err := os.ReadFile(filepath.Join(dir, certs.CACert))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		file   []byte
		format string
		want   []string
		stale  bool
		err    string // in the error, besides the file's path
	}{
		{"PEM CRL", crl, FormatCRL, serials, false, ""},
		{"DER CRL", block.Bytes, FormatCRL, serials, false, ""},
		{"text", []byte("# none yet\n" + serials[0] + "\n"), FormatText, serials, false, ""},
		{"empty text", nil, FormatText, nil, false, ""},
		{"another CA's CRL", foreign, "", nil, false, "not signed by the lottery CA"},
		{"DER cut short", block.Bytes[:len(block.Bytes)/2], "", nil, false, "not a CRL that can be read"},
		{"a certificate", caPEM, "", nil, false, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revoked")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := LoadRevocation(path, filepath.Join(dir, certs.CACert))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("LoadRevocation = %v; want an error naming %s and %q", err, path, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := r.List()
			if got := slices.Sorted(maps.Keys(l.Serials)); l.Format != tt.format || !slices.Equal(got, tt.want) {
				t.Errorf("LoadRevocation: %s %v, want %s %v", l.Format, got, tt.format, tt.want)
			}
			if l.Stale(time.Now()) {
				t.Errorf("a CRL due in %v is stale", time.Until(l.NextUpdate))
			}
		})
	}
}

// TestLoadRevocationStale: a CRL past its next update is read all the
// same, and said stale.
func TestLoadRevocationStale(t *testing.T) {
	dir := lottery(t)
	revoke(t, dir, time.Now().Add(-2*certs.CRLValidity), 1)
	r, err := LoadRevocation(filepath.Join(dir, certs.CRLFile), filepath.Join(dir, certs.CACert))
	if err != nil {
		t.Fatal(err)
	}
	if l := r.List(); !l.Stale(time.Now()) || len(l.Serials) != 1 {
		t.Errorf("a CRL due %v: stale %v, %d serials; want stale, 1", l.NextUpdate, l.Stale(time.Now()), len(l.Serials))
	}
}

// TestReloadKeepsListInForce: Reload puts a new CRL in force; a file that
// cannot be read, a CRL of another CA or an older CRL keep the list in
// force, and a poll (not forced) reports the same bad content once.
func TestReloadKeepsListInForce(t *testing.T) {
	dir, other := lottery(t), lottery(t)
	first, _ := revoke(t, dir, time.Time{}, 1)
	second, serials := revoke(t, dir, time.Time{}, 2)
	foreign, _ := revoke(t, other, time.Time{}, 3)
	path := filepath.Join(t.TempDir(), "revoked")
	write := func(data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(nil)
	r, err := LoadRevocation(path, filepath.Join(dir, certs.CACert))
	if err != nil {
		t.Fatal(err)
	}
	if _, changed, err := r.Reload(false); changed || err != nil {
		t.Errorf("Reload of the same file: changed %v, %v; want nothing", changed, err)
	}
	write(second)
	if l, changed, err := r.Reload(false); !changed || err != nil || !l.Serials[serials[0]] {
		t.Fatalf("Reload of a new CRL: %v, changed %v, %v; want agency 2 revoked", l, changed, err)
	}
	for _, bad := range [][]byte{foreign, first, []byte("agency-2\n")} {
		write(bad)
		if _, _, err := r.Reload(false); err == nil {
			t.Errorf("Reload of %q: no error", bad[:10])
		}
		if _, changed, err := r.Reload(false); changed || err != nil {
			t.Errorf("a second poll of the same bad file: changed %v, %v; want nothing", changed, err)
		}
		if !r.List().Serials[serials[0]] || r.List().Format != FormatCRL {
			t.Errorf("after a bad reload the list in force is %v", r.List())
		}
	}
}
