package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// adminGet fetches path from the central's admin endpoint.
func adminGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// metricValue returns the value of the sample name{labels} (labels as
// written in the text format, "" for none).
func metricValue(t *testing.T, metrics, name, labels string) float64 {
	t.Helper()
	sel := name
	if labels != "" {
		sel += "{" + labels + "}"
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sel) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Errorf("/metrics has no %s", sel)
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Errorf("/metrics %s: %v", sel, err)
	}
	return v
}

// TestAdminEndpoint runs the course dataset against a central with its
// admin endpoint on, and checks every endpoint against the run.
func TestAdminEndpoint(t *testing.T) {
	data := extractDataset(t)
	agencies := len(courseWinners)
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(agencies), "SERVER_ADMIN_ADDRESS": "127.0.0.1:0"})
	lines := harness.Filter(srv.Lines(), "admin", "in_progress")
	if len(lines) != 1 {
		t.Fatalf("%d admin in_progress lines, want 1:\n%s", len(lines), srv.Log())
	}
	addr := lines[0].Fields["address"]

	// During the run.
	if code, body := adminGet(t, addr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := adminGet(t, addr, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q, want 200 ready", code, body)
	}
	if _, body := adminGet(t, addr, "/metrics"); metricValue(t, body, "quiniela_draw_state", `state="open"`) != 1 {
		t.Errorf("before any agency: the draw is not open")
	}
	clients := startAgencies(t, srv.Addr, data, agencies)
	if code, _ := adminGet(t, addr, "/status"); code != 200 {
		t.Errorf("/status during the run = %d", code)
	}
	assertAgenciesWon(t, clients, courseWinners)

	// After the run, the central still up.
	var responses []string
	code, metrics := adminGet(t, addr, "/metrics")
	responses = append(responses, metrics)
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	total := 0.0
	for i, want := range courseBets {
		v := metricValue(t, metrics, "quiniela_bets_stored_total", `agency="`+strconv.Itoa(i+1)+`"`)
		if v != float64(want) {
			t.Errorf("quiniela_bets_stored_total{agency=%d} = %v, want %d", i+1, v, want)
		}
		total += v
		if b := metricValue(t, metrics, "quiniela_batches_stored_total", `agency="`+strconv.Itoa(i+1)+`"`); b < 1 {
			t.Errorf("agency %d: %v batches stored", i+1, b)
		}
		if w := metricValue(t, metrics, "quiniela_draw_winners", `agency="`+strconv.Itoa(i+1)+`"`); w != float64(courseWinners[i]) {
			t.Errorf("quiniela_draw_winners{agency=%d} = %v, want %d", i+1, w, courseWinners[i])
		}
	}
	if total != courseTotal {
		t.Errorf("quiniela_bets_stored_total sums to %v, want %d", total, courseTotal)
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"quiniela_notified_agencies", "", 5},
		{"quiniela_expected_agencies", "", 5},
		{"quiniela_draw_state", `state="drawn"`, 1},
		{"quiniela_draw_state", `state="open"`, 0},
	} {
		if v := metricValue(t, metrics, c.name, c.labels); v != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v := metricValue(t, metrics, "quiniela_draw_duration_seconds", ""); v <= 0 {
		t.Errorf("quiniela_draw_duration_seconds = %v, want > 0", v)
	}
	for _, name := range []string{"quiniela_group_commit_bets_count", "quiniela_fsync_duration_seconds_count", "quiniela_ack_latency_seconds_count"} {
		if v := metricValue(t, metrics, name, ""); v < 1 {
			t.Errorf("%s = %v, want at least 1", name, v)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if !strings.Contains(metrics, "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	code, body := adminGet(t, addr, "/status")
	responses = append(responses, body)
	var st struct {
		Expected   int    `json:"agencies_expected"`
		Notified   int    `json:"agencies_notified"`
		BetsStored uint64 `json:"bets_stored"`
		Draw       struct {
			State   string     `json:"state"`
			Time    *time.Time `json:"time"`
			Digest  string     `json:"digest"`
			Winners int        `json:"winners"`
		} `json:"draw"`
		Agencies []struct {
			Agency     int        `json:"agency"`
			BetsStored uint64     `json:"bets_stored"`
			Batches    uint64     `json:"batches"`
			Done       bool       `json:"done"`
			LastSeen   *time.Time `json:"last_seen"`
			Winners    *int       `json:"winners"`
		} `json:"agencies"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/status = %d, %v:\n%s", code, err, body)
	}
	_, draw := expectedDigests(t, data, agencies)
	if st.Expected != 5 || st.Notified != 5 || st.BetsStored != courseTotal || st.Draw.State != "drawn" || st.Draw.Time == nil || st.Draw.Winners != sum(courseWinners) {
		t.Errorf("/status totals: %s", body)
	}
	if st.Draw.Digest != draw.String() {
		t.Errorf("/status draw digest %q, want %s", st.Draw.Digest, draw)
	}
	if len(st.Agencies) != agencies {
		t.Fatalf("/status has %d agencies, want %d", len(st.Agencies), agencies)
	}
	for i, a := range st.Agencies {
		if a.Agency != i+1 || a.BetsStored != uint64(courseBets[i]) || !a.Done || a.Batches < 1 || a.LastSeen == nil || a.Winners == nil || *a.Winners != courseWinners[i] {
			t.Errorf("/status agency %d: %+v, want %d bets, done, %d winners", i+1, a, courseBets[i], courseWinners[i])
		}
	}

	code, page := adminGet(t, addr, "/")
	responses = append(responses, page)
	if code != 200 || !strings.Contains(page, "<html") || !strings.Contains(page, draw.String()) || !strings.Contains(page, `http-equiv="refresh"`) {
		t.Errorf("/ = %d, want an HTML page that refreshes and shows the digest %s:\n%s", code, draw, page)
	}

	// No winner's document on any admin page.
	var docs []string
	for id := 1; id <= agencies; id++ {
		for _, b := range readAgencyBets(t, agencyFile(data, id), id) {
			if b.Number == winnerNumber {
				docs = append(docs, b.Document)
			}
		}
	}
	if len(docs) != sum(courseWinners) {
		t.Fatalf("%d winning bets in the dataset, want %d", len(docs), sum(courseWinners))
	}
	for _, r := range responses {
		for _, d := range docs {
			if strings.Contains(r, d) {
				t.Errorf("an admin response names the winner's document %s", d)
			}
		}
	}

	// The admin endpoint closes with the central, before its store.
	srv.Stop(t)
	lines = srv.Lines()
	closes := harness.Filter(lines, "close", "success")
	adminAt, storeAt := -1, -1
	for _, l := range closes {
		switch l.Fields["resource"] {
		case "admin":
			adminAt = l.Pos
			if l.Fields["address"] != addr {
				t.Errorf("admin close names %q, want %s", l.Fields["address"], addr)
			}
		case "storage":
			storeAt = l.Pos
		}
	}
	if adminAt < 0 || storeAt < 0 || adminAt > storeAt {
		t.Errorf("close lines: admin at %d, storage at %d; want admin first", adminAt, storeAt)
	}
	assertCleanLog(t, "server", srv.Log())
}
