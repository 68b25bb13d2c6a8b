package admin

import (
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loteria-nacional/quiniela/internal/buildinfo"
)

// Metrics are the central's Prometheus metrics. Its methods are the
// observers that the server (BatchStored, Refused) and the store
// (Committed) call; the gauges are read from Source at each scrape. Every
// label set is bounded: agency is 1..AGENCIES_AMOUNT, reason a protocol
// code's name, tls or over_budget, state one of three. Every labelled
// counter is present from the start, at 0 (see NewMetrics and Agencies),
// so that a rate or an alert over it needs no absent().
type Metrics struct {
	bets     *prometheus.CounterVec
	batches  *prometheus.CounterVec
	refusals *prometheus.CounterVec
	ack      prometheus.Histogram
	group    prometheus.Histogram
	groupReq prometheus.Histogram
	fsync    prometheus.Histogram
	rate     *Rate

	mu      sync.Mutex
	refused map[string]uint64 // quiniela_refusals_total's values, for /status
}

// NewMetrics registers the central's metrics, reading its gauges from
// src, and the Go runtime's and the process's collectors, in reg;
// quiniela_refusals_total is present at 0 for each of reasons, those the
// central knows.
func NewMetrics(reg *prometheus.Registry, src Source, reasons []string) *Metrics {
	m := &Metrics{
		rate:    NewRate(time.Now),
		refused: make(map[string]uint64, len(reasons)),
		bets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quiniela_bets_stored_total", Help: "Bets stored on stable storage and acknowledged, per agency, since the central started.",
		}, []string{"agency"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quiniela_batches_stored_total", Help: "Batches with new bets stored and acknowledged, per agency, since the central started.",
		}, []string{"agency"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quiniela_refusals_total", Help: "Connections and requests refused, by reason: a protocol error code's name, tls (a failed TLS handshake) or over_budget (closed at accept: its source spent its budget of refusals, SERVER_REFUSAL_RATE and SERVER_REFUSAL_BURST).",
		}, []string{"reason"}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quiniela_ack_latency_seconds", Help: "Time from a batch's last byte read to its Ack, which waits for its group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		group: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quiniela_group_commit_bets", Help: "Bets written per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		groupReq: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quiniela_group_commit_requests", Help: "Writes (batches, notifications, the draw) per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quiniela_fsync_duration_seconds", Help: "Time the fsyncs of one group commit took.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
	}
	for _, r := range reasons {
		m.refusals.WithLabelValues(r)
		m.refused[r] = 0
	}
	reg.MustRegister(m.bets, m.batches, m.refusals, m.ack, m.group, m.groupReq, m.fsync,
		buildInfo(buildinfo.Read()),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{src: src})
	return m
}

// buildInfo is quiniela_build_info: 1, labelled with the build's
// version, revision and Go version.
func buildInfo(info buildinfo.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "quiniela_build_info", Help: "1, labelled with the central's build: its module version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": info.Version, "revision": info.Revision, "goversion": info.GoVersion},
	})
	g.Set(1)
	return g
}

// Agencies makes the per-agency counters of agencies 1..n present at 0:
// called once the central knows how many agencies its draw covers.
func (m *Metrics) Agencies(n int) {
	for a := 1; a <= n; a++ {
		label := strconv.Itoa(a)
		m.bets.WithLabelValues(label)
		m.batches.WithLabelValues(label)
	}
}

// BatchStored counts a batch of agency's with bets new bets, and its ack
// latency (server.Observer); its bets count in the ingest rate.
func (m *Metrics) BatchStored(agency, bets int, ack time.Duration) {
	a := strconv.Itoa(agency)
	m.bets.WithLabelValues(a).Add(float64(bets))
	m.batches.WithLabelValues(a).Inc()
	m.ack.Observe(ack.Seconds())
	m.rate.Add(bets)
}

// Refused counts a refusal by its reason (server.Observer).
func (m *Metrics) Refused(reason string) {
	m.refusals.WithLabelValues(reason).Inc()
	m.mu.Lock()
	m.refused[reason]++
	m.mu.Unlock()
}

// Refusals returns the refusals counted so far, by reason, every known
// reason present, and their total: /status's.
func (m *Metrics) Refusals() (map[string]uint64, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var total uint64
	for _, n := range m.refused {
		total += n
	}
	return maps.Clone(m.refused), total
}

// IngestRate returns the bets committed per second now (see Rate).
func (m *Metrics) IngestRate() float64 { return m.rate.PerSecond() }

// Committed observes a group commit (storage.Observer).
func (m *Metrics) Committed(requests, bets int, fsync time.Duration) {
	m.groupReq.Observe(float64(requests))
	m.group.Observe(float64(bets))
	m.fsync.Observe(fsync.Seconds())
}

// stateCollector reads the gauges from Source at each scrape.
type stateCollector struct{ src Source }

var (
	descConnections = prometheus.NewDesc("quiniela_open_connections", "Connections open now.", nil, nil)
	descConnected   = prometheus.NewDesc("quiniela_connected_agencies", "Agencies a connection speaks for now.", nil, nil)
	descExpected    = prometheus.NewDesc("quiniela_expected_agencies", "Agencies the draw covers.", nil, nil)
	descNotified    = prometheus.NewDesc("quiniela_notified_agencies", "Agencies whose notification of their total is durable.", nil, nil)
	descState       = prometheus.NewDesc("quiniela_draw_state", "The draw's state: 1 for the current one of open, closed (sales closed, draw being held) and drawn.", []string{"state"}, nil)
	descDuration    = prometheus.NewDesc("quiniela_draw_duration_seconds", "How long holding the draw took; 0 before it.", nil, nil)
	descDrawTime    = prometheus.NewDesc("quiniela_draw_timestamp_seconds", "When the draw was held, in Unix seconds; 0 before it.", nil, nil)
	descDeadline    = prometheus.NewDesc("quiniela_draw_deadline_timestamp_seconds", "When sales close (DRAW_DEADLINE), in Unix seconds; 0 where no deadline is set.", nil, nil)
	descFailures    = prometheus.NewDesc("quiniela_log_fail_lines_total", "Log lines with result fail since the central started: each one an operator should read.", nil, nil)
	descWinners     = prometheus.NewDesc("quiniela_draw_winners", "Winning bets per agency; present after the draw only.", []string{"agency"}, nil)
	descStorageUp   = prometheus.NewDesc("quiniela_storage_up", "1 where the store answered at this scrape (the file store always does), 0 where the database did not.", nil, nil)
	descBackend     = prometheus.NewDesc("quiniela_storage_backend_info", "The store's backend: 1 for file or postgres.", []string{"backend"}, nil)
	descStandbys    = prometheus.NewDesc("quiniela_replication_standbys", "Standbys streaming from the database's primary, by their sync_state.", []string{"sync_state"}, nil)
	descHeldByMe    = prometheus.NewDesc("quiniela_draw_held_by_this_replica", "1 where this replica of the central held the draw, 0 otherwise.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descConnected, descExpected, descNotified, descState, descDuration, descDrawTime, descWinners,
		descDeadline, descFailures, descStorageUp, descBackend, descStandbys, descHeldByMe} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descConnections, float64(st.Connections))
	gauge(descConnected, float64(st.Connected))
	gauge(descExpected, float64(st.Expected))
	gauge(descNotified, float64(st.Notified))
	for _, s := range []string{StateOpen, StateClosed, StateDrawn} {
		v := 0.0
		if st.Draw.State == s {
			v = 1
		}
		gauge(descState, v, s)
	}
	gauge(descDuration, st.Draw.DurationSeconds)
	at := unixSeconds(st.Draw.Time)
	if st.Draw.Time != nil {
		for _, a := range st.Agencies {
			if a.Winners != nil {
				gauge(descWinners, float64(*a.Winners), strconv.Itoa(a.Agency))
			}
		}
	}
	gauge(descDrawTime, at)
	gauge(descDeadline, unixSeconds(st.Draw.Deadline))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(st.Failures))
	collectStorage(st.Storage, gauge)
}

// collectStorage sends the store's gauges: every sync_state is present,
// 0 where no standby is in it, so that an alert on a missing synchronous
// standby needs no absent().
func collectStorage(s Storage, gauge func(d *prometheus.Desc, v float64, labels ...string)) {
	gauge(descStorageUp, boolGauge(s.Reachable))
	if s.Backend != "" {
		gauge(descBackend, 1, s.Backend)
	}
	for _, state := range SyncStates {
		n := 0
		for _, sb := range s.Standbys {
			if sb.SyncState == state {
				n++
			}
		}
		gauge(descStandbys, float64(n), state)
	}
	gauge(descHeldByMe, boolGauge(s.HeldByThisReplica()))
}

// boolGauge is a gauge's value for b: 1 or 0.
func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t in Unix seconds; 0 for nil.
func unixSeconds(t *time.Time) float64 {
	if t == nil {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
