package app_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// runRefused runs a central for cfg that must not start: Run returns an
// error before it listens, and Close then succeeds. It returns Run's error.
func runRefused(t *testing.T, cfg config.Server) error {
	t.Helper()
	log := &harness.Buffer{}
	m := app.NewMain(cfg, logging.New(log, cfg.LogLevel))
	m.Ready = func(net.Addr) { t.Error("Run served with settings that cannot work") }
	err := m.Run(context.Background())
	if err == nil {
		t.Fatal("Run returned no error")
	}
	if cerr := m.Close(); cerr != nil {
		t.Errorf("Close after a refused Run: %v", cerr)
	}
	return err
}

// assertEmpty fails the test if dir holds anything.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("a refused start left %s in the data directory", e.Name())
	}
}

// TestRunRefusesPastDeadline: a DRAW_DEADLINE already past at start, on
// a store that holds no draw, is refused, naming the key and
// DRAW_DEADLINE=now, and creates nothing; DRAW_DEADLINE=now draws at
// start; once the draw is recorded, a past deadline starts.
func TestRunRefusesPastDeadline(t *testing.T) {
	const past = "2020-05-01T21:00:00-03:00"
	dir := t.TempDir()
	cfg := apptest.Config(2)
	cfg.StoragePath = filepath.Join(dir, "bets.csv")
	cfg.DrawDeadline = past
	err := runRefused(t, cfg)
	if msg := err.Error(); !strings.Contains(msg, "DRAW_DEADLINE") || !strings.Contains(msg, "DRAW_DEADLINE=now") {
		t.Errorf("Run with DRAW_DEADLINE=%s: %q, want it to name the key and DRAW_DEADLINE=now", past, msg)
	}
	assertEmpty(t, dir)

	// A store that exists but holds no draw: refused all the same.
	cfg.DrawDeadline = ""
	apptest.Start(t, cfg).Stop()
	cfg.DrawDeadline = past
	if err := runRefused(t, cfg); !strings.Contains(err.Error(), "DRAW_DEADLINE") {
		t.Errorf("Run with DRAW_DEADLINE=%s over a store with no draw: %v, want it refused", past, err)
	}

	cfg.DrawDeadline = "now"
	c := apptest.Start(t, cfg)
	if !c.Central().Drawn() {
		t.Error("DRAW_DEADLINE=now: the draw was not held at start")
	}
	c.Stop()

	cfg.DrawDeadline = past
	c = apptest.Start(t, cfg)
	if !c.Central().Drawn() {
		t.Errorf("DRAW_DEADLINE=%s over a recorded draw: not drawn", past)
	}
	c.Stop()
}

// TestRunRefusesWhereItCannotListen: a start that cannot bind one of its
// listeners (a port taken, a SERVER_IP that does not resolve) fails
// before the store is created, and leaves the data directory empty.
func TestRunRefusesWhereItCannotListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		name string
		set  func(*config.Server)
		want string
	}{
		{"agencies' port taken", func(c *config.Server) { c.Port = port }, "listen"},
		{"SERVER_IP unresolvable", func(c *config.Server) { c.IP = "999.1.1.1" }, "listen"},
		{"admin port taken", func(c *config.Server) { c.AdminAddress = taken.Addr().String() }, "admin listen"},
		{"pprof port taken", func(c *config.Server) { c.PprofAddress = taken.Addr().String() }, "pprof listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := apptest.Config(1)
			cfg.StoragePath = filepath.Join(dir, "bets.csv")
			tc.set(&cfg)
			if err := runRefused(t, cfg); !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Errorf("Run: %v, want a %q error", err, tc.want)
			}
			assertEmpty(t, dir)
		})
	}
}
