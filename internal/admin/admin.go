// Package admin is the central's operators' endpoint: health and
// readiness probes, Prometheus metrics, and the lottery's status as JSON
// and as a self-refreshing HTML page. It is an adapter: it reads what the
// central, the server and the store expose through Source and the
// observer hooks, and decides nothing. Nothing it serves names a winner:
// only counts and digests.
package admin

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the admin endpoint reads, defined by its consumer.
type Source interface {
	// Status returns the lottery's state now.
	Status() Status
	// Ready returns nil when the central serves agencies, or why not in
	// a few words.
	Ready() error
}

// Status is the lottery's state, as /status serves it. Its times are in
// the zone Zone names (LOGGING_TIMEZONE), the log lines' own.
type Status struct {
	Time time.Time `json:"time"`
	// Zone names the zone of every time shown, with its offset
	// ("America/Argentina/Buenos_Aires (-03:00)").
	Zone        string `json:"zone"`
	Expected    int    `json:"agencies_expected"`
	Notified    int    `json:"agencies_notified"`
	Connected   int    `json:"agencies_connected"`
	Connections int    `json:"open_connections"`
	BetsStored  uint64 `json:"bets_stored"`
	Batches     uint64 `json:"batches"`
	// IngestRate is bets committed per second over the last few seconds
	// (see Rate); 0 when idle.
	IngestRate float64 `json:"ingest_rate"`
	// Refusals counts the refusals since the central started, by reason:
	// every reason the central knows, 0 where none
	// (quiniela_refusals_total).
	Refusals      map[string]uint64 `json:"refusals"`
	RefusalsTotal uint64            `json:"refusals_total"`
	// Failures counts the log lines with result fail since the central
	// started: each is one an operator should read.
	Failures uint64 `json:"failures"`
	Draw     Draw   `json:"draw"`
	// Agencies is one row per agency, up to MaxListedAgencies; beyond,
	// it is absent and Summary stands for them.
	Agencies []Agency         `json:"agencies,omitempty"`
	Summary  *AgenciesSummary `json:"agencies_summary,omitempty"`
	Storage  Storage          `json:"storage"`
}

// Draw is the draw's state, its deadline, and, once held, its public
// outcome.
type Draw struct {
	State string `json:"state"` // open, closed or drawn
	// Deadline is DRAW_DEADLINE, when sales close; absent where it is
	// not set.
	Deadline *time.Time `json:"deadline,omitempty"`
	// SecondsLeft counts down to Deadline while sales are open: whole
	// seconds, 0 once it passed.
	SecondsLeft     *int64     `json:"seconds_left,omitempty"`
	Time            *time.Time `json:"time,omitempty"`
	DurationSeconds float64    `json:"duration_seconds,omitempty"`
	Bets            uint64     `json:"bets,omitempty"`
	Winners         int        `json:"winners,omitempty"`
	Digest          string     `json:"digest,omitempty"`
}

// Draw states.
const (
	StateOpen   = "open"   // sales are open
	StateClosed = "closed" // sales are closed, the draw is being held
	StateDrawn  = "drawn"  // the draw is held
)

// Agency is one agency's row.
type Agency struct {
	Agency     int    `json:"agency"`
	BetsStored uint64 `json:"bets_stored"`
	// Declared is the bet count the agency declared for its file; 0
	// where it did not (an older agency) or has not yet.
	Declared uint64 `json:"declared,omitempty"`
	// Percent is BetsStored of Declared, where Declared is known.
	Percent   *float64   `json:"percent,omitempty"`
	Batches   uint64     `json:"batches"`
	Done      bool       `json:"done"`
	Connected bool       `json:"connected"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	// State is one of the AgencyStates, told by the fields above.
	State       string   `json:"state"`
	LastRefusal *Refusal `json:"last_refusal,omitempty"`
	Winners     *int     `json:"winners,omitempty"` // after the draw only
}

// Refusal is an agency's latest refusal.
type Refusal struct {
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason"`  // as quiniela_refusals_total labels it
	Message string    `json:"message"` // what the fail line said
	// Latest: it came in the agency's latest connection; no session of
	// its has begun since.
	Latest bool `json:"latest"`
}

//go:embed index.html
var pages embed.FS

var page = template.Must(template.New("index.html").Funcs(pageFuncs).ParseFS(pages, "index.html"))

// Handler serves the admin endpoint.
type Handler struct {
	src Source
	mux *http.ServeMux
}

// New returns the admin endpoint over src, serving reg's metrics at
// /metrics.
func New(src Source, reg *prometheus.Registry) *Handler {
	h := &Handler{src: src, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { line(w, http.StatusOK, "ok") })
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	h.mux.HandleFunc("GET /status", h.status)
	h.mux.HandleFunc("GET /{$}", h.index)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// line writes a one-line plain-text answer.
func line(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(text + "\n"))
}

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := h.src.Ready(); err != nil {
		line(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	line(w, http.StatusOK, "ready")
}

// snapshot returns the source's status with what it implies (each
// agency's state and percentage, the countdown), its agencies summarised
// where there are too many to list.
func (h *Handler) snapshot() Status {
	st := h.src.Status()
	if st.Time.IsZero() {
		st.Time = time.Now()
	}
	complete(&st)
	summarise(&st)
	return st
}

func (h *Handler) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(h.snapshot())
}

func (h *Handler) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := page.Execute(w, h.snapshot()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
