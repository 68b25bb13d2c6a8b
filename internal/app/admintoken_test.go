package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestAdminDefaultsAgree: SERVER_ADMIN_IDLE_TIMEOUT's default, which
// config states without importing admin, is the admin endpoint's own.
func TestAdminDefaultsAgree(t *testing.T) {
	if got, want := config.DefaultServer().AdminIdleTimeout, admin.DefaultLimits().IdleTimeout; got != want {
		t.Errorf("SERVER_ADMIN_IDLE_TIMEOUT defaults to %v, admin.DefaultLimits to %v", got, want)
	}
}

// adminStatus is the status code of GET path at addr with Authorization
// auth (none where empty).
func adminStatus(t *testing.T, addr, path, auth string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestAdminToken: with SERVER_ADMIN_TOKEN_FILE, the running central's
// admin endpoint wants the token everywhere but the probes, and says in
// its admin line that it does.
func TestAdminToken(t *testing.T) {
	const token = "5f0c1e3a9b7d2c4e6f8a0b1c2d3e4f5a"
	path := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := apptest.Config(1)
	cfg.AdminAddress, cfg.AdminTokenFile = "127.0.0.1:0", path
	c := apptest.Start(t, cfg)
	defer c.Stop()
	addr := c.AdminAddr()
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/status", "", 401},
		{"/metrics", "", 401},
		{"/", "Bearer not-the-token", 401},
		{"/status", "Bearer " + token, 200},
		{"/metrics", "Bearer " + token, 200},
		{"/", "Bearer " + token, 200},
	} {
		if got := adminStatus(t, addr, tc.path, tc.auth); got != tc.want {
			t.Errorf("GET %s with %q = %d, want %d", tc.path, tc.auth, got, tc.want)
		}
	}
	if lines := harness.With(harness.Filter(harness.ParseLog(c.Log.String()), "admin", "in_progress"), "auth", "token"); len(lines) != 1 {
		t.Errorf("no admin line with auth: token:\n%s", c.Log)
	}
	if strings.Contains(c.Log.String(), token) {
		t.Errorf("the log tells the token:\n%s", c.Log)
	}
}

// TestAdminTokenRefusedAtStart: a token file that others may read, or
// that is missing, stops the start before anything opens, naming the key.
func TestAdminTokenRefusedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"group readable", 0o640, "chmod 600"},
		{"world readable", 0o644, "chmod 600"},
		{"missing", 0, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "admin.token")
			if tc.mode != 0 {
				if err := os.WriteFile(path, []byte("5f0c1e3a9b7d2c4e6f8a0b1c2d3e4f5a"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			data := t.TempDir()
			cfg := apptest.Config(1)
			cfg.StoragePath = filepath.Join(data, "bets.csv")
			cfg.AdminAddress, cfg.AdminTokenFile = "127.0.0.1:0", path
			err := runRefused(t, cfg)
			if !strings.Contains(err.Error(), "SERVER_ADMIN_TOKEN_FILE") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want SERVER_ADMIN_TOKEN_FILE and %q", err, tc.want)
			}
			assertEmpty(t, data)
		})
	}
}
