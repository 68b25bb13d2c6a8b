package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestDrawLogSettleFor: the draw's wait settles only where stdout is the
// pipe of Docker's log driver: in a container (its marker file present),
// as its first process or with the same stdout as the first process.
func TestDrawLogSettleFor(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, ".dockerenv")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	other, otherW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(); otherW.Close() })
	self := "/proc/self/fd/" + itoa(w.Fd())
	tests := []struct {
		name           string
		marker, initFd string
		pid            int
		want           time.Duration
	}{
		{"outside a container", filepath.Join(dir, "absent"), self, 1, 0},
		{"the container's first process", marker, filepath.Join(dir, "no-such-fd"), 1, drawLogSettle},
		{"the container's stdout", marker, self, 7, drawLogSettle},
		{"another pipe in a container", marker, "/proc/self/fd/" + itoa(otherW.Fd()), 7, 0},
		{"the container's stdout unknown", marker, filepath.Join(dir, "no-such-fd"), 7, 0},
	}
	for _, tt := range tests {
		if got := drawLogSettleFor(w, tt.marker, tt.initFd, tt.pid); got != tt.want {
			t.Errorf("%s: settle %v, want %v", tt.name, got, tt.want)
		}
	}
}

func itoa(fd uintptr) string { return strconv.FormatUint(uint64(fd), 10) }
