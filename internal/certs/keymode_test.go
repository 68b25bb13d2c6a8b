package certs

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeRefusesReadableKey checks that Make refuses to use a kept key
// that group or others may read, naming the file, its mode and the fix,
// and changes nothing; a key its owner alone may read (0600, or 0400 as
// scripts/deploy-certs.sh writes them) is used.
func TestMakeRefusesReadableKey(t *testing.T) {
	tests := []struct {
		key  string
		mode fs.FileMode
		ok   bool
	}{
		{CAKey, 0o644, false},
		{CAKey, 0o640, false},
		{CentralKey, 0o604, false},
		{AgencyKey(2), 0o660, false},
		{AgencyKey(2), 0o602, false},
		{ProbeKey, 0o700, true},
		{AgencyKey(2), 0o600, true},
		{CAKey, 0o400, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %04o", tt.key, tt.mode), func(t *testing.T) {
			dir := newDir(t)
			makeCerts(t, Options{Dir: dir, Agencies: 2})
			path := filepath.Join(dir, tt.key)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := Make(Options{Dir: dir, Agencies: 2, Now: testNow})
			if tt.ok {
				if err != nil {
					t.Fatalf("Make with %s mode %04o: %v, want it used", tt.key, tt.mode, err)
				}
				return
			}
			want := fmt.Sprintf("%s has mode %04o, readable by group or others", path, tt.mode)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("Make: %v, want an error containing %q and the fix, chmod 600 %s", err, want, path)
			}
			after := snapshot(t, dir)
			for name, data := range before {
				if !bytes.Equal(after[name], data) {
					t.Errorf("%s changed by the refused run", name)
				}
			}
			if len(after) != len(before) {
				t.Errorf("%d files after the refused run, want %d", len(after), len(before))
			}
		})
	}
}

// TestMakeForceReplacesReadableKey checks that -force, which issues a
// leaf's key anew rather than use it, replaces a group-readable key with a
// new one of mode 0600; the CA's key, which Force never replaces, is still
// refused.
func TestMakeForceReplacesReadableKey(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 1})
	path := filepath.Join(dir, AgencyKey(1))
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	makeCerts(t, Options{Dir: dir, Agencies: 1, Force: true})
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != keyMode {
		t.Errorf("%s after -force: mode %v, want %v", path, info.Mode(), fs.FileMode(keyMode))
	}
	if now, _ := os.ReadFile(path); bytes.Equal(now, old) {
		t.Errorf("%s after -force: the same key, want a new one", path)
	}

	if err := os.Chmod(filepath.Join(dir, CAKey), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Make(Options{Dir: dir, Agencies: 1, Force: true, Now: testNow}); err == nil ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Make -force with ca.key 0644: %v, want it refused", err)
	}
}
