package admin

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestAgencyState(t *testing.T) {
	at := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
	before, after := at.Add(-time.Minute), at.Add(time.Minute)
	refusal := func(t time.Time) *Refusal { return &Refusal{Time: t, Reason: "forbidden", Latest: true} }
	earlier := &Refusal{Time: before, Reason: "forbidden"} // a session began since
	tests := []struct {
		name   string
		a      Agency
		closed bool
		want   string
	}{
		{"never seen", Agency{}, false, AgencyAbsent},
		{"connected", Agency{Connected: true, LastSeen: &at}, false, AgencyUploading},
		{"gone, not done", Agency{LastSeen: &at}, false, AgencyWaiting},
		{"done", Agency{Done: true, LastSeen: &at}, false, AgencyDone},
		{"done, sales closed", Agency{Done: true, LastSeen: &at}, true, AgencyDone},
		{"refused at its handshake, never let in", Agency{LastRefusal: refusal(at)}, false, AgencyRefused},
		{"refused in its latest session, which closed", Agency{LastSeen: &after, LastRefusal: refusal(at)}, false, AgencyRefused},
		{"refused, then came back and left", Agency{LastSeen: &after, LastRefusal: earlier}, false, AgencyWaiting},
		{"refused, connected again", Agency{Connected: true, LastSeen: &after, LastRefusal: earlier}, false, AgencyUploading},
		{"not done when sales closed", Agency{LastSeen: &at}, true, AgencyAbsent},
		{"connected, not done when sales closed", Agency{Connected: true, LastSeen: &at}, true, AgencyAbsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stateOf(tt.a, tt.closed); got != tt.want {
				t.Errorf("stateOf = %s, want %s", got, tt.want)
			}
		})
	}
}

// drawDayStatus is a status before the draw, with a deadline 9 min 58 s
// ahead, in Buenos Aires time, and an agency in each state.
func drawDayStatus(t *testing.T) Status {
	t.Helper()
	zone := time.FixedZone("-03", -3*3600)
	now := time.Date(2026, 5, 1, 20, 50, 2, 0, zone)
	deadline := now.Add(9*time.Minute + 58*time.Second)
	seen := now.Add(-3 * time.Second)
	return Status{
		Time: now, Zone: "America/Argentina/Buenos_Aires (-03:00)", Expected: 4, Notified: 1, Connected: 1, BetsStored: 1400,
		Refusals: map[string]uint64{"tls": 1, "busy": 0, "forbidden": 2}, RefusalsTotal: 3, Failures: 3,
		Draw: Draw{State: StateOpen, Deadline: &deadline},
		Agencies: []Agency{
			{Agency: 1, BetsStored: 1000, Declared: 1000, Done: true, LastSeen: &seen},
			{Agency: 2, BetsStored: 400, Declared: 1000, Connected: true, LastSeen: &seen},
			{Agency: 3, LastRefusal: &Refusal{Time: seen, Reason: "tls", Message: "agency 3 serial 0a: revoked (SERVER_TLS_REVOKED)", Latest: true}},
			{Agency: 4},
		},
	}
}

func TestStatusDrawDay(t *testing.T) {
	h := New(&fakeSource{st: drawDayStatus(t)}, prometheus.NewRegistry())
	_, _, body := get(t, h, "/status")
	var got struct {
		Zone     string            `json:"zone"`
		Refusals map[string]uint64 `json:"refusals"`
		Total    uint64            `json:"refusals_total"`
		Failures uint64            `json:"failures"`
		Draw     struct {
			State       string `json:"state"`
			Deadline    string `json:"deadline"`
			SecondsLeft *int64 `json:"seconds_left"`
		} `json:"draw"`
		Agencies []struct {
			State       string   `json:"state"`
			Declared    uint64   `json:"declared"`
			Percent     *float64 `json:"percent"`
			LastRefusal *struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"last_refusal"`
		} `json:"agencies"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Draw.Deadline != "2026-05-01T21:00:00-03:00" || got.Draw.SecondsLeft == nil || *got.Draw.SecondsLeft != 598 {
		t.Errorf("draw = %+v, want the deadline 2026-05-01T21:00:00-03:00 and 598 seconds left", got.Draw)
	}
	if got.Zone != "America/Argentina/Buenos_Aires (-03:00)" || got.Total != 3 || got.Refusals["forbidden"] != 2 || got.Failures != 3 {
		t.Errorf("zone %q, refusals %v (total %d), failures %d", got.Zone, got.Refusals, got.Total, got.Failures)
	}
	want := []struct {
		state   string
		percent float64 // -1: none
		refusal string
	}{{AgencyDone, 100, ""}, {AgencyUploading, 40, ""}, {AgencyRefused, -1, "tls"}, {AgencyAbsent, -1, ""}}
	for i, w := range want {
		a := got.Agencies[i]
		switch {
		case a.State != w.state:
			t.Errorf("agency %d is %s, want %s", i+1, a.State, w.state)
		case (a.Percent == nil) != (w.percent < 0) || a.Percent != nil && *a.Percent != w.percent:
			t.Errorf("agency %d's percent is %v, want %v", i+1, a.Percent, w.percent)
		case (a.LastRefusal == nil) != (w.refusal == "") || a.LastRefusal != nil && a.LastRefusal.Reason != w.refusal:
			t.Errorf("agency %d's last refusal is %+v, want %q", i+1, a.LastRefusal, w.refusal)
		}
	}

	_, _, page := get(t, h, "/")
	for _, want := range []string{
		`<span id="deadline">2026-05-01 21:00:00 -03:00</span>`, `<strong id="countdown">0:09:58</strong>`,
		`<span id="zone">America/Argentina/Buenos_Aires (-03:00)</span>`, `<span id="draw-state">abierto</span>`,
		"40.0\u00a0%", ">subiendo<", ">completa<", ">rechazada<", ">ausente<",
		"20:49:59 tls: agency 3 serial 0a: revoked (SERVER_TLS_REVOKED)",
		`<strong id="refusals">3</strong> (forbidden: 2, tls: 1)`, `<strong id="failures">3</strong>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/ lacks %q:\n%s", want, page)
		}
	}
	for _, english := range []string{"Bets stored", "agencies notified", "Draw:", "never", "reachable"} {
		if strings.Contains(page, english) {
			t.Errorf("/ says %q in English: its text is Spanish", english)
		}
	}
}

// TestStatusNoDeadline: without DRAW_DEADLINE there is no countdown, and
// the page says the draw waits for every agency; once sales close there
// is no countdown either.
func TestStatusNoDeadline(t *testing.T) {
	st := drawDayStatus(t)
	st.Draw.Deadline = nil
	_, _, body := get(t, New(&fakeSource{st: st}, prometheus.NewRegistry()), "/status")
	if strings.Contains(body, "deadline") || strings.Contains(body, "seconds_left") {
		t.Errorf("/status without a deadline names one: %s", body)
	}
	st = drawDayStatus(t)
	st.Draw.State = StateClosed
	_, _, page := get(t, New(&fakeSource{st: st}, prometheus.NewRegistry()), "/")
	if strings.Contains(page, "countdown") || !strings.Contains(page, `id="deadline"`) {
		t.Errorf("with sales closed the page shows a countdown or no deadline:\n%s", page)
	}
}

func TestMetricsDrawDay(t *testing.T) {
	reg := prometheus.NewRegistry()
	src := &fakeSource{st: drawDayStatus(t)}
	m := NewMetrics(reg, src, []string{"busy", "forbidden"})
	m.Agencies(4)
	m.Refused("forbidden")
	_, _, body := get(t, New(src, reg), "/metrics")
	for _, want := range []string{
		`quiniela_bets_stored_total{agency="4"} 0`, `quiniela_batches_stored_total{agency="1"} 0`,
		`quiniela_refusals_total{reason="busy"} 0`, `quiniela_refusals_total{reason="forbidden"} 1`,
		"quiniela_draw_deadline_timestamp_seconds 1.77768e+09", "quiniela_log_fail_lines_total 3",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if got, total := m.Refusals(); got["busy"] != 0 || got["forbidden"] != 1 || total != 1 || len(got) != 2 {
		t.Errorf("Refusals() = %v, %d", got, total)
	}
}

// TestOperationsMetricList checks that docs/OPERATIONS.md's table of
// metrics lists exactly the quiniela_* metrics /metrics serves.
func TestOperationsMetricList(t *testing.T) {
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	if i := strings.Index(section, "\n## Metrics\n"); i >= 0 {
		section = section[i:]
	}
	if i := strings.Index(section[1:], "\n## "); i >= 0 {
		section = section[:i+1]
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(quiniela_[a-z_]+)").FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	reg := prometheus.NewRegistry()
	st := drawnStatus()
	st.Storage = Storage{Backend: BackendFile, Reachable: true}
	m := NewMetrics(reg, &fakeSource{st: st}, []string{"busy"})
	m.Agencies(2)
	m.BatchStored(1, 1, time.Millisecond)
	m.Committed(1, 1, time.Millisecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "quiniela_") {
			served = append(served, f.GetName())
		}
	}
	slices.Sort(listed)
	slices.Sort(served)
	if len(listed) == 0 || !slices.Equal(listed, served) {
		t.Errorf("docs/OPERATIONS.md's Metrics table lists\n%v\n/metrics serves\n%v", listed, served)
	}
}
