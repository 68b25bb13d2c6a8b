// Package health asks a central whether it is serving, with the protocol's
// Health message. Compose's healthcheck (server healthcheck) and the
// operators' probe (client probe) both use it.
package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// Check connects to addr, sends Health and returns the central's answer.
// The whole exchange takes at most timeout. With tlsCfg (a central that
// requires mutual TLS: the probe's or an agency's certificate) it speaks
// TLS; nil is plaintext.
func Check(ctx context.Context, addr string, timeout time.Duration, tlsCfg *tls.Config) (protocol.HealthOK, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return protocol.HealthOK{}, fmt.Errorf("health check %s: %w", addr, err)
	}
	defer nc.Close()
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	if tlsCfg != nil {
		tc := tls.Client(nc, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return protocol.HealthOK{}, fmt.Errorf("health check %s: tls: %w", addr, err)
		}
		nc = tc
	}
	w := protocol.NewWriter(nc)
	if err := w.Write(protocol.Health{}); err != nil {
		return protocol.HealthOK{}, fmt.Errorf("health check %s: %w", addr, err)
	}
	if err := w.Flush(); err != nil {
		return protocol.HealthOK{}, fmt.Errorf("health check %s: %w", addr, err)
	}
	msg, err := protocol.NewReader(nc).Read()
	if err != nil {
		return protocol.HealthOK{}, fmt.Errorf("health check %s: %w", addr, err)
	}
	switch m := msg.(type) {
	case protocol.HealthOK:
		return m, nil
	case *protocol.Error:
		return protocol.HealthOK{}, fmt.Errorf("health check %s: %w", addr, m)
	}
	return protocol.HealthOK{}, fmt.Errorf("health check %s: unexpected %v", addr, msg.Type())
}
