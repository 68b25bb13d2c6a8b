package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
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

// TestDefaultMemoryLimit: the soft limit never falls under memoryLimit,
// and leaves room for what each connection measured keeps live (about 25
// KiB in plaintext at 10,000 agencies, 57 KiB with TLS): under it, the
// collector runs without rest.
func TestDefaultMemoryLimit(t *testing.T) {
	const kib, mib = 1 << 10, 1 << 20
	tests := []struct {
		agencies int
		tls      bool
		least    int64
	}{
		{5, false, memoryLimit},
		{5, true, memoryLimit},
		{1000, false, memoryLimit},
		{10000, false, 24*mib + 10000*25*kib},
		{10000, true, 24*mib + 10000*57*kib},
	}
	for _, tt := range tests {
		cfg := config.DefaultServer()
		cfg.Agencies = tt.agencies
		if tt.tls {
			cfg.TLSCert = "central.pem"
		}
		got := defaultMemoryLimit(cfg)
		if got < tt.least {
			t.Errorf("%d agencies, TLS %v: limit %d MiB, want at least %d MiB", tt.agencies, tt.tls, got/mib, tt.least/mib)
		}
		if got > 2*tt.least {
			t.Errorf("%d agencies, TLS %v: limit %d MiB, more than twice the %d MiB needed", tt.agencies, tt.tls, got/mib, tt.least/mib)
		}
	}
}
