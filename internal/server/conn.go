package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// Short names for the codes this file uses most.
const (
	codeBusy        = protocol.CodeBusy
	codeUnavailable = protocol.CodeUnavailable
)

// closingWriteTimeout bounds the last write to a connection being closed.
const closingWriteTimeout = 200 * time.Millisecond

// maxInFlight bounds the replies a connection has queued: a peer that
// sends faster than its batches commit is slowed down here. It matches
// the agency's window (client.Window).
const maxInFlight = 16

// conn is one agency's connection. Its reading goroutine (serve) decodes
// frames and queues one reply per request; its writing goroutine
// (writeReplies) sends those replies in order, each batch's Ack only once
// the batch is on stable storage. Several batches are thus in flight at
// once and share the store's fsyncs.
type conn struct {
	srv    *Server
	nc     net.Conn
	peer   string
	agency int // 0 until Hello

	ctx    context.Context
	cancel context.CancelCauseFunc

	replies chan reply
}

// betBufs holds the slices batches are decoded into. The store renders a
// batch's rows before Append returns, so its slice can serve the next
// batch of any connection: a central with many agencies keeps only as
// many as are being decoded at once.
var betBufs = sync.Pool{New: func() any { return new([]lottery.Bet) }}

// reply is one answer to send, in order.
type reply struct {
	msgs   []protocol.Message // sent as they are, unless commit is set
	commit *storage.Commit    // a batch's commit: its answer is Ack or Error
	bets   int                // the batch's size, for the log
	single *lottery.Bet       // a batch of one bet, for its own log line
	close  bool               // the last frame: close the connection after it
}

// refusal is a request the central refuses: it is logged once as a fail
// line and answered with an Error frame.
type refusal struct {
	code protocol.Code
	err  error
}

func (r *refusal) Error() string { return r.err.Error() }

func refuse(code protocol.Code, format string, args ...any) *refusal {
	return &refusal{code: code, err: fmt.Errorf(format, args...)}
}

func (c *conn) serve() {
	defer c.close()
	r := protocol.NewReader(c.nc)
	w := protocol.NewWriter(c.nc)
	msg, ok := c.read(r, w)
	if !ok {
		return
	}
	switch m := msg.(type) {
	case protocol.Health:
		notified, drawn := c.srv.central.Status()
		c.send(w, protocol.HealthOK{Expected: c.srv.central.Agencies(), Notified: notified, Drawn: drawn})
		return
	case protocol.Hello:
		if err := lottery.ValidateAgency(int(m.Agency), c.srv.central.Agencies()); err != nil {
			c.fail(w, "hello", refuse(protocol.CodeBadAgency, "%w", err))
			return
		}
		c.agency = int(m.Agency)
	default:
		c.fail(w, "hello", refuse(protocol.CodeUnexpected, "%v before hello", msg.Type()))
		return
	}
	c.srv.claim(c)
	progress := c.srv.store.Progress(c.agency)
	welcome := protocol.Welcome{Committed: progress.Committed, Done: progress.Done, Drawn: c.srv.central.Drawn()}
	if !c.send(w, welcome) {
		return
	}
	c.srv.log.Debug("hello", logging.Success, "peer", c.peer, "agencia", c.agency, "committed", progress.Committed)

	c.replies = make(chan reply, maxInFlight)
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.writeReplies(w)
	}()
	c.readRequests(r)
	close(c.replies)
	<-written
}

// readRequests reads an agency's requests until the peer closes, the
// connection fails or is refused, or the central shuts it.
func (c *conn) readRequests(r *protocol.Reader) {
	for {
		msg, err := c.readFrame(r)
		if err != nil {
			if ref := (*refusal)(nil); errors.As(err, &ref) {
				c.queue(reply{msgs: errorMsg(ref), close: true})
			}
			return
		}
		var rep reply
		switch m := msg.(type) {
		case protocol.Batch:
			rep = c.batch(m)
		case protocol.Done:
			rep = c.done(m)
		case protocol.WinnersQuery:
			rep = c.winners()
		default:
			err := refuse(protocol.CodeUnexpected, "%v in a session", msg.Type())
			c.logRefusal("frame", err)
			rep = reply{msgs: errorMsg(err), close: true}
		}
		if !c.queue(rep) || rep.close {
			return
		}
	}
}

// queue hands rep to the writer, unless the connection is closing.
func (c *conn) queue(rep reply) bool {
	select {
	case c.replies <- rep:
		return true
	case <-c.ctx.Done():
		if rep.commit != nil {
			rep.commit.Wait() // the store answers it; then free its slot
			c.srv.batchSlots.Release(1)
		}
		return false
	}
}

func (c *conn) batch(m protocol.Batch) reply {
	defer func() {
		clear(m.Bets) // let go of the batch's text
		buf := m.Bets[:0]
		betBufs.Put(&buf)
	}()
	for i := range m.Bets {
		m.Bets[i].Agency = c.agency
		if err := lottery.Validate(m.Bets[i]); err != nil {
			ref := refuse(protocol.CodeInvalidBet, "bet %d of batch at %d: %w", i, m.First, err)
			c.srv.log.Error("apuesta_recibida", logging.Fail, "cantidad", len(m.Bets), "peer", c.peer, "agencia", c.agency, "error", ref)
			c.srv.batchSlots.Release(1)
			return reply{msgs: errorMsg(ref)}
		}
	}
	rep := reply{commit: c.srv.store.Append(c.agency, m.First, m.Bets), bets: len(m.Bets)}
	if len(m.Bets) == 1 {
		single := m.Bets[0] // a copy: m.Bets is reused for the next batch
		rep.single = &single
	}
	return rep
}

func (c *conn) done(m protocol.Done) reply {
	if err := c.srv.central.Notify(c.agency, m.Total); err != nil {
		ref := refusalFor(err)
		c.logRefusal("notificacion", ref)
		return reply{msgs: errorMsg(ref), close: ref.code.Closes()}
	}
	return reply{msgs: []protocol.Message{protocol.Ack{Committed: m.Total}}}
}

func (c *conn) winners() reply {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.WinnersHold)
	defer cancel()
	docs, err := c.srv.central.Winners(ctx, c.agency)
	switch {
	case err == nil:
		c.srv.log.Info("ganadores_enviados", logging.Success, "agencia", c.agency, "cant_ganadores", len(docs))
		var msgs []protocol.Message
		for _, m := range protocol.SplitWinners(docs) {
			msgs = append(msgs, m)
		}
		return reply{msgs: msgs}
	case c.ctx.Err() != nil:
		return reply{close: true} // closing: the writer says why
	case errors.Is(err, context.DeadlineExceeded):
		return reply{msgs: []protocol.Message{protocol.NotYet{}}}
	}
	ref := refusalFor(err)
	c.logRefusal("consulta_ganadores", ref)
	return reply{msgs: errorMsg(ref), close: true}
}

// writeReplies sends replies in order until the reader is done or the
// connection closes; then it tells the peer why, when the central closes
// it, and returns.
func (c *conn) writeReplies(w *protocol.Writer) {
	broken := false
	for rep := range c.replies {
		if broken {
			continue // drain, so that the reader never blocks
		}
		msgs := c.answer(rep)
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
		last := &protocol.Error{Code: codeUnavailable, Message: errShutdown.Error()}
		if errors.Is(cause, errSuperseded) {
			last = &protocol.Error{Code: protocol.CodeSuperseded, Message: errSuperseded.Error()}
		}
		if w.Write(last) == nil {
			c.flush(w)
		}
	}
}

var errPeerGone = errors.New("peer gone")

// answer turns a reply into the frames to send, waiting for a batch's
// commit.
func (c *conn) answer(rep reply) []protocol.Message {
	if rep.commit == nil {
		return rep.msgs
	}
	committed, stored, err := rep.commit.Wait()
	c.srv.batchSlots.Release(1) // taken by decodeFrame
	if err != nil {
		ref := refusalFor(err)
		c.srv.log.Error("apuesta_recibida", logging.Fail, "cantidad", rep.bets, "peer", c.peer, "agencia", c.agency, "error", ref)
		return errorMsg(ref)
	}
	c.logStored(rep, stored)
	return []protocol.Message{protocol.Ack{Committed: committed}}
}

func errorMsg(ref *refusal) []protocol.Message {
	return []protocol.Message{&protocol.Error{Code: ref.code, Message: ref.Error()}}
}

func (c *conn) logStored(rep reply, stored int) {
	log := c.srv.log
	if dup := rep.bets - stored; dup > 0 {
		log.Info("apuesta_recibida", logging.Success, "cantidad", stored, "duplicadas", dup, "agencia", c.agency)
	} else {
		log.Info("apuesta_recibida", logging.Success, "cantidad", stored, "agencia", c.agency)
	}
	if rep.single != nil && stored == 1 {
		log.Info("apuesta_almacenada", logging.Success, "dni", rep.single.Document, "numero", rep.single.Number)
	}
}

// refusalFor maps a domain or storage error to the code the agency gets.
func refusalFor(err error) *refusal {
	code := codeUnavailable
	switch {
	case errors.Is(err, lottery.ErrInvalidBet):
		code = protocol.CodeInvalidBet
	case errors.Is(err, lottery.ErrOutOfOrder):
		code = protocol.CodeOutOfOrder
	case errors.Is(err, lottery.ErrClosed):
		code = protocol.CodeDrawClosed
	case errors.Is(err, lottery.ErrIncomplete):
		code = protocol.CodeIncomplete
	}
	return &refusal{code: code, err: err}
}

// read reads the first frame of a connection; on failure it has already
// answered and logged.
func (c *conn) read(r *protocol.Reader, w *protocol.Writer) (protocol.Message, bool) {
	msg, err := c.readFrame(r)
	if err != nil {
		if ref := (*refusal)(nil); errors.As(err, &ref) {
			c.send(w, &protocol.Error{Code: ref.code, Message: ref.Error()})
		}
		return nil, false
	}
	return msg, true
}

// readFrame reads one frame under the read timeout. A frame the central
// refuses comes back as a *refusal, already logged; a peer that closed
// between frames, or a connection the central is closing, as another error,
// not logged as a failure.
func (c *conn) readFrame(r *protocol.Reader) (protocol.Message, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.readTimeout))
	if err := c.ctx.Err(); err != nil {
		return nil, err // checked after setting the deadline: see close
	}
	msg, err := c.decodeFrame(r)
	if err == nil {
		return msg, nil
	}
	if c.ctx.Err() != nil {
		return nil, c.ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		return nil, err // closed between frames: a normal end
	}
	var ref *refusal
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		ref = refuse(protocol.CodeTimeout, "nothing received for %v", c.srv.readTimeout)
	case errors.Is(err, protocol.ErrFrameTooLarge):
		ref = &refusal{code: protocol.CodeFrameTooLarge, err: err}
	case errors.Is(err, protocol.ErrUnknownType):
		ref = &refusal{code: protocol.CodeUnknownType, err: err}
	case errors.Is(err, protocol.ErrMalformed), errors.Is(err, protocol.ErrEmptyFrame):
		ref = &refusal{code: protocol.CodeMalformed, err: err}
	default:
		// Truncated frame, reset: no one to answer.
		c.logRefusal("frame", err)
		return nil, err
	}
	c.logRefusal("frame", ref)
	return nil, ref
}

// decodeFrame reads one frame and decodes it. A batch in a session first
// takes one of the central's slots for batches in flight, before its
// payload is read: the memory of batches is bounded however many agencies
// send at once, and while no slot is free a batch waits in the network.
func (c *conn) decodeFrame(r *protocol.Reader) (protocol.Message, error) {
	slot := false
	admit := func(t protocol.Type) error {
		if t != protocol.TypeBatch || c.agency == 0 {
			return nil
		}
		if err := c.srv.batchSlots.Acquire(c.ctx, 1); err != nil {
			return err
		}
		slot = true
		return nil
	}
	t, payload, err := r.ReadFrameAdmit(admit)
	if err == nil {
		defer r.Recycle() // decoding copies what it keeps
		var msg protocol.Message
		if t == protocol.TypeBatch {
			buf := betBufs.Get().(*[]lottery.Bet)
			var batch protocol.Batch
			if batch, err = protocol.DecodeBatch(payload, *buf); err != nil {
				betBufs.Put(buf)
			}
			msg = batch // its Bets go back to betBufs once stored: see batch
		} else {
			msg, err = protocol.Decode(t, payload)
		}
		if err == nil {
			return msg, nil
		}
	}
	if slot {
		c.srv.batchSlots.Release(1)
	}
	return nil, err
}

func (c *conn) logRefusal(action string, err error) {
	attrs := []any{logging.Fail, "peer", c.peer}
	if c.agency != 0 {
		attrs = append(attrs, "agencia", c.agency)
	}
	c.srv.log.Error(action, append(attrs, "error", err)...)
}

func (c *conn) fail(w *protocol.Writer, action string, ref *refusal) {
	c.logRefusal(action, ref)
	c.send(w, &protocol.Error{Code: ref.code, Message: ref.Error()})
}

// send writes one frame and flushes it.
func (c *conn) send(w *protocol.Writer, m protocol.Message) bool {
	return w.Write(m) == nil && c.flush(w)
}

// flush writes what is buffered, under the read timeout, or under a short
// one once the connection is closing, so that a peer that does not read
// cannot hold a shutdown.
func (c *conn) flush(w *protocol.Writer) bool {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.readTimeout))
	if c.ctx.Err() != nil { // checked after setting it: see newConn
		c.nc.SetWriteDeadline(time.Now().Add(closingWriteTimeout))
	}
	return w.Flush() == nil
}

// close closes the connection and logs it.
func (c *conn) close() {
	c.cancel(nil)
	c.srv.forget(c)
	err := c.nc.Close()
	attrs := []any{logging.Success, "resource", "connection", "peer", c.peer}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	if c.agency == 0 {
		// Health checks come every second: their closes are debug noise.
		c.srv.log.Debug("close", attrs...)
		return
	}
	c.srv.log.Info("close", append(attrs, "agencia", strconv.Itoa(c.agency))...)
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
