package app_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/netguard"
)

// TestRunRefusesASmallFileLimit: a file limit that cannot hold
// SERVER_MAX_CONNECTIONS, the admin endpoint's connections and the
// central's own files refuses the start, saying those numbers, before
// anything is created on disk.
func TestRunRefusesASmallFileLimit(t *testing.T) {
	dir := t.TempDir()
	cfg := apptest.Config(1)
	cfg.StoragePath = filepath.Join(dir, "bets.csv")
	cfg.MaxConnections = 4096
	cfg.AdminAddress = "127.0.0.1:0"
	log := &harness.Buffer{}
	m := app.NewMain(cfg, logging.New(log, cfg.LogLevel))
	m.FileLimit = func() (netguard.Files, error) { return netguard.Files{Soft: 256, Hard: 256}, nil }
	m.Ready = func(net.Addr) { t.Error("Run served with a file limit of 256") }
	err := m.Run(context.Background())
	if err == nil {
		t.Fatal("Run with a file limit of 256 and SERVER_MAX_CONNECTIONS 4096 started")
	}
	for _, want := range []string{"file limit", "4224", "SERVER_MAX_CONNECTIONS 4096", "is 256, hard 256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run: %q, want it to say %q", err, want)
		}
	}
	if cerr := m.Close(); cerr != nil {
		t.Errorf("Close after a refused Run: %v", cerr)
	}
	assertEmpty(t, dir)
}
