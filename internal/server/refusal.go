package server

import (
	"errors"
	"fmt"
	"io"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// refusal is a request the central refuses, as the peer is told and the
// connection's fail line says: a code and a short reason. It never carries
// an internal cause (a file, an OS error): that is logged once, where it
// happened.
type refusal struct {
	code   protocol.Code
	reason string
}

// Error is the short reason, as the fail line and the peer say it.
func (r *refusal) Error() string { return r.reason }

// msg is the Error frame that tells the peer.
func (r *refusal) msg() *protocol.Error {
	return &protocol.Error{Code: r.code, Message: r.reason}
}

// refuse returns a refusal with code and a reason made as fmt.Sprintf does.
func refuse(code protocol.Code, format string, args ...any) *refusal {
	return &refusal{code: code, reason: fmt.Sprintf(format, args...)}
}

// domainRefusal maps an error of the domain to what the agency is told. An
// unavailable central says only that: the cause (a file, an OS error, a
// draw that could not read the bets) is for the operator, and was logged
// where it happened (the storage's writer, Events.DrawFailed).
func domainRefusal(err error) *refusal {
	var code protocol.Code
	switch {
	case errors.Is(err, lottery.ErrInvalidBet):
		code = protocol.CodeInvalidBet
	case errors.Is(err, lottery.ErrOutOfOrder):
		code = protocol.CodeOutOfOrder
	case errors.Is(err, lottery.ErrClosed):
		code = protocol.CodeDrawClosed
	case errors.Is(err, lottery.ErrIncomplete):
		code = protocol.CodeIncomplete
	default:
		return &refusal{code: protocol.CodeUnavailable, reason: lottery.ErrUnavailable.Error()}
	}
	return &refusal{code: code, reason: err.Error()}
}

// logRefusal writes a refusal's fail line (or err's, for a frame no one
// can be answered) and counts it; an unavailable central is not logged
// here, where it is not this connection's failure.
//
// Before Hello, the peer is no agency yet: its refusal spends one of its
// source's tokens (see costs), and its line may be collapsed into its
// source's summary (netguard.Refusals). An agency's refusals in its
// session are always logged, and cost nothing.
func (c *conn) logRefusal(action string, err error, attrs ...any) {
	ref := (*refusal)(nil)
	isRef := errors.As(err, &ref)
	reason := "broken" // a frame cut short, a reset: no one to answer
	if isRef {
		c.srv.refused(ref.code)
		reason = ref.code.String()
		if ref.code != protocol.CodeUnavailable {
			c.refusedAgency(reason, err)
		}
	}
	if isRef && ref.code == protocol.CodeUnavailable {
		// The ledger failed: it logged why, once, and the central is
		// stopping. Not a failure of this connection's.
		return
	}
	if c.agency == 0 && !c.srv.guard.Refuse(c.nc.RemoteAddr(), reason, costs(reason)) {
		return // counted in its source's summary
	}
	attrs = append(append([]any{logging.Fail}, attrs...), "peer", c.peer)
	if c.agency != 0 {
		attrs = append(attrs, "agencia", c.agency)
	}
	c.srv.log.Error(action, append(attrs, "error", err)...)
}

// refuse logs a refusal and tells the peer.
func (c *conn) refuse(w *protocol.Writer, action string, ref *refusal) {
	c.logRefusal(action, ref)
	c.send(w, ref.msg())
}

// writeError writes one Error frame straight to w.
func writeError(w io.Writer, code protocol.Code, msg string) error {
	frame, err := protocol.AppendFrame(nil, &protocol.Error{Code: code, Message: msg})
	if err != nil {
		return err
	}
	_, err = w.Write(frame)
	return err
}

// costs reports whether a refusal for reason, before Hello, spends one
// of its source's tokens: one for which the central did work at the
// peer's behest (a TLS handshake, a frame read and refused) does. One
// for time (the Hello deadline passed) or room (busy) does not: the
// peer made the central only wait, which SERVER_HELLO_TIMEOUT and
// SERVER_MAX_CONNECTIONS bound, and agencies that share its address
// must still get the slots that free (e2e.TestSlowPeersFlood).
func costs(reason string) bool {
	return reason != protocol.CodeTimeout.String() && reason != protocol.CodeBusy.String()
}
