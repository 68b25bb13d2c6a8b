package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
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
		got := defaultMemoryLimit(cfg, 0)
		if got < tt.least {
			t.Errorf("%d agencies, TLS %v: limit %d MiB, want at least %d MiB", tt.agencies, tt.tls, got/mib, tt.least/mib)
		}
		if got > 2*tt.least {
			t.Errorf("%d agencies, TLS %v: limit %d MiB, more than twice the %d MiB needed", tt.agencies, tt.tls, got/mib, tt.least/mib)
		}
	}
}

// TestContainerMemory reads a cgroup's memory limit, v2 or v1, and finds
// none where it says none.
func TestContainerMemory(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		paths []string
		want  int64
	}{
		{"v2 limited", []string{file("v2", "536870912\n")}, 512 << 20},
		{"v2 unlimited", []string{file("v2max", "max\n")}, 0},
		{"v1 limited", []string{filepath.Join(dir, "absent"), file("v1", "268435456\n")}, 256 << 20},
		{"v1 unlimited", []string{file("v1max", "9223372036854771712\n")}, 0},
		{"no cgroup", []string{filepath.Join(dir, "absent")}, 0},
	}
	for _, tt := range tests {
		if got := containerMemory(tt.paths); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestMemoryLimitInContainer: the soft limit takes at most
// containerShare of the container's memory, however many agencies.
func TestMemoryLimitInContainer(t *testing.T) {
	cfg := config.DefaultServer()
	cfg.Agencies, cfg.TLSCert = 10000, "central.pem"
	var container int64 = 512 << 20
	if got, want := defaultMemoryLimit(cfg, container), int64(float64(container)*containerShare); got != want {
		t.Errorf("10,000 TLS agencies in 512 MiB: limit %d, want %d", got, want)
	}
	cfg.Agencies = 5
	if got := defaultMemoryLimit(cfg, container); got != memoryLimit {
		t.Errorf("5 agencies in 512 MiB: limit %d, want %d", got, memoryLimit)
	}
}

// TestSetMemoryLimitWarns: a container with less memory than every agency
// connected at once may need is said at WARNING, with the need; a
// container with room, or none, at INFO.
func TestSetMemoryLimitWarns(t *testing.T) {
	if v, set := os.LookupEnv("GOMEMLIMIT"); set {
		os.Unsetenv("GOMEMLIMIT")
		t.Cleanup(func() { os.Setenv("GOMEMLIMIT", v) })
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	tls := config.DefaultServer()
	tls.Agencies, tls.TLSCert = 1000, "central.pem"
	five := config.DefaultServer()
	five.Agencies = 5
	tests := []struct {
		name      string
		cfg       config.Server
		container int64
		level     string
		fields    map[string]string
	}{
		{"no container limit", five, 0, "INFO", map[string]string{"soft_limit": "52MiB", "source": "default"}},
		{"room in the container", five, 1 << 30, "INFO", map[string]string{"soft_limit": "52MiB", "container": "1024MiB"}},
		{"a container too small", tls, 64 << 20, "WARNING", map[string]string{"soft_limit": "57MiB", "container": "64MiB", "needs": "98MiB", "agencies": "1000"}},
	}
	for _, tt := range tests {
		var buf strings.Builder
		setMemoryLimit(tt.cfg, tt.container, logging.New(&buf, slog.LevelInfo))
		l, ok := logging.Parse(strings.TrimSpace(buf.String()))
		if !ok || l.Action != "memory_limit" || l.Result != "success" || l.Level != tt.level {
			t.Errorf("%s: logged %q, want one memory_limit success line at %s", tt.name, buf.String(), tt.level)
			continue
		}
		for k, v := range tt.fields {
			if l.Fields[k] != v {
				t.Errorf("%s: %s is %q, want %q: %s", tt.name, k, l.Fields[k], v, buf.String())
			}
		}
		if _, warned := l.Fields["needs"]; warned != (tt.level == "WARNING") {
			t.Errorf("%s: needs told %v, want %v", tt.name, warned, tt.level == "WARNING")
		}
	}
}
