package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite: a new file with its mode; an existing one replaced only when
// asked; no temporary file left behind either way.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Write(path, []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("two"), 0o600, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Write over an existing file without replace = %v, want it refused", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("the refused write changed the file: %q", b)
	}
	if err := Write(path, []byte("three"), 0o644, true); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if b, _ := os.ReadFile(path); err != nil || string(b) != "three" || info.Mode().Perm() != 0o644 {
		t.Errorf("after replace: %q, %v, %v; want three, 0644", b, info.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("%d entries in the directory (%v), want only the file", len(entries), err)
	}
}

// TestWriteMode: the file written has the mode asked for, whatever the
// mode of the file it replaces (a winners file or a key of mode 0644 left
// by an older version is replaced by one of 0600, not kept as it was).
func TestWriteMode(t *testing.T) {
	tests := []struct {
		old, mode os.FileMode
	}{
		{0o644, 0o600},
		{0o666, 0o600},
		{0o600, 0o644},
		{0, 0o600}, // no file before
	}
	for _, tt := range tests {
		t.Run(tt.old.String()+" to "+tt.mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if tt.old != 0 {
				if err := os.WriteFile(path, []byte("old"), tt.old); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.old); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, []byte("new"), tt.mode, true); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != tt.mode {
				t.Errorf("mode %v, want %v", info.Mode().Perm(), tt.mode)
			}
		})
	}
}
