package admin

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/loteria-nacional/quiniela/internal/netguard"
)

// Limits bound what the admin endpoint holds for its peers: whoever
// reaches its port, idle or slow, holds at most MaxConnections
// connections, each for at most its timeouts.
type Limits struct {
	// ReadHeaderTimeout bounds a request's headers, from the connection's
	// accept or the end of its previous request.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the answer, from the end of the request's
	// headers: /status and /metrics ask the database for at most 2 s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next
	// request by then.
	IdleTimeout time.Duration
	// MaxConnections caps the connections open at once; the next wait in
	// the kernel's accept queue, holding none of the central's
	// descriptors, until one closes.
	MaxConnections int
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
}

// DefaultLimits are the admin endpoint's limits: enough for a Prometheus
// scraping every few seconds, orchestrators' probes and a few operators'
// pages refreshing every 2 s.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxConnections:    64,
		MaxHeaderBytes:    16 << 10,
	}
}

// NewServer returns the HTTP server of handler, bounded by lim. Serve it
// on Listener's answer.
func NewServer(handler http.Handler, lim Limits) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
	}
}

// Listener returns ln capped at lim.MaxConnections, whose Accept outlives
// the host's running out of descriptors (netguard.Backoff: net/http would
// back off too, but say every error on the standard error): what
// NewServer's server serves on.
func (lim Limits) Listener(ln net.Listener, log *slog.Logger) net.Listener {
	return netguard.Limit(netguard.Backoff(ln, log), lim.MaxConnections)
}
