package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// reply is one answer to send, in order.
type reply struct {
	msgs  []protocol.Message // sent as they are, unless batch is set
	batch *pendingBatch      // a batch: its answer is Ack or Error
	close bool               // the last frame: close the connection after it
}

// writeReplies sends replies in order until the reader is done or the
// connection closes; then it tells the peer why, when the central closes
// it, and returns.
func (c *conn) writeReplies(w *protocol.Writer) {
	broken := false
	for rep := range c.replies {
		msgs := c.answer(rep) // even when broken: it releases a batch
		if broken {
			continue // drain, so that the reader never blocks
		}
		for _, m := range msgs {
			if err := w.Write(m); err != nil {
				broken = true
			}
		}
		if !broken && (len(c.replies) == 0 || rep.close || w.Buffered() > protocol.MaxFrameSize/2) {
			broken = !c.flush(w)
		}
		if broken {
			c.cancel(errPeerGone)
		}
	}
	if cause := context.Cause(c.ctx); !broken && c.ctx.Err() != nil && cause != errPeerGone {
		last := &protocol.Error{Code: protocol.CodeUnavailable, Message: errShutdown.Error()}
		switch {
		case errors.Is(cause, errSuperseded):
			last = &protocol.Error{Code: protocol.CodeSuperseded, Message: errSuperseded.Error()}
		case errors.Is(cause, errRevoked):
			last = &protocol.Error{Code: protocol.CodeForbidden, Message: errRevoked.Error()}
		}
		if w.Write(last) == nil {
			c.flush(w)
		}
	}
}

// errPeerGone cancels a connection whose peer no longer takes its replies:
// it is told nothing more.
var errPeerGone = errors.New("peer gone")

// answer turns a reply into the frames to send, waiting for a batch's
// answer.
func (c *conn) answer(rep reply) []protocol.Message {
	if rep.batch == nil {
		return rep.msgs
	}
	stored, fresh, err := rep.batch.wait()
	if c.srv.gaveUp(err) {
		return nil // never acknowledged; the shutdown tells how many
	}
	if err != nil {
		ref := domainRefusal(err)
		c.logRefusal("apuesta_recibida", ref, "cantidad", rep.batch.size)
		return []protocol.Message{ref.msg()}
	}
	c.logStored(rep.batch, fresh)
	c.srv.stored(c.agency, fresh, time.Since(rep.batch.read))
	return []protocol.Message{protocol.Ack{Committed: stored}}
}

// logStored writes a stored batch's success line, and a lone new bet's.
func (c *conn) logStored(b *pendingBatch, fresh int) {
	log := c.srv.log
	if dup := b.size - fresh; dup > 0 {
		log.Info("apuesta_recibida", logging.Success, "cantidad", fresh, "duplicadas", dup, "agencia", c.agency)
	} else {
		// Attributes, not arguments: no value boxed, one line a batch.
		log.LogAttrs(context.Background(), slog.LevelInfo, "apuesta_recibida", logging.Success, slog.Int("cantidad", fresh), slog.Int("agencia", c.agency))
	}
	if b.single != nil && fresh == 1 {
		log.Info("apuesta_almacenada", logging.Success, "dni", b.single.Document, "numero", b.single.Number)
	}
}
