package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testNow is when the tests make their certificates; x509 keeps seconds.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// makeCerts runs Make into dir/certs and fails the test on an error.
func makeCerts(t *testing.T, opts Options) Report {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	r, err := Make(opts)
	if err != nil {
		t.Fatalf("Make(%+v): %v", opts, err)
	}
	return r
}

// newDir is a directory for Make that does not exist yet.
func newDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "certs")
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("%s: want one CERTIFICATE PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

func readKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
		t.Fatalf("%s: want one PRIVATE KEY PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("%s: a %T, want an ECDSA P-256 key", path, key)
	}
	return ec
}

// verify checks cert's chain to dir's ca.crt for usage, an hour after
// cert was made.
func verify(t *testing.T, dir string, cert *x509.Certificate, usage x509.ExtKeyUsage, dnsName string) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, CACert)))
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, DNSName: dnsName, CurrentTime: cert.NotBefore.Add(2 * time.Hour), KeyUsages: []x509.ExtKeyUsage{usage},
	})
	return err
}

// snapshot is every file of dir and its bytes.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

func names(files map[string][]byte) []string {
	var out []string
	for name := range files {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func TestMakeFilesAndModes(t *testing.T) {
	dir := newDir(t)
	r := makeCerts(t, Options{Dir: dir, Agencies: 3})

	want := []string{
		"agency-1.crt", "agency-1.key", "agency-2.crt", "agency-2.key", "agency-3.crt", "agency-3.key",
		"ca.crt", "ca.key", "central.crt", "central.key", "probe.crt", "probe.key",
	}
	if got := names(snapshot(t, dir)); !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q (no temporary file left)", got, want)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", info.Mode().Perm())
	}
	for _, name := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		wantMode := fs.FileMode(0o644)
		if strings.HasSuffix(name, ".key") {
			wantMode = 0o600
			readKey(t, filepath.Join(dir, name))
		} else {
			readCert(t, filepath.Join(dir, name))
		}
		if info.Mode() != wantMode {
			t.Errorf("%s: mode %v, want %v", name, info.Mode(), wantMode)
		}
	}

	var reported []string
	for _, f := range r.Files {
		reported = append(reported, f.Name)
		if !f.Made {
			t.Errorf("%s reported kept, want made", f.Name)
		}
	}
	wantOrder := []string{
		"ca.crt", "ca.key", "central.crt", "central.key", "agency-1.crt", "agency-1.key",
		"agency-2.crt", "agency-2.key", "agency-3.crt", "agency-3.key", "probe.crt", "probe.key",
	}
	if !slices.Equal(reported, wantOrder) {
		t.Errorf("report's files %q, want %q", reported, wantOrder)
	}
}

// TestMakeReport checks that the report names each certificate's serial,
// holder and identity, and the key beside it.
func TestMakeReport(t *testing.T) {
	dir := newDir(t)
	r := makeCerts(t, Options{Dir: dir, Agencies: 2})
	tests := map[string]struct {
		role   Role
		holder string
		id     Identity
	}{
		"ca.crt":       {RoleCA, "ca", Identity{}},
		"central.crt":  {RoleCentral, "central", Identity{}},
		"agency-1.crt": {RoleAgency, "agency-1", Identity{Agency: 1}},
		"agency-2.crt": {RoleAgency, "agency-2", Identity{Agency: 2}},
		"probe.crt":    {RoleProbe, "probe", Identity{Probe: true}},
	}
	for i, f := range r.Files {
		crt := strings.TrimSuffix(f.Name, ".key")
		if crt != f.Name {
			crt += ".crt"
			if prev := r.Files[i-1]; prev.Name != crt || prev.Serial != f.Serial {
				t.Errorf("%s follows %s (serial %s), want %s with serial %s", f.Name, prev.Name, prev.Serial, crt, f.Serial)
			}
		}
		want, ok := tests[crt]
		if !ok {
			t.Fatalf("unexpected file %s", f.Name)
		}
		cert := readCert(t, filepath.Join(dir, crt))
		if f.Role != want.role || f.Holder != want.holder || f.Identity != want.id {
			t.Errorf("%s: role %s, holder %s, identity %+v; want %s, %s, %+v", f.Name, f.Role, f.Holder, f.Identity, want.role, want.holder, want.id)
		}
		if f.Serial != SerialHex(cert.SerialNumber) || f.Serial == "" {
			t.Errorf("%s: serial %q, want the certificate's %q", f.Name, f.Serial, SerialHex(cert.SerialNumber))
		}
		if !f.NotAfter.Equal(cert.NotAfter) {
			t.Errorf("%s: NotAfter %v, want %v", f.Name, f.NotAfter, cert.NotAfter)
		}
		if cert.Subject.CommonName != want.holder && f.Role != RoleCA {
			t.Errorf("%s: common name %q, want %q", crt, cert.Subject.CommonName, want.holder)
		}
	}
}

func TestMakeCA(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir})
	ca := readCert(t, filepath.Join(dir, CACert))
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA: IsCA %v, BasicConstraintsValid %v, MaxPathLen %d, MaxPathLenZero %v; want a CA with path length 0",
			ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA key usage %v, want CertSign|CRLSign", ca.KeyUsage)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if !readKey(t, filepath.Join(dir, CAKey)).PublicKey.Equal(ca.PublicKey) {
		t.Error("ca.key is not ca.crt's key")
	}
}

// TestMakeValidity checks each certificate's version, dates and serial.
func TestMakeValidity(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 1})
	tests := []struct {
		file     string
		validity time.Duration
	}{
		{CACert, CAValidity},
		{CentralCert, CentralValidity},
		{AgencyCert(1), AgencyValidity},
		{ProbeCert, ProbeValidity},
	}
	serials := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cert := readCert(t, filepath.Join(dir, tt.file))
			if cert.Version != 3 {
				t.Errorf("version %d, want 3", cert.Version)
			}
			if !cert.NotBefore.Equal(testNow.Add(-time.Hour)) {
				t.Errorf("NotBefore %v, want an hour before %v", cert.NotBefore, testNow)
			}
			if !cert.NotAfter.Equal(testNow.Add(tt.validity)) {
				t.Errorf("NotAfter %v, want %v", cert.NotAfter, testNow.Add(tt.validity))
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v: want positive, at most 128 bits", cert.SerialNumber)
			}
			if serials[cert.SerialNumber.String()] {
				t.Errorf("serial %v repeated", cert.SerialNumber)
			}
			serials[cert.SerialNumber.String()] = true
		})
	}
}

func TestMakeCentralNames(t *testing.T) {
	tests := []struct {
		name    string
		extra   []string
		wantDNS []string
		wantIP  []string
	}{
		{"defaults", nil, []string{"server", "localhost"}, []string{"127.0.0.1"}},
		{"extra names", []string{"central.loteria.example", "10.0.0.5", "::1"},
			[]string{"server", "localhost", "central.loteria.example"}, []string{"127.0.0.1", "10.0.0.5", "::1"}},
		{"repeats and case", []string{"SERVER", "localhost", "::ffff:127.0.0.1", "Lottery"},
			[]string{"server", "localhost", "lottery"}, []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t)
			makeCerts(t, Options{Dir: dir, Names: tt.extra})
			cert := readCert(t, filepath.Join(dir, CentralCert))
			if !slices.Equal(cert.DNSNames, tt.wantDNS) {
				t.Errorf("DNS SANs %q, want %q", cert.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIP) {
				t.Errorf("IP SANs %q, want %q", ips, tt.wantIP)
			}
			if len(cert.URIs) != 0 {
				t.Errorf("URI SANs %v, want none", cert.URIs)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || cert.IsCA {
				t.Errorf("ExtKeyUsage %v, IsCA %v; want ServerAuth alone, not a CA", cert.ExtKeyUsage, cert.IsCA)
			}
			if cert.Subject.CommonName != "central" {
				t.Errorf("common name %q, want central", cert.Subject.CommonName)
			}
			for _, name := range slices.Concat(tt.wantDNS, tt.wantIP) {
				if err := verify(t, dir, cert, x509.ExtKeyUsageServerAuth, name); err != nil {
					t.Errorf("verify as %s for ServerAuth: %v", name, err)
				}
			}
			if err := verify(t, dir, cert, x509.ExtKeyUsageServerAuth, "elsewhere"); err == nil {
				t.Error("verify as a name it lacks: no error")
			}
			if err := verify(t, dir, cert, x509.ExtKeyUsageClientAuth, ""); err == nil {
				t.Error("verify for ClientAuth: no error")
			}
		})
	}
}

func TestMakeClientCertificates(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 3})
	tests := []struct {
		file, cn, uri string
		id            Identity
	}{
		{AgencyCert(1), "agency-1", "urn:quiniela:agency:1", Identity{Agency: 1}},
		{AgencyCert(2), "agency-2", "urn:quiniela:agency:2", Identity{Agency: 2}},
		{AgencyCert(3), "agency-3", "urn:quiniela:agency:3", Identity{Agency: 3}},
		{ProbeCert, "probe", "urn:quiniela:probe", Identity{Probe: true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cert := readCert(t, filepath.Join(dir, tt.file))
			if len(cert.URIs) != 1 || cert.URIs[0].String() != tt.uri {
				t.Errorf("URI SANs %v, want exactly %s", cert.URIs, tt.uri)
			}
			if len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses) != 0 {
				t.Errorf("other SANs %q %v %q, want none", cert.DNSNames, cert.IPAddresses, cert.EmailAddresses)
			}
			if id, err := IdentityOf(cert); err != nil || id != tt.id {
				t.Errorf("IdentityOf = %+v, %v; want %+v", id, err, tt.id)
			}
			if cert.Subject.CommonName != tt.cn {
				t.Errorf("common name %q, want %q", cert.Subject.CommonName, tt.cn)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || cert.IsCA {
				t.Errorf("ExtKeyUsage %v, IsCA %v; want ClientAuth alone, not a CA", cert.ExtKeyUsage, cert.IsCA)
			}
			if err := verify(t, dir, cert, x509.ExtKeyUsageClientAuth, ""); err != nil {
				t.Errorf("verify for ClientAuth: %v", err)
			}
			if err := verify(t, dir, cert, x509.ExtKeyUsageServerAuth, ""); err == nil {
				t.Error("verify for ServerAuth: no error")
			}
			key := strings.TrimSuffix(tt.file, ".crt") + ".key"
			if !readKey(t, filepath.Join(dir, key)).PublicKey.Equal(cert.PublicKey) {
				t.Errorf("%s is not %s's key", key, tt.file)
			}
		})
	}
}

func TestMakeAgainKeepsEverything(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 2, Names: []string{"extra"}})
	before := snapshot(t, dir)
	// Later, with fewer names asked for: what is there is enough.
	r := makeCerts(t, Options{Dir: dir, Agencies: 2, Now: testNow.Add(24 * time.Hour)})
	after := snapshot(t, dir)
	if !slices.Equal(names(before), names(after)) {
		t.Fatalf("files %q, then %q", names(before), names(after))
	}
	for name, data := range before {
		if !bytes.Equal(data, after[name]) {
			t.Errorf("%s changed", name)
		}
	}
	for _, f := range r.Files {
		if f.Made {
			t.Errorf("%s reported made, want kept", f.Name)
		}
	}
	if len(r.Files) != len(before) {
		t.Errorf("report has %d files, want %d", len(r.Files), len(before))
	}
}

func TestMakeAddsAgencies(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 2})
	before := snapshot(t, dir)
	r := makeCerts(t, Options{Dir: dir, Agencies: 4})
	after := snapshot(t, dir)
	for name, data := range before {
		if !bytes.Equal(data, after[name]) {
			t.Errorf("%s changed", name)
		}
	}
	var made []string
	for _, f := range r.Files {
		if f.Made {
			made = append(made, f.Name)
		}
	}
	if want := []string{"agency-3.crt", "agency-3.key", "agency-4.crt", "agency-4.key"}; !slices.Equal(made, want) {
		t.Errorf("made %q, want %q", made, want)
	}
	for _, n := range []int{3, 4} {
		if err := verify(t, dir, readCert(t, filepath.Join(dir, AgencyCert(n))), x509.ExtKeyUsageClientAuth, ""); err != nil {
			t.Errorf("agency %d against the first run's CA: %v", n, err)
		}
	}
	// Fewer agencies than there are files: the others stay.
	makeCerts(t, Options{Dir: dir, Agencies: 1})
	if _, err := os.Stat(filepath.Join(dir, AgencyKey(4))); err != nil {
		t.Error(err)
	}
}

func TestMakeForceReissuesLeavesKeepsCA(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 2})
	before := snapshot(t, dir)
	later := testNow.Add(200 * 24 * time.Hour)
	r := makeCerts(t, Options{Dir: dir, Agencies: 2, Force: true, Now: later, Names: []string{"added"}})
	after := snapshot(t, dir)
	if !slices.Equal(names(before), names(after)) {
		t.Fatalf("files %q, then %q", names(before), names(after))
	}
	for name := range before {
		same := bytes.Equal(before[name], after[name])
		if isCA := strings.HasPrefix(name, "ca."); isCA != same {
			t.Errorf("%s: unchanged %v, want %v", name, same, isCA)
		}
	}
	for _, f := range r.Files {
		if wantMade := f.Role != RoleCA; f.Made != wantMade {
			t.Errorf("%s: made %v, want %v", f.Name, f.Made, wantMade)
		}
	}
	central := readCert(t, filepath.Join(dir, CentralCert))
	if !slices.Contains(central.DNSNames, "added") {
		t.Errorf("central's names %q lack the one added with Force", central.DNSNames)
	}
	if !central.NotAfter.Equal(later.Add(CentralValidity)) {
		t.Errorf("central NotAfter %v, want a year after the re-issue", central.NotAfter)
	}
	for _, n := range []int{1, 2} {
		cert := readCert(t, filepath.Join(dir, AgencyCert(n)))
		if err := verify(t, dir, cert, x509.ExtKeyUsageClientAuth, ""); err != nil {
			t.Errorf("re-issued agency %d against the CA: %v", n, err)
		}
	}
	// And a key that does not match its certificate is what Force mends.
	copyFile(t, filepath.Join(dir, AgencyKey(1)), filepath.Join(dir, AgencyKey(2)))
	if _, err := Make(Options{Dir: dir, Agencies: 2, Now: later}); err == nil {
		t.Fatal("Make with agency-2.key not agency-2.crt's: no error")
	}
	makeCerts(t, Options{Dir: dir, Agencies: 2, Force: true, Now: later})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMakeRefusesHalfPair checks that a certificate without its key, or a
// key without its certificate, stops Make naming the file, with Force
// too, and that nothing is written over it.
func TestMakeRefusesHalfPair(t *testing.T) {
	tests := []struct {
		remove  string
		force   bool
		wantErr []string
	}{
		{"agency-2.key", false, []string{"agency-2.crt exists without its key"}},
		{"agency-2.crt", false, []string{"agency-2.key exists without its certificate"}},
		{"agency-2.crt", true, []string{"agency-2.key exists without its certificate"}},
		{"central.key", true, []string{"central.crt exists without its key"}},
		{"probe.crt", false, []string{"probe.key exists without its certificate"}},
		{"ca.key", false, []string{"ca.crt exists without its key", "new lottery", "delete ca.crt and ca.key by hand"}},
		{"ca.key", true, []string{"ca.crt exists without its key", "not with -force"}},
		{"ca.crt", true, []string{"ca.key exists without its certificate", "new lottery"}},
	}
	for _, tt := range tests {
		t.Run(tt.remove, func(t *testing.T) {
			dir := newDir(t)
			makeCerts(t, Options{Dir: dir, Agencies: 2})
			if err := os.Remove(filepath.Join(dir, tt.remove)); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := Make(Options{Dir: dir, Agencies: 3, Force: tt.force, Now: testNow})
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q, want it to say %q", err, want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, tt.remove)); err == nil {
				t.Errorf("%s written", tt.remove)
			}
			after := snapshot(t, dir)
			for name, data := range before {
				if !tt.force && !bytes.Equal(data, after[name]) {
					t.Errorf("%s changed", name)
				}
				if strings.HasPrefix(name, "ca.") && !bytes.Equal(data, after[name]) {
					t.Errorf("%s changed", name)
				}
			}
		})
	}
}

// TestMakeChecksKeptFiles checks that a file kept is the one its name
// says: its key, this CA's, the right agency.
func TestMakeChecksKeptFiles(t *testing.T) {
	tests := []struct {
		name    string
		spoil   func(t *testing.T, dir, other string)
		wantErr string
	}{
		{"another agency's key", func(t *testing.T, dir, _ string) {
			copyFile(t, filepath.Join(dir, AgencyKey(1)), filepath.Join(dir, AgencyKey(2)))
		}, "agency-2.key is not the key of"},
		{"another agency's pair", func(t *testing.T, dir, _ string) {
			copyFile(t, filepath.Join(dir, AgencyKey(1)), filepath.Join(dir, AgencyKey(2)))
			copyFile(t, filepath.Join(dir, AgencyCert(1)), filepath.Join(dir, AgencyCert(2)))
		}, "agency-2.crt is agency-1's certificate"},
		{"the probe's pair as an agency's", func(t *testing.T, dir, _ string) {
			copyFile(t, filepath.Join(dir, ProbeKey), filepath.Join(dir, AgencyKey(1)))
			copyFile(t, filepath.Join(dir, ProbeCert), filepath.Join(dir, AgencyCert(1)))
		}, "agency-1.crt is probe's certificate"},
		{"another lottery's pair", func(t *testing.T, dir, other string) {
			copyFile(t, filepath.Join(other, AgencyKey(1)), filepath.Join(dir, AgencyKey(1)))
			copyFile(t, filepath.Join(other, AgencyCert(1)), filepath.Join(dir, AgencyCert(1)))
		}, "agency-1.crt is not signed by"},
		{"another lottery's CA key", func(t *testing.T, dir, other string) {
			copyFile(t, filepath.Join(other, CAKey), filepath.Join(dir, CAKey))
		}, "ca.key is not the key of"},
		{"a certificate as the CA", func(t *testing.T, dir, _ string) {
			copyFile(t, filepath.Join(dir, CentralKey), filepath.Join(dir, CAKey))
			copyFile(t, filepath.Join(dir, CentralCert), filepath.Join(dir, CACert))
		}, "ca.crt is not a CA certificate"},
		{"a key that is not PEM", func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(filepath.Join(dir, ProbeKey), []byte("not a key\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, `probe.key: no PEM block "PRIVATE KEY"`},
		{"a key in a certificate's file", func(t *testing.T, dir, _ string) {
			copyFile(t, filepath.Join(dir, CentralKey), filepath.Join(dir, CentralCert))
		}, `central.crt: a PEM block "PRIVATE KEY", want "CERTIFICATE"`},
	}
	other := newDir(t)
	makeCerts(t, Options{Dir: other, Agencies: 1})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t)
			makeCerts(t, Options{Dir: dir, Agencies: 2})
			tt.spoil(t, dir, other)
			_, err := Make(Options{Dir: dir, Agencies: 2, Now: testNow})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Make: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMakeCentralLacksAName(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir})
	_, err := Make(Options{Dir: dir, Names: []string{"lottery.example", "10.1.2.3"}, Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "does not name lottery.example, 10.1.2.3") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("Make with a new name: %v, want an error naming it and -force", err)
	}
	makeCerts(t, Options{Dir: dir, Names: []string{"lottery.example", "10.1.2.3"}, Force: true})
	cert := readCert(t, filepath.Join(dir, CentralCert))
	if !slices.Contains(cert.DNSNames, "lottery.example") || !slices.ContainsFunc(cert.IPAddresses, net.ParseIP("10.1.2.3").Equal) {
		t.Errorf("after Force: DNS %q, IP %v", cert.DNSNames, cert.IPAddresses)
	}
	makeCerts(t, Options{Dir: dir, Names: []string{"LOTTERY.example", "10.1.2.3"}})
}

// TestMakeLeafWithinCA checks that a leaf never outlives the CA, and that
// an expired CA is refused rather than replaced.
func TestMakeLeafWithinCA(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir})
	ca := readCert(t, filepath.Join(dir, CACert))
	late := ca.NotAfter.Add(-30 * 24 * time.Hour)
	makeCerts(t, Options{Dir: dir, Agencies: 1, Now: late})
	if got := readCert(t, filepath.Join(dir, AgencyCert(1))).NotAfter; !got.Equal(ca.NotAfter) {
		t.Errorf("agency NotAfter %v, want the CA's %v", got, ca.NotAfter)
	}
	_, err := Make(Options{Dir: dir, Agencies: 1, Force: true, Now: ca.NotAfter})
	if err == nil || !strings.Contains(err.Error(), "ca.crt expired") || !strings.Contains(err.Error(), "new lottery") {
		t.Errorf("Make after the CA expired: %v, want an error saying so", err)
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"good", Options{Dir: "d", Agencies: 65535, Names: []string{"a.example", "my_server", "10.0.0.1", "fe80::1", "x1"}}, ""},
		{"no agencies", Options{Dir: "d"}, ""},
		{"no directory", Options{Agencies: 1}, "no directory"},
		{"negative agencies", Options{Dir: "d", Agencies: -1}, "agencies -1 outside 0..65535"},
		{"too many agencies", Options{Dir: "d", Agencies: 65536}, "agencies 65536 outside 0..65535"},
		{"empty name", Options{Dir: "d", Names: []string{""}}, `name ""`},
		{"space", Options{Dir: "d", Names: []string{"a b"}}, `name "a b"`},
		{"zone", Options{Dir: "d", Names: []string{"fe80::1%eth0"}}, "zone"},
		{"leading hyphen", Options{Dir: "d", Names: []string{"-a"}}, `name "-a"`},
		{"empty label", Options{Dir: "d", Names: []string{"a..b"}}, `name "a..b"`},
		{"short address", Options{Dir: "d", Names: []string{"10.0.0"}}, `name "10.0.0"`},
		{"port", Options{Dir: "d", Names: []string{"server:12345"}}, `name "server:12345"`},
		{"wildcard", Options{Dir: "d", Names: []string{"*.example"}}, `name "*.example"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Check()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check: %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := Make(tt.opts); err == nil {
				t.Fatal("Make: no error")
			}
		})
	}
}

// TestWriteFileNeverReplaces checks that a file is not replaced unless
// asked, and that no temporary file stays either way.
func TestWriteFileNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir, "x.key", []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	err := writeFile(dir, "x.key", []byte("two"), 0o600, false)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second write: %v, want an error saying it exists", err)
	}
	if got := snapshot(t, dir); len(got) != 1 || string(got["x.key"]) != "one" {
		t.Fatalf("files %q, want x.key alone, still one", got)
	}
	if err := writeFile(dir, "x.key", []byte("three"), 0o600, true); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, dir); len(got) != 1 || string(got["x.key"]) != "three" {
		t.Fatalf("files %q, want x.key alone, three", got)
	}
}

// TestMakeExistingDirectoryMode checks that Make leaves the mode of a
// directory it did not create alone.
func TestMakeExistingDirectoryMode(t *testing.T) {
	dir := newDir(t)
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	makeCerts(t, Options{Dir: dir})
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o750 {
		t.Errorf("mode %v, want 0750 as it was", info.Mode().Perm())
	}
}
