package client

import (
	"context"
	"fmt"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// winnersMargin is how much longer than the central's hold of a winners
// query (protocol.MaxWinnersHold) an agency waits for its answer: room for
// a loaded central and network to deliver the NotYet, or the winners, that
// ends the hold.
const winnersMargin = 5 * time.Second

// winnersWait is how long an agency waits for the answer to a winners
// query: server.timeout, but never less than the central's hold plus
// winnersMargin. A shorter wait (CLI_SERVER_TIMEOUT=2s) would give up on
// every query the central holds for the draw, and reconnect to ask again,
// for as long as the draw takes. The floor applies to that one wait only:
// server.timeout still bounds every other, so a short one still notices a
// dead central quickly while uploading. Refusing a short server.timeout
// instead would take that away from the operators who want it.
func winnersWait(timeout time.Duration) time.Duration {
	return max(timeout, protocol.MaxWinnersHold+winnersMargin)
}

// winners asks until the central answers with the agency's winners, and
// returns them with the draw's digest. While the central holds its query
// the agency says that it waits (waitReport): with the counts of the
// central's Waiting frames (version 3), or without, at each NotYet.
func (a *Agency) winners(ctx context.Context, c *link) ([]string, lottery.Digest, error) {
	wait := winnersWait(c.timeout)
	report := &waitReport{every: a.waitEvery}
	for {
		if err := c.send(protocol.WinnersQuery{}); err != nil {
			return nil, lottery.Digest{}, err
		}
		var docs []string
		var draw lottery.Digest
		for frames := 0; ; frames++ {
			msg, err := c.readWithin(wait)
			if err != nil {
				return nil, lottery.Digest{}, err
			}
			switch m := msg.(type) {
			case protocol.Winners:
				if frames == 0 {
					draw = m.Digest
				} else if m.Digest != draw {
					// One answer, one draw: frames that disagree are not
					// an answer the agency can log.
					return nil, lottery.Digest{}, fmt.Errorf("%w: winners frames with digests %v and %v", errProtocol, draw, m.Digest)
				}
				docs = append(docs, m.Documents...)
				if !m.More {
					return docs, draw, nil
				}
				continue
			case protocol.Waiting:
				if frames == 0 && protocol.Has(a.version, m.Type()) {
					a.waiting(report, m, true)
					frames-- // not a frame of the answer: the hold goes on
					continue
				}
				return nil, lottery.Digest{}, fmt.Errorf("%w: waiting in answer to winners query", errProtocol)
			case protocol.NotYet:
				// The central held the query as long as it holds one:
				// ask again at once, it waits, we do not spin.
				a.log.Debug("consulta_ganadores", logging.InProgress)
				a.waiting(report, protocol.Waiting{}, false)
			default:
				return nil, lottery.Digest{}, fmt.Errorf("%w: %v in answer to winners query", errProtocol, msg.Type())
			}
			break
		}
		if ctx.Err() != nil {
			return nil, lottery.Digest{}, ctx.Err()
		}
	}
}
