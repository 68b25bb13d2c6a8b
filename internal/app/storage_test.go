package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// adminGet returns the admin endpoint's answer to path at addr.
func adminGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// storageStatus returns /status's storage at addr.
func storageStatus(t *testing.T, addr string) admin.Storage {
	t.Helper()
	code, body := adminGet(t, addr, "/status")
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status = %d, %v:\n%s", code, err, body)
	}
	return st.Storage
}

// adminConfig is a central of no agency, whose draw is held at once, as
// replica, with its admin endpoint on.
func adminConfig(replica, storageURL string) config.Server {
	cfg := apptest.Config(0)
	cfg.AdminAddress, cfg.Replica, cfg.StorageURL = "127.0.0.1:0", replica, storageURL
	return cfg
}

// waitDrawn waits until the central's domain has held or learnt the draw.
func waitDrawn(t *testing.T, c *apptest.Central) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !c.Central().Snapshot().Drawn; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no draw within 5s of a central of no agency")
		}
	}
}

// TestAdminStorage: /status and /metrics show the store, over either
// backend, and which replica held the draw: over one database, the
// replica that recorded it, for every replica.
func TestAdminStorage(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		c := apptest.Start(t, adminConfig("central-1", ""))
		waitDrawn(t, c)
		got := storageStatus(t, c.AdminAddr())
		want := admin.Storage{Backend: "file", File: c.Config.StoragePath, Reachable: true, Primary: true,
			Standbys: []admin.Standby{}, Replica: "central-1", DrawHeldBy: "central-1"}
		checkStorage(t, got, want)
		checkMetrics(t, c.AdminAddr(), "quiniela_storage_up 1", `quiniela_storage_backend_info{backend="file"} 1`,
			`quiniela_replication_standbys{sync_state="sync"} 0`, "quiniela_draw_held_by_this_replica 1")
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := pgtest.Database(t)
		one := apptest.Start(t, adminConfig("central-1", dbURL))
		waitDrawn(t, one)
		two := apptest.Start(t, adminConfig("central-2", dbURL))
		waitDrawn(t, two)
		redacted := one.Config.StorageURLRedacted()
		for _, c := range []*apptest.Central{one, two} {
			want := admin.Storage{Backend: "postgres", URL: redacted, Reachable: true, Primary: true,
				Standbys: []admin.Standby{}, Replica: c.Config.Replica, DrawHeldBy: "central-1"}
			checkStorage(t, storageStatus(t, c.AdminAddr()), want)
		}
		checkMetrics(t, one.AdminAddr(), "quiniela_storage_up 1", `quiniela_storage_backend_info{backend="postgres"} 1`,
			`quiniela_replication_standbys{sync_state="async"} 0`, "quiniela_draw_held_by_this_replica 1")
		checkMetrics(t, two.AdminAddr(), "quiniela_draw_held_by_this_replica 0")
	})
}

func checkStorage(t *testing.T, got, want admin.Storage) {
	t.Helper()
	if got.Backend != want.Backend || got.URL != want.URL || got.File != want.File || got.Reachable != want.Reachable || got.Error != want.Error ||
		got.Primary != want.Primary || got.Standbys == nil || len(got.Standbys) != 0 || got.Replica != want.Replica || got.DrawHeldBy != want.DrawHeldBy {
		t.Errorf("/status storage = %+v, want %+v", got, want)
	}
}

func checkMetrics(t *testing.T, addr string, want ...string) {
	t.Helper()
	_, body := adminGet(t, addr, "/metrics")
	for _, w := range want {
		if !strings.Contains(body, "\n"+w+"\n") {
			t.Errorf("/metrics at %s lacks %q", addr, w)
		}
	}
}

// allowConnections lets, or stops, clients connect to the database at
// dbURL; stopping them also ends the connections open to it: the
// database gone, for the central, while the test's cluster runs on.
func allowConnections(t *testing.T, dbURL string, allow bool) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, pgx.Identifier{name}.Sanitize(), allow)}
	if !allow {
		stmts = append(stmts, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`'`)
	}
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdminStorageUnreachable: while the database refuses connections,
// /status says it is unreachable and why, storage_up is 0 and /readyz
// 503; the central logs it once, and once more when it answers again.
func TestAdminStorageUnreachable(t *testing.T) {
	dbURL := pgtest.Database(t)
	cfg := adminConfig("central-1", dbURL)
	cfg.Agencies = 1 // no draw: nothing to write while the database is gone
	c := apptest.Start(t, cfg)
	addr := c.AdminAddr()
	allowConnections(t, dbURL, false)
	for range 2 {
		got := storageStatus(t, addr)
		if got.Reachable || got.Error == "" || got.Backend != "postgres" || got.Replica != "central-1" {
			t.Errorf("/status storage with the database gone = %+v, want unreachable, with why", got)
		}
		if code, body := adminGet(t, addr, "/readyz"); code != http.StatusServiceUnavailable || body != "not ready: storage unreachable\n" {
			t.Errorf("/readyz with the database gone = %d %q, want 503 not ready: storage unreachable", code, body)
		}
	}
	checkMetrics(t, addr, "quiniela_storage_up 0", `quiniela_storage_backend_info{backend="postgres"} 1`)
	allowConnections(t, dbURL, true)
	if got := storageStatus(t, addr); !got.Reachable || got.Error != "" || !got.Primary {
		t.Errorf("/status storage with the database back = %+v, want reachable", got)
	}
	if code, _ := adminGet(t, addr, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with the database back = %d, want 200", code)
	}
	checkMetrics(t, addr, "quiniela_storage_up 1")
	lines := harness.Filter(harness.ParseLog(c.Log.String()), "storage_health", "")
	if len(lines) != 2 || lines[0].Result != "fail" || lines[1].Result != "success" || lines[0].Fields["replica"] != "central-1" ||
		lines[0].Fields["error"] == "" || lines[0].Fields["url"] != c.Config.StorageURLRedacted() {
		t.Errorf("storage_health lines %q, want one fail then one success; log:\n%s", lines, c.Log)
	}
}
