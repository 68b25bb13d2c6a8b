package app

import (
	"context"
	"fmt"
	"net"
)

// listeners are the central's sockets, bound by listen before anything is
// created on disk, so that a start that cannot listen (a port taken, a
// SERVER_IP that does not resolve) leaves no store behind. Each is handed
// to the one that serves it, which then owns it; those never handed over
// are closed by closeUnserved.
type listeners struct {
	agencies, pprof, admin net.Listener
}

// listen binds the agencies' listener at SERVER_IP:SERVER_PORT, and the
// profiling and admin listeners where they are set. On failure it closes
// those it bound and names the one that failed.
func (m *Main) listen(ctx context.Context) error {
	var lc net.ListenConfig
	bind := func(dst *net.Listener, what, addr string) error {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		*dst = ln
		return nil
	}
	err := bind(&m.ln.agencies, "listen", m.cfg.Address())
	if err == nil && m.cfg.PprofAddress != "" {
		err = bind(&m.ln.pprof, "pprof listen", m.cfg.PprofAddress)
	}
	if err == nil && m.cfg.AdminAddress != "" {
		err = bind(&m.ln.admin, "admin listen", m.cfg.AdminListenAddress())
	}
	if err != nil {
		m.closeUnserved()
	}
	return err
}

// closeUnserved closes the listeners that listen bound and no server
// took: where Run fails between the two.
func (m *Main) closeUnserved() {
	for _, ln := range []*net.Listener{&m.ln.agencies, &m.ln.pprof, &m.ln.admin} {
		if *ln != nil {
			(*ln).Close() // a socket never served has nothing to lose
			*ln = nil
		}
	}
}
