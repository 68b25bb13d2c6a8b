package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// TestMain stops the test cluster of PostgreSQL, if a test started one
// (pgtest.Main), and fails the package if any goroutine outlives its
// tests: Close closes everything Run opened.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := pgtest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestCloseInReverseOrder: with every endpoint on, Close closes the
// admin endpoint, the profiler and the store, in that order, one success
// line each; /readyz said ready while the central served; a second Close
// does and logs nothing.
func TestCloseInReverseOrder(t *testing.T) {
	cfg := apptest.Config(1)
	cfg.AdminAddress, cfg.PprofAddress = "127.0.0.1:0", "127.0.0.1:0"
	c := apptest.Start(t, cfg)
	if got := readyz(t, c.AdminAddr()); got != "ready" {
		t.Errorf("/readyz while serving: %q, want ready", got)
	}
	c.Stop()
	var closed []string
	for _, l := range harness.Filter(harness.ParseLog(c.Log.String()), "close", "") {
		if l.Result != logging.ResultSuccess {
			t.Errorf("close line not a success: %s", l)
		}
		closed = append(closed, l.Fields["resource"])
	}
	// The server closes the listener before Run returns; Close the rest.
	if want := []string{"listener", "admin", "pprof", "storage"}; !slices.Equal(closed, want) {
		t.Errorf("closed %q, want %q; log:\n%s", closed, want, c.Log)
	}
	before := c.Log.String()
	if err := c.Close(); err != nil || c.Log.String() != before {
		t.Errorf("a second Close: %v, and logged %q", err, strings.TrimPrefix(c.Log.String(), before))
	}
}

// readyz returns the admin endpoint's answer to /readyz at addr.
func readyz(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRunRefusesBadSettings: what cannot work fails Run before anything
// opens or listens, naming the setting, and Close then has nothing to
// close.
func TestRunRefusesBadSettings(t *testing.T) {
	cfg := apptest.Config(1)
	cfg.StoragePath = filepath.Join(t.TempDir(), "bets.csv")
	cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA = "missing.crt", "missing.key", "missing-ca.crt"
	log := &harness.Buffer{}
	m := app.NewMain(cfg, logging.New(log, cfg.LogLevel))
	m.Ready = func(net.Addr) { t.Error("Run listened with settings that cannot work") }
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SERVER_TLS_") {
		t.Errorf("Run with missing certificates: %v, want an error naming SERVER_TLS_*", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close after a failed Run: %v", err)
	}
	if lines := harness.Filter(harness.ParseLog(log.String()), "close", ""); len(lines) != 0 {
		t.Errorf("Close after a failed Run logged %q", lines)
	}
	if _, err := os.Stat(cfg.StoragePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Run opened the store before it checked TLS: %v", err)
	}
}
