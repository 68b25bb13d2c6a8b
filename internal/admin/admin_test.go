package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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
	for _, want := range []string{`http-equiv="refresh"`, "&lt;abc&gt;&amp;", ">drawn<"} {
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

func TestIngestRate(t *testing.T) {
	src := &fakeSource{st: Status{Time: time.Unix(100, 0), BetsStored: 1000}}
	h := New(src, prometheus.NewRegistry())
	h.snapshot()
	src.st = Status{Time: time.Unix(102, 0), BetsStored: 3000}
	if r := h.snapshot().IngestRate; r != 1000 {
		t.Errorf("ingest rate %v, want 1000 bets/s", r)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	src := &fakeSource{st: drawnStatus()}
	m := NewMetrics(reg, src)
	m.BatchStored(1, 20, time.Millisecond)
	m.BatchStored(2, 10, time.Millisecond)
	m.Refused("invalid_bet")
	m.Committed(2, 30, time.Millisecond)
	_, _, body := get(t, New(src, reg), "/metrics")
	for _, want := range []string{
		`quiniela_bets_stored_total{agency="1"} 20`,
		`quiniela_batches_stored_total{agency="2"} 1`,
		`quiniela_refusals_total{reason="invalid_bet"} 1`,
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
