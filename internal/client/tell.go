package client

import (
	"errors"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// The agency tells its operators its state, in the lines of this file:
// while it waits for the draw (esperando_sorteo), when it resumes on a new
// connection (reanudacion), and while the central is unreachable
// (central_inalcanzable).

// waitEvery is how often an agency waiting for the draw says so again
// when nothing changed.
const waitEvery = 10 * time.Second

// timeFormat is how the agency's lines write an instant: RFC 3339 with
// milliseconds and the zone, as unambiguous as the central's lines.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// waitReport decides when an agency waiting for the draw logs that it
// waits: the first time, each time what the central tells changes, and
// every waitEvery when nothing does.
type waitReport struct {
	every time.Duration
	last  time.Time        // when it last logged; zero before
	told  protocol.Waiting // what it last logged
	known bool             // the central told it (version 3): told is real
}

// due reports whether the agency logs now, at now, that it waits, with w
// when known (a Waiting of the central) and without counts otherwise (a
// NotYet, of a central of any version), and records it.
func (r *waitReport) due(now time.Time, w protocol.Waiting, known bool) bool {
	changed := known && (!r.known || w != r.told)
	if !r.last.IsZero() && !changed && now.Sub(r.last) < r.every {
		return false
	}
	r.last = now
	if known {
		r.told, r.known = w, true
	}
	return true
}

// waiting logs, when due, that the agency waits for the draw: how many
// agencies have notified, of how many, and until when sales stay open,
// where the central said (protocol version 3).
func (a *Agency) waiting(r *waitReport, w protocol.Waiting, known bool) {
	now := time.Now()
	if !r.due(now, w, known) {
		return
	}
	attrs := []any{logging.InProgress, "agencia", a.cfg.ID}
	if r.known {
		w = r.told
		attrs = append(attrs, "notificadas", w.Notified, "esperadas", w.Expected)
		if at, ok := w.Deadline(); ok {
			attrs = append(attrs, "cierre_apuestas", at.Format(timeFormat), "restante", max(at.Sub(now), 0).Round(time.Second))
		}
	}
	a.log.Info("esperando_sorteo", attrs...)
}

// resumed logs that the agency resumes its upload on a new connection
// (a reconnection, or a run started again): from which bet, with how many
// the central already stores, of the total it declared.
func (a *Agency) resumed(w protocol.Welcome) {
	attrs := []any{logging.InProgress, "agencia", a.cfg.ID, "desde_apuesta", w.Committed, "almacenadas", w.Committed}
	if a.declared != nil {
		attrs = append(attrs, "total", a.declared.Total)
	}
	a.log.Info("reanudacion", append(attrs, "conexion", a.sessions)...)
}

// dialError is a connection to the central that could not be opened: no
// central listens there, or its name does not resolve.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return "connect " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// retrying logs the agency's wait before its next attempt: that the
// central is unreachable, where it could not connect, or, where a
// connection broke or was refused, that it reconnects.
func (a *Agency) retrying(attempt int, wait time.Duration, err error) {
	next := time.Now().Add(wait).Format(timeFormat)
	wait = wait.Round(time.Millisecond)
	var de *dialError
	if errors.As(err, &de) {
		a.log.Warn("central_inalcanzable", logging.InProgress, "agencia", a.cfg.ID, "direccion", de.addr,
			"intento", attempt, "espera", wait, "proximo_intento", next, "error", de.err)
		return
	}
	a.log.Warn("reconectar", logging.InProgress, "intento", attempt, "espera", wait, "proximo_intento", next, "error", err)
}
