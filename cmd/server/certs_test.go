package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// certsRun runs `server certs args` with AGENCIES_AMOUNT agencies and
// returns its exit code, stdout and stderr.
func certsRun(t *testing.T, agencies int, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := certsCommand(args, agencies, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

var certsLine = regexp.MustCompile(`^(made|kept) (\S+) identity=(ca|central|agency-[1-9][0-9]*|probe) serial=([0-9a-f]+) not_after=\S+$`)

func TestCertsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	code, out, errOut := certsRun(t, 5, "-dir", dir, "-agencies", "2", "-name", "lottery.example,10.0.0.9", "-name", "other")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var files []string
	for _, line := range lines {
		m := certsLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %q: not a certs line", line)
		}
		if m[1] != "made" {
			t.Errorf("line %q: want made", line)
		}
		files = append(files, filepath.Base(m[2]))
		if filepath.Dir(m[2]) != dir {
			t.Errorf("line %q: want a path in %s", line, dir)
		}
	}
	want := []string{"ca.crt", "ca.key", "central.crt", "central.key", "agency-1.crt", "agency-1.key",
		"agency-2.crt", "agency-2.key", "probe.crt", "probe.key"}
	if !slices.Equal(files, want) {
		t.Errorf("lines name %q, want %q", files, want)
	}
	if strings.Contains(out, "PRIVATE") || strings.Contains(out, "-----") {
		t.Errorf("output shows key material:\n%s", out)
	}
	for _, name := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if wantKey := strings.HasSuffix(name, ".key"); wantKey != (info.Mode().Perm() == 0o600) {
			t.Errorf("%s: mode %v", name, info.Mode().Perm())
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "central.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	central, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"server", "localhost", "lottery.example", "other"}; !slices.Equal(central.DNSNames, want) {
		t.Errorf("central's DNS names %q, want %q", central.DNSNames, want)
	}

	// Again, with one agency more: everything kept, agency 3 made.
	code, again, errOut := certsRun(t, 5, "-dir", dir, "-agencies", "3")
	if code != 0 || errOut != "" {
		t.Fatalf("again: exit %d, stderr %q", code, errOut)
	}
	gotLines := strings.Split(again, "\n")
	if len(gotLines) != len(lines)+3 {
		t.Fatalf("again: %d lines, want %d:\n%s", len(gotLines)-1, len(lines)+2, again)
	}
	for i, line := range lines[:8] {
		if kept := strings.Replace(line, "made ", "kept ", 1); gotLines[i] != kept {
			t.Errorf("again, line %d: %q, want %q", i, gotLines[i], kept)
		}
	}
	for i, prefix := range []string{"made " + filepath.Join(dir, "agency-3.crt"), "made " + filepath.Join(dir, "agency-3.key"),
		"kept " + filepath.Join(dir, "probe.crt"), "kept " + filepath.Join(dir, "probe.key")} {
		if !strings.HasPrefix(gotLines[8+i], prefix+" ") {
			t.Errorf("again, line %d: %q, want it to start %q", 8+i, gotLines[8+i], prefix)
		}
	}
}

func TestCertsCommandExitCodes(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		setup     func(t *testing.T, dir string)
		wantCode  int
		wantError string // a part of stderr
	}{
		{"help", []string{"-h"}, nil, 0, "usage: server certs"},
		{"unknown flag", []string{"-bogus"}, nil, 2, "flag provided but not defined"},
		{"argument", []string{"extra"}, nil, 2, `unexpected argument "extra"`},
		{"negative agencies", []string{"-agencies", "-1"}, nil, 2, "agencies -1 outside 0..65535"},
		{"too many agencies", []string{"-agencies", "65536"}, nil, 2, "agencies 65536 outside 0..65535"},
		{"bad name", []string{"-name", "a b"}, nil, 2, `name "a b"`},
		{"empty name in a list", []string{"-name", "a,,b"}, nil, 2, `name ""`},
		{"half pair", nil, func(t *testing.T, dir string) {
			if code, _, errOut := certsRun(t, 2, "-dir", dir); code != 0 {
				t.Fatalf("first run: exit %d: %s", code, errOut)
			}
			if err := os.Remove(filepath.Join(dir, "agency-2.key")); err != nil {
				t.Fatal(err)
			}
		}, 1, "agency-2.crt exists without its key"},
		{"key readable by others", nil, func(t *testing.T, dir string) {
			if code, _, errOut := certsRun(t, 2, "-dir", dir); code != 0 {
				t.Fatalf("first run: exit %d: %s", code, errOut)
			}
			if err := os.Chmod(filepath.Join(dir, "central.key"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 1, "central.key has mode 0644, readable by group or others: a private key must be its owner's alone; chmod 600 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "certs")
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			code, _, errOut := certsRun(t, 2, append([]string{"-dir", dir}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantError) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.wantCode, tt.wantError)
			}
			if code == 1 && strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q: want one line", errOut)
			}
		})
	}
}

// TestRunCerts runs `server certs` through run, whose -agencies defaults
// to AGENCIES_AMOUNT.
func TestRunCerts(t *testing.T) {
	t.Setenv("AGENCIES_AMOUNT", "3")
	dir := filepath.Join(t.TempDir(), "certs")
	if code := run([]string{"certs", "-dir", dir}); code != 0 {
		t.Fatalf("run certs: exit %d", code)
	}
	for _, name := range []string{"ca.key", "central.crt", "agency-3.key", "probe.crt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "agency-4.crt")); err == nil {
		t.Error("agency-4.crt made with AGENCIES_AMOUNT=3")
	}
	if code := run([]string{"certs", "-dir", dir, "-agencies", "x"}); code != 2 {
		t.Errorf("run certs -agencies x: exit %d, want 2", code)
	}
}
