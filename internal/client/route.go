package client

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// target is one address of the central that the agency dials.
type target struct {
	addr string // as logged and named in errors: the entry of server.address, or the address its name resolved to
	dial string // what the agency dials: addr, or the one address of addr's name
	host string // the name the central's certificate must be for: the entry's host
	err  error  // the entry's name did not resolve: dialing it fails with err
}

// route is the agency's way through the central's replicas: the entries
// of server.address, each name resolved to its addresses (a name with
// several A or AAAA records is several replicas). The agency dials them
// in turn, moving to the next on each failed attempt, and backs off only
// once it has tried every address since it last waited or made progress:
// the replicas share one database, so the next one resumes from the same
// committed position. A single address is dialed as it always was.
type route struct {
	entries []string
	lookup  func(ctx context.Context, host string) ([]string, error)
	timeout time.Duration // of each lookup: server.timeout, which bounded it within the dial before

	// round is the addresses of this round, resolved when it began: a
	// name is looked up again at each round, so a replica that DNS adds
	// or removes is seen at the next.
	round []target
	next  int    // round[next] is the next to dial
	tried int    // failed attempts since the last wait or progress
	last  string // where the agency last connected, or first dialed: the previous of a move

	resolved bool // some name of server.address resolved, once (see composeDefault)
}

// newRoute returns the agency's route through the addresses of
// server.address.
func (a *Agency) newRoute() *route {
	return &route{entries: a.cfg.Addresses(), lookup: a.lookup, timeout: a.cfg.ServerTimeout}
}

// pick returns the address to dial now, beginning a new round, resolved
// afresh, when the last one is over.
func (r *route) pick(ctx context.Context) target {
	if r.next >= len(r.round) {
		r.round, r.next = r.resolve(ctx), 0
	}
	t := r.round[r.next]
	if r.last == "" {
		r.last = t.addr
	}
	return t
}

// resolve returns the addresses of every entry, in order.
func (r *route) resolve(ctx context.Context) []target {
	var round []target
	for _, entry := range r.entries {
		round = append(round, r.resolveEntry(ctx, entry)...)
	}
	return round
}

// resolveEntry returns the addresses of one entry of server.address. An
// IP address, or a name with one address, is one target named by the
// entry, as the agency has always logged it; a name with several is one
// target for each, named by its address. A name that does not resolve is
// one target that fails as dialing it always failed (the error is
// retryable: DNS may answer later).
func (r *route) resolveEntry(ctx context.Context, entry string) []target {
	host, port, err := net.SplitHostPort(entry)
	if err != nil || net.ParseIP(host) != nil {
		return []target{{addr: entry, dial: entry, host: host, err: err}}
	}
	lctx, cancel := context.WithTimeout(ctx, r.timeout)
	ips, err := r.lookup(lctx, host)
	cancel()
	switch {
	case err != nil:
		return []target{{addr: entry, host: host, err: err}}
	case len(ips) == 0:
		return []target{{addr: entry, host: host, err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}}
	}
	r.resolved = true
	switch {
	case len(ips) == 1:
		return []target{{addr: entry, dial: net.JoinHostPort(ips[0], port), host: host}}
	}
	targets := make([]target, len(ips))
	for i, ip := range ips {
		addr := net.JoinHostPort(ip, port)
		targets[i] = target{addr: addr, dial: addr, host: host}
	}
	return targets
}

// failed records a failed attempt, after progress or not, and moves to
// the next address. It reports whether the agency has now tried every
// address since it last waited or made progress: then it backs off,
// rather than dial round and round.
func (r *route) failed(progress bool) (backOff bool) {
	if progress {
		r.tried = 0
	}
	r.tried++
	r.next++
	if r.tried < len(r.round) {
		return false
	}
	r.tried = 0
	return true
}

// connected records that the agency connected to t, and logs it when t is
// another replica than the one it was connected to, or first dialed.
func (r *route) connected(log *slog.Logger, t target) {
	if t.addr != r.last {
		log.Info("conectar", logging.Success, "address", t.addr, "previous", r.last)
	}
	r.last = t.addr
}
