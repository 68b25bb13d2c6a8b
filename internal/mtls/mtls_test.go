package mtls

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
