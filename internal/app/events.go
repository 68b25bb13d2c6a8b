package app

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// EventLog logs what the central decides, as the operators' log lines.
type EventLog struct {
	Log *slog.Logger
	// AfterDrawLogged, when not nil, runs after the sorteo line is logged
	// and before the central answers any winners (lottery.Events.Drawn
	// returns first). A merged log (docker compose logs) orders the lines
	// of the central and of the agencies by when its reader took each one:
	// an agency answered microseconds after the sorteo line can have its
	// winners line taken first. The wait (logging.AfterWrite) gives the
	// reader time to take the sorteo line, so that causality survives the
	// merge. It must be bounded: the draw waits for it.
	AfterDrawLogged func()
}

var _ lottery.Events = EventLog{}

// Notified logs action: notificacion.
func (e EventLog) Notified(agency int, total uint64) {
	e.Log.Info("notificacion", logging.Success, "agencia", agency, "apuestas", total)
}

// Drawn logs action: sorteo with the draw's digest, then waits for
// AfterDrawLogged. A draw held at a deadline adds ausentes, the agencies
// that had not notified, as "3,5"; a draw every agency notified has no
// such key.
func (e EventLog) Drawn(r lottery.Result, absent []int) {
	attrs := []any{"ganadores", r.Winners, "bets", r.Bets, "digest", r.Digest.String()}
	if len(absent) > 0 {
		ids := make([]string, len(absent))
		for i, a := range absent {
			ids[i] = strconv.Itoa(a)
		}
		attrs = append(attrs, "ausentes", strings.Join(ids, ","))
	}
	e.Log.Info("sorteo", append([]any{logging.Success}, attrs...)...)
	if e.AfterDrawLogged != nil {
		e.AfterDrawLogged()
	}
}

// DrawFailed logs action: sorteo | result: fail.
func (e EventLog) DrawFailed(err error) {
	e.Log.Error("sorteo", logging.Fail, "error", err)
}
