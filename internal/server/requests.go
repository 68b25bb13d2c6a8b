package server

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// pendingBatch owns what one batch holds from the moment its frame is
// admitted until its answer is ready: one of the central's batch slots,
// the pooled slice its bets are decoded into (until the central has
// them), and the central's answer. release gives all of it back, and is
// called once, by whoever holds the batch last.
type pendingBatch struct {
	srv    *Server
	buf    *[]lottery.Bet // pooled; nil once given back
	batch  protocol.Batch // decoded into *buf
	sub    *lottery.Submission
	size   int          // bets in the batch, for the log
	single *lottery.Bet // a batch of one bet, for its own log line
	read   time.Time    // when its last byte was read, for the ack latency
}

// betBufs holds the slices batches are decoded into. The central keeps
// nothing of a batch's slice once Submit returns, so it can serve the
// next batch of any connection: a central with many agencies keeps only
// as many as are being decoded at once.
var betBufs = sync.Pool{New: func() any { return new([]lottery.Bet) }}

// submit hands the batch to the central and gives its slice back.
func (b *pendingBatch) submit(agency int) {
	b.size = len(b.batch.Bets)
	if b.size == 1 {
		single := b.batch.Bets[0] // a copy: the slice is reused
		b.single = &single
	}
	b.sub = b.srv.central.Submit(agency, b.batch.First, b.batch.Bets)
	b.giveBackBuf()
}

// giveBackBuf returns the batch's slice to betBufs, once.
func (b *pendingBatch) giveBackBuf() {
	if b.buf == nil {
		return
	}
	clear(b.batch.Bets) // let go of the batch's text
	*b.buf = b.batch.Bets[:0]
	betBufs.Put(b.buf)
	b.buf, b.batch.Bets = nil, nil
}

// wait waits for the central's answer, until a shutdown's grace period
// ends (see Server.shutdown), then releases the batch.
func (b *pendingBatch) wait() (stored uint64, fresh int, err error) {
	defer b.release()
	return b.sub.Wait(b.srv.drain)
}

// release gives back the batch's slot and, if still held, its slice.
func (b *pendingBatch) release() {
	b.giveBackBuf()
	b.srv.batchSlots.Release(1)
}

// request is one decoded frame: a batch, with what it holds, or another
// message.
type request struct {
	msg   protocol.Message // nil for a batch
	batch *pendingBatch
}

// readRequest reads one frame under its deadline (see readClock) and
// decodes it. A frame the central refuses comes back as a *refusal,
// already logged; a peer that closed between frames, or a connection the
// central is closing, as another error, not logged as a failure.
func (c *conn) readRequest(r *protocol.Reader) (request, error) {
	c.clock.awaitFrame()
	if err := c.ctx.Err(); err != nil {
		return request{}, err
	}
	req, err := c.decodeRequest(r)
	if err == nil {
		return req, nil
	}
	if c.ctx.Err() != nil {
		return request{}, c.ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		return request{}, err // closed between frames: a normal end
	}
	var ref *refusal
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		ref = c.clock.expired()
	case errors.Is(err, protocol.ErrFrameTooLarge):
		ref = &refusal{code: protocol.CodeFrameTooLarge, reason: err.Error()}
	case errors.Is(err, protocol.ErrUnknownType):
		ref = &refusal{code: protocol.CodeUnknownType, reason: err.Error()}
	case errors.Is(err, protocol.ErrMalformed), errors.Is(err, protocol.ErrEmptyFrame):
		ref = &refusal{code: protocol.CodeMalformed, reason: err.Error()}
	default:
		// Truncated frame, reset: no one to answer.
		c.logRefusal("frame", err)
		return request{}, err
	}
	c.logRefusal("frame", ref)
	return request{}, ref
}

// decodeRequest reads one frame and decodes it. A batch in a session
// first takes one of the central's slots for batches in flight, before
// its payload is read: the memory of batches is bounded however many
// agencies send at once, and while no slot is free a batch waits in the
// network. From then on the slot is its pendingBatch's.
func (c *conn) decodeRequest(r *protocol.Reader) (request, error) {
	var b *pendingBatch
	admit := func(t protocol.Type) error {
		if t != protocol.TypeBatch || c.agency == 0 {
			return nil
		}
		if !c.srv.batchSlots.TryAcquire(1) {
			// The frame has begun: the wait for a slot is the
			// central's, not counted against the peer's deadline.
			wait := func() error { return c.srv.batchSlots.Acquire(c.ctx, 1) }
			if err := c.clock.excuse(wait); err != nil {
				return err
			}
		}
		b = &pendingBatch{srv: c.srv, buf: betBufs.Get().(*[]lottery.Bet)}
		return nil
	}
	t, payload, err := r.ReadFrameAdmit(admit)
	if err != nil {
		if b != nil {
			b.release()
		}
		return request{}, err
	}
	c.clock.took(len(payload))
	defer r.Recycle() // decoding copies what it keeps
	if b == nil {
		msg, err := protocol.Decode(t, payload)
		return request{msg: msg}, err
	}
	b.read = time.Now()
	if b.batch, err = protocol.DecodeBatch(payload, *b.buf); err != nil {
		b.release()
		return request{}, err
	}
	return request{batch: b}, nil
}
