package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeSource struct {
	st    Status
	ready error
}

func (f *fakeSource) Status() Status { return f.st }
func (f *fakeSource) Ready() error   { return f.ready }

func get(t *testing.T, h http.Handler, path string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

func drawnStatus() Status {
	at := time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC)
	two, zero := 2, 0
	return Status{
		Time: at, Expected: 2, Notified: 2, BetsStored: 30, Batches: 3,
		Draw: Draw{State: StateDrawn, Time: &at, DurationSeconds: 0.5, Bets: 30, Winners: 2, Digest: "<abc>&"},
		Agencies: []Agency{
			{Agency: 1, BetsStored: 20, Batches: 2, Done: true, Winners: &two},
			{Agency: 2, BetsStored: 10, Batches: 1, Done: true, Winners: &zero},
		},
	}
}

func TestHandlerProbes(t *testing.T) {
	src := &fakeSource{}
	h := New(src, prometheus.NewRegistry())
	if code, _, body := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _, body := get(t, h, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	src.ready = errors.New("ledger failed")
	if code, _, body := get(t, h, "/readyz"); code != 503 || body != "not ready: ledger failed\n" {
		t.Errorf("/readyz with a failed ledger = %d %q, want 503 and one line", code, body)
	}
	if code, _, _ := get(t, h, "/nothing"); code != 404 {
		t.Errorf("/nothing = %d, want 404", code)
	}
}

func TestHandlerStatusAndPage(t *testing.T) {
	src := &fakeSource{st: drawnStatus()}
	h := New(src, prometheus.NewRegistry())
	code, ctype, body := get(t, h, "/status")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("/status = %d %s", code, ctype)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"agencies_expected", "agencies_notified", "agencies_connected", "bets_stored", "batches", "ingest_rate", "draw", "agencies"} {
		if _, ok := got[k]; !ok {
			t.Errorf("/status lacks %q: %s", k, body)
		}
	}
	draw := got["draw"].(map[string]any)
	if draw["state"] != "drawn" || draw["digest"] != "<abc>&" {
		t.Errorf("draw = %v", draw)
	}
	ags := got["agencies"].([]any)
	if len(ags) != 2 || ags[1].(map[string]any)["winners"] != 0.0 {
		t.Errorf("agencies = %v, want agency 2 with winners 0", ags)
	}

	code, ctype, page := get(t, h, "/")
	if code != 200 || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("/ = %d %s", code, ctype)
	}
	for _, want := range []string{`http-equiv="refresh"`, "&lt;abc&gt;&amp;", ">realizado<"} {
		if !strings.Contains(page, want) {
			t.Errorf("/ lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<abc>") {
		t.Error("/ does not escape the digest")
	}
	for _, bad := range []string{"<script", "<link", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("/ refers to %q: the deployment is offline", bad)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	src := &fakeSource{st: drawnStatus()}
	m := NewMetrics(reg, src, []string{"invalid_bet", "busy", "tls"})
	m.BatchStored(1, 20, time.Millisecond)
	m.BatchStored(2, 10, time.Millisecond)
	m.Refused("invalid_bet")
	m.Committed(2, 30, time.Millisecond)
	_, _, body := get(t, New(src, reg), "/metrics")
	for _, want := range []string{
		`quiniela_bets_stored_total{agency="1"} 20`,
		`quiniela_batches_stored_total{agency="2"} 1`,
		`quiniela_refusals_total{reason="invalid_bet"} 1`,
		`quiniela_refusals_total{reason="busy"} 0`,
		`quiniela_refusals_total{reason="tls"} 0`,
		`quiniela_build_info{goversion="go`,
		"quiniela_draw_deadline_timestamp_seconds 0",
		"quiniela_log_fail_lines_total 0",
		`quiniela_draw_state{state="drawn"} 1`,
		`quiniela_draw_state{state="open"} 0`,
		`quiniela_notified_agencies 2`,
		`quiniela_draw_winners{agency="1"} 2`,
		"quiniela_fsync_duration_seconds_bucket",
		"quiniela_group_commit_bets_count 1",
		"quiniela_ack_latency_seconds_count 2",
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestStorageStatus: /status serves the store's state under "storage",
// standbys an empty list rather than null, and the page shows it.
func TestStorageStatus(t *testing.T) {
	tests := []struct {
		name    string
		storage Storage
		want    map[string]any
		page    []string
	}{
		{
			name:    "file",
			storage: Storage{Backend: BackendFile, File: "/data/bets.csv", Reachable: true, Primary: true, Standbys: []Standby{}, Replica: "central-1", DrawHeldBy: "central-1"},
			want:    map[string]any{"backend": "file", "file": "/data/bets.csv", "reachable": true, "primary": true, "standbys": []any{}, "replica": "central-1", "draw_held_by": "central-1"},
			page:    []string{">file<", "/data/bets.csv", "responde, primario", "Esta réplica: central-1."},
		},
		{
			name: "postgres",
			storage: Storage{Backend: BackendPostgres, URL: "postgres://lottery:xxxxx@db:5432/quiniela", Reachable: true, Primary: true,
				Standbys: []Standby{{Name: "db2", State: "streaming", SyncState: "sync"}}, Replica: "central-2", DrawHeldBy: "central-1"},
			want: map[string]any{"backend": "postgres", "url": "postgres://lottery:xxxxx@db:5432/quiniela", "reachable": true, "primary": true,
				"standbys": []any{map[string]any{"name": "db2", "state": "streaming", "sync_state": "sync"}}, "replica": "central-2", "draw_held_by": "central-1"},
			page: []string{">postgres<", "<td>db2</td><td>streaming</td><td>sync</td>", "El sorteo lo realizó central-1"},
		},
		{
			name:    "unreachable",
			storage: Storage{Backend: BackendPostgres, URL: "postgres://db/q", Error: "storage health: timeout", Standbys: []Standby{}, Replica: "central-2"},
			want: map[string]any{"backend": "postgres", "url": "postgres://db/q", "reachable": false, "error": "storage health: timeout", "primary": false,
				"standbys": []any{}, "replica": "central-2", "draw_held_by": ""},
			page: []string{"<strong>no responde</strong> (storage health: timeout)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := drawnStatus()
			st.Storage = tt.storage
			h := New(&fakeSource{st: st}, prometheus.NewRegistry())
			_, _, body := get(t, h, "/status")
			var got struct {
				Storage map[string]any `json:"storage"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Storage, tt.want) {
				t.Errorf("storage = %v, want %v", got.Storage, tt.want)
			}
			_, _, page := get(t, h, "/")
			for _, want := range tt.page {
				if !strings.Contains(page, want) {
					t.Errorf("/ lacks %q:\n%s", want, page)
				}
			}
		})
	}
}

// TestStorageMetrics: the store's gauges, every sync_state present.
func TestStorageMetrics(t *testing.T) {
	tests := []struct {
		name    string
		storage Storage
		want    []string
	}{
		{
			name:    "file",
			storage: Storage{Backend: BackendFile, Reachable: true, Primary: true, Replica: "c1", DrawHeldBy: "c1"},
			want: []string{"quiniela_storage_up 1", `quiniela_storage_backend_info{backend="file"} 1`,
				`quiniela_replication_standbys{sync_state="sync"} 0`, "quiniela_draw_held_by_this_replica 1"},
		},
		{
			name: "postgres with standbys, draw held by another replica",
			storage: Storage{Backend: BackendPostgres, Reachable: true, Primary: true, Replica: "c2", DrawHeldBy: "c1",
				Standbys: []Standby{{Name: "a", SyncState: "sync"}, {Name: "b", SyncState: "potential"}, {Name: "c", SyncState: "potential"}}},
			want: []string{"quiniela_storage_up 1", `quiniela_storage_backend_info{backend="postgres"} 1`,
				`quiniela_replication_standbys{sync_state="sync"} 1`, `quiniela_replication_standbys{sync_state="potential"} 2`,
				`quiniela_replication_standbys{sync_state="async"} 0`, `quiniela_replication_standbys{sync_state="quorum"} 0`,
				"quiniela_draw_held_by_this_replica 0"},
		},
		{
			name:    "unreachable, before the draw",
			storage: Storage{Backend: BackendPostgres, Error: "down", Replica: "c2"},
			want:    []string{"quiniela_storage_up 0", `quiniela_storage_backend_info{backend="postgres"} 1`, "quiniela_draw_held_by_this_replica 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st := drawnStatus()
			st.Storage = tt.storage
			src := &fakeSource{st: st}
			NewMetrics(reg, src, []string{"invalid_bet", "busy", "tls"})
			_, _, body := get(t, New(src, reg), "/metrics")
			for _, want := range tt.want {
				if !strings.Contains(body, want+"\n") {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		})
	}
}
