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
	"sync"
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

// Status is the lottery's state, as /status serves it.
type Status struct {
	Time        time.Time `json:"time"`
	Expected    int       `json:"agencies_expected"`
	Notified    int       `json:"agencies_notified"`
	Connected   int       `json:"agencies_connected"`
	Connections int       `json:"open_connections"`
	BetsStored  uint64    `json:"bets_stored"`
	Batches     uint64    `json:"batches"`
	// IngestRate is bets stored per second over the last few seconds.
	IngestRate float64 `json:"ingest_rate"`
	Draw       Draw    `json:"draw"`
	// Agencies is one row per agency, up to MaxListedAgencies; beyond,
	// it is absent and Summary stands for them.
	Agencies []Agency         `json:"agencies,omitempty"`
	Summary  *AgenciesSummary `json:"agencies_summary,omitempty"`
	Storage  Storage          `json:"storage"`
}

// Draw is the draw's state and, once held, its public outcome.
type Draw struct {
	State           string     `json:"state"` // open, closed or drawn
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
	Agency     int        `json:"agency"`
	BetsStored uint64     `json:"bets_stored"`
	Batches    uint64     `json:"batches"`
	Done       bool       `json:"done"`
	Connected  bool       `json:"connected"`
	LastSeen   *time.Time `json:"last_seen,omitempty"`
	Winners    *int       `json:"winners,omitempty"` // after the draw only

	// Declared is the total of bets the agency declared when it
	// connected (protocol version 3), for progress in %; 0 when it
	// declared none. Display only: its Done's total is the one that counts.
	Declared uint64 `json:"declared"`
}

//go:embed index.html
var pages embed.FS

var page = template.Must(template.ParseFS(pages, "index.html"))

// rateWindow is how far back the ingest rate looks.
const rateWindow = 10 * time.Second

// Handler serves the admin endpoint.
type Handler struct {
	src Source
	mux *http.ServeMux

	mu      sync.Mutex
	samples []sample // bets stored over the last rateWindow, oldest first
}

type sample struct {
	at   time.Time
	bets uint64
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

// snapshot returns the source's status with the ingest rate, its
// agencies summarised where there are too many to list.
func (h *Handler) snapshot() Status {
	st := h.src.Status()
	if st.Time.IsZero() {
		st.Time = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.samples = append(h.samples, sample{st.Time, st.BetsStored})
	for len(h.samples) > 1 && st.Time.Sub(h.samples[0].at) > rateWindow {
		h.samples = h.samples[1:]
	}
	if first := h.samples[0]; st.Time.Sub(first.at) > 0 && st.BetsStored >= first.bets {
		st.IngestRate = float64(st.BetsStored-first.bets) / st.Time.Sub(first.at).Seconds()
	}
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
