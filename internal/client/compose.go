package client

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
)

// ErrComposeAddress is returned when server.address is the Compose
// default (server:12345, or the name server on any port) and that name
// has never resolved: an agency run
// by hand, outside Compose, that was not told where the central is.
// Retrying for retry.timeout would not fix it; cmd/client tells what to
// set and exits 2, as for any bad configuration.
var ErrComposeAddress = errors.New("server.address is the Compose default")

// composeGrace is how long an agency with the Compose default address
// retries a name that does not resolve before it stops with
// ErrComposeAddress. In Compose the agencies start once the central is
// healthy (depends_on), so the name resolves at once; the grace covers a
// network that is slower to appear. A name that resolved once is never
// given up on this way: DNS may drop a central that restarts.
const composeGrace = 5 * time.Second

// composeDefault returns ErrComposeAddress, with what to set, when err is
// a name not found, server.address is the Compose service's name, the
// name never resolved, and the grace has passed since the agency started.
func (a *Agency) composeDefault(rt *route, err error, since time.Duration) error {
	var dnsErr *net.DNSError
	if !isComposeName(a.cfg.ServerAddress) || rt.resolved || since < a.composeGrace ||
		!errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		return nil
	}
	return fmt.Errorf("%w (%s), whose name %s did not resolve for %v (%s): outside Compose, set CLI_SERVER_ADDRESS, or server.address in config.yaml, to the central's host:port (127.0.0.1:12345 on this machine)",
		ErrComposeAddress, a.cfg.ServerAddress, dnsErr.Name, since.Round(time.Second), dnsErr.Err)
}

// isComposeName reports whether address is one address whose host is the
// default's, the Compose service's name (server).
func isComposeName(address string) bool {
	host, _, err := net.SplitHostPort(address)
	defHost, _, _ := net.SplitHostPort(config.DefaultClient().ServerAddress)
	return err == nil && host == defHost
}
