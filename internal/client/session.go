package client

import (
	"context"
	"fmt"
	"net"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// session is one connection's worth of work, with the address rt picks.
// progress reports whether the central made progress for the agency (see
// link.progressed), which restarts the backoff and the retry deadline.
// closed says the central has refused the agency with draw_closed: sales
// are closed, and the session only learns what the draw took (cut.go).
func (a *Agency) session(ctx context.Context, rt *route, closed bool) (res Result, progress bool, err error) {
	t := rt.pick(ctx)
	c, err := a.connect(ctx, t)
	if err != nil {
		return Result{}, false, err
	}
	rt.connected(a.log, t)
	stop := context.AfterFunc(ctx, func() { c.nc.Close() }) // unblocks any read or write at once
	defer func() {
		stop()
		c.nc.Close()
		a.log.Info("close", logging.Success, "resource", "connection", "address", t.addr)
	}()
	if res, err = a.converse(ctx, c, closed); err != nil {
		return Result{}, c.progressed, err
	}
	return res, true, nil
}

// connect dials the central at t within the server timeout and, with
// mutual TLS, runs the handshake.
func (a *Agency) connect(ctx context.Context, t target) (*link, error) {
	if t.err != nil { // t's name did not resolve: the error dialing it by name would be
		return nil, &dialError{addr: t.addr, err: &net.OpError{Op: "dial", Net: "tcp", Err: t.err}}
	}
	var d net.Dialer
	dialCtx, cancel := context.WithTimeout(ctx, a.cfg.ServerTimeout)
	nc, err := d.DialContext(dialCtx, "tcp", t.dial)
	cancel()
	if err != nil {
		return nil, &dialError{addr: t.addr, err: err}
	}
	if a.tls != nil {
		if nc, err = a.handshake(ctx, nc, t.host); err != nil {
			return nil, err
		}
	}
	return &link{nc: nc, r: protocol.NewReader(nc), w: protocol.NewWriter(nc), timeout: a.cfg.ServerTimeout}, nil
}

// converse is the protocol on a connection: hello; then either checking
// that an agency the central says is done holds the same bets, or
// uploading the bets the central lacks and notifying; then the winners.
// An agency that had not notified when sales closed (the draw held, or
// closed, true) uploads nothing: it learns what the draw took (cutOff).
func (a *Agency) converse(ctx context.Context, c *link, closed bool) (Result, error) {
	welcome, err := a.hello(c)
	if err != nil {
		return Result{}, err
	}
	held, digest := welcome.Committed, welcome.Digest
	if r, ok := a.observer.(Resumer); ok {
		r.OnResume(held)
	}
	if err := a.declare(c); err != nil {
		return Result{}, err
	}
	if !welcome.Done && (welcome.Drawn || closed) {
		return a.cutOff(ctx, c, welcome)
	}
	if !welcome.Done && (a.sessions > 1 || held > 0) {
		a.resumed(welcome)
	}
	if welcome.Done {
		if err := a.verifyDone(welcome); err != nil {
			return Result{}, err
		}
	} else {
		total, own, err := a.upload(c, welcome)
		if err != nil {
			return Result{}, err
		}
		if err := a.notify(c, total, own); err != nil {
			return Result{}, err
		}
		held, digest = total, own
	}
	winners, draw, err := a.winners(ctx, c)
	if err != nil {
		return Result{}, err
	}
	a.log.Info("consulta_ganadores", logging.Success, "cant_ganadores", len(winners), "digest", draw.String())
	return Result{Winners: winners, Sent: held, Digest: digest, Draw: draw}, nil
}

// hello introduces the agency and returns the central's Welcome: how many
// of the agency's bets it holds, their digest, and whether it is done.
func (a *Agency) hello(c *link) (protocol.Welcome, error) {
	msg, err := c.call(protocol.Hello{Agency: uint32(a.cfg.ID), Version: a.version})
	if err != nil {
		if a.tls != nil {
			err = helloRefused(err, a.cfg.ID) // TLS 1.3: the central refuses a certificate after the handshake
		}
		return protocol.Welcome{}, err
	}
	welcome, ok := msg.(protocol.Welcome)
	if !ok {
		return protocol.Welcome{}, fmt.Errorf("%w: %v in answer to hello", errProtocol, msg.Type())
	}
	a.sessions++
	a.log.Debug("hello", logging.Success, "committed", welcome.Committed, "done", welcome.Done, "version", a.version)
	return welcome, nil
}

// notify tells the central that the agency has sent all of its total
// bets, whose digest is own, and checks the central's answer.
func (a *Agency) notify(c *link, total uint64, own lottery.Digest) error {
	a.observer.OnDone()
	msg, err := c.call(protocol.Done{Total: total})
	if err != nil {
		return err
	}
	ack, ok := msg.(protocol.DoneAck)
	if !ok {
		return fmt.Errorf("%w: %v in answer to done", errProtocol, msg.Type())
	}
	a.log.Info("notificacion", logging.Success, "apuestas", total)
	return a.checkDoneAck(ack, total, own)
}
