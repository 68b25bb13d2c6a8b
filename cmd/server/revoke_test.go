package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

var (
	revokeLine = regexp.MustCompile(`^(revoked|already_revoked) identity=agency-([0-9]+) serial=([0-9a-f]+)$`)
	wroteLine  = regexp.MustCompile(`^wrote (\S+) crl_number=([0-9]+) revoked=([0-9]+) next_update=\S+$`)
)

// TestCertsRevoke: `server certs revoke` prints one line per agency and
// where it wrote the CRL, which the central reads as a CRL of its CA
// revoking those serials; bad usage exits 2, an agency without a
// certificate 1.
func TestCertsRevoke(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if code, _, errOut := certsRun(t, 3, "-dir", dir); code != 0 {
		t.Fatalf("server certs: exit %d, %s", code, errOut)
	}
	code, out, errOut := certsRun(t, 3, "revoke", "-dir", dir, "3", "3")
	if code != 0 || errOut != "" {
		t.Fatalf("server certs revoke: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("output %q: want 3 lines", out)
	}
	first, second, wrote := revokeLine.FindStringSubmatch(lines[0]), revokeLine.FindStringSubmatch(lines[1]), wroteLine.FindStringSubmatch(lines[2])
	if first == nil || second == nil || wrote == nil || first[1] != "revoked" || second[1] != "already_revoked" || first[2] != "3" {
		t.Fatalf("output %q: want agency 3 revoked, then already revoked, then where", out)
	}
	if wrote[1] != filepath.Join(dir, certs.CRLFile) || wrote[2] != "1" || wrote[3] != "1" {
		t.Errorf("line %q: want %s, number 1, 1 revoked", lines[2], filepath.Join(dir, certs.CRLFile))
	}
	r, err := mtls.LoadRevocation(wrote[1], filepath.Join(dir, certs.CACert))
	if err != nil {
		t.Fatalf("the central refuses the CRL: %v", err)
	}
	if l := r.List(); l.Format != mtls.FormatCRL || len(l.Serials) != 1 || !l.Serials[first[3]] {
		t.Errorf("the central reads %s %v, want a CRL revoking %s", l.Format, l.Serials, first[3])
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"revoke", "-dir", dir}, 2},
		{[]string{"revoke", "-dir", dir, "agency-3"}, 2},
		{[]string{"revoke", "-dir", dir, "4"}, 1},
	} {
		if code, _, errOut := certsRun(t, 3, tt.args...); code != tt.code || errOut == "" {
			t.Errorf("server certs %q: exit %d, stderr %q; want %d and a reason", tt.args, code, errOut, tt.code)
		}
	}
}
