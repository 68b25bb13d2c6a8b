package client

import (
	"context"
	"errors"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// salesClosed reports whether err is the central's draw_closed refusal of
// a batch or of the agency's Done. For an agency that has not notified it
// means that sales closed (DRAW_DEADLINE) before it did: the draw is held,
// or being held, with the bets it had stored, and nothing it sends now can
// change that. Reconnecting to upload would only be refused again; the
// agency asks instead what the draw took, and its winners among those
// bets (cutOff).
func salesClosed(err error) bool {
	var perr *protocol.Error
	return errors.As(err, &perr) && perr.Code == protocol.CodeDrawClosed
}

// cutOff is the session of an agency that had not notified when sales
// closed: w, the Welcome of a connection opened after the refusal (or of
// one that found the draw held), says how many of its bets the central
// holds, which are the bets the draw took, since no bet is stored after
// sales close. The agency checks them against its file as on any resume,
// counts the rest of its file, logs what the draw took and what it did
// not (corte_sorteo), and asks for its winners with the query every agency
// sends, which the central holds until the draw: the winners are among
// the bets it took. The result is CutOff, which cmd/client exits with as
// its own status.
func (a *Agency) cutOff(ctx context.Context, c *link, w protocol.Welcome) (Result, error) {
	d, err := a.readAll(w)
	if err != nil {
		return Result{}, err
	}
	a.verified(w.Committed, w.Digest)
	left := d.n - w.Committed
	a.log.Info("corte_sorteo", logging.Success, "agencia", a.cfg.ID,
		"apuestas_incluidas", w.Committed, "apuestas_excluidas", left)
	winners, draw, err := a.winners(ctx, c)
	if err != nil {
		return Result{}, err
	}
	a.log.Info("consulta_ganadores", logging.Success, "cant_ganadores", len(winners), "digest", draw.String())
	return Result{Winners: winners, Sent: w.Committed, Digest: w.Digest, Draw: draw, CutOff: true, Left: left}, nil
}
