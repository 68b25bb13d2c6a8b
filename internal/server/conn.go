package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// closingWriteTimeout bounds the last write to a connection being closed.
const closingWriteTimeout = 200 * time.Millisecond

// maxInFlight bounds the replies a connection has queued: a peer that
// sends faster than its batches commit is slowed down here. It matches
// the agency's window (client.Window).
const maxInFlight = 16

// conn is one agency's connection. Its reading goroutine (serve) decodes
// requests and queues one reply per request; its writing goroutine
// (writeReplies) sends those replies in order, each batch's Ack only once
// the batch is on stable storage. Several batches are thus in flight at
// once and share the store's fsyncs.
type conn struct {
	srv    *Server
	nc     net.Conn
	peer   string
	agency int // 0 until Hello
	// identity is the peer's certificate's, with TLS; nil in plaintext.
	identity *certs.Identity

	ctx    context.Context
	cancel context.CancelCauseFunc
	clock  *readClock // the read deadline; the reading goroutine's

	replies chan reply
}

// reply is one answer to send, in order.
type reply struct {
	msgs  []protocol.Message // sent as they are, unless batch is set
	batch *pendingBatch      // a batch: its answer is Ack or Error
	close bool               // the last frame: close the connection after it
}

// refusal is a request the central refuses, as the peer is told and the
// connection's fail line says: a code and a short reason. It never carries
// an internal cause (a file, an OS error): that is logged once, where it
// happened.
type refusal struct {
	code   protocol.Code
	reason string
}

func (r *refusal) Error() string { return r.reason }

// msg is the Error frame that tells the peer.
func (r *refusal) msg() *protocol.Error {
	return &protocol.Error{Code: r.code, Message: r.reason}
}

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

func (c *conn) serve() {
	defer c.close()
	if !c.handshake() {
		return
	}
	r := protocol.NewReader(c.clock)
	w := protocol.NewWriter(c.nc)
	req, err := c.readRequest(r)
	if err != nil {
		if ref := (*refusal)(nil); errors.As(err, &ref) {
			c.send(w, ref.msg())
		}
		return
	}
	switch m := req.msg.(type) {
	case protocol.Health:
		if c.srv.central.Err() != nil {
			// Failed: the wiring is stopping the central.
			c.send(w, domainRefusal(lottery.ErrUnavailable).msg())
			return
		}
		notified, drawn := c.srv.central.Status()
		c.send(w, protocol.HealthOK{Expected: c.srv.central.Agencies(), Notified: notified, Drawn: drawn})
		return
	case protocol.Hello:
		if m.Version != protocol.Version {
			c.refuse(w, "hello", refuse(protocol.CodeVersion, "agency speaks protocol %d, central speaks %d", m.Version, protocol.Version))
			return
		}
		if n := c.srv.central.Agencies(); lottery.ValidateAgency(int(m.Agency), n) != nil {
			c.refuse(w, "hello", refuse(protocol.CodeBadAgency, "agency %d is not one of 1..%d", m.Agency, n))
			return
		}
		if ref := c.speaksFor(int(m.Agency)); ref != nil {
			c.refuse(w, "hello", ref)
			return
		}
		c.agency = int(m.Agency)
		c.clock.helloDone()
	default: // a batch before Hello is decoded as a protocol.Batch
		c.refuse(w, "hello", refuse(protocol.CodeUnexpected, "%v before hello", m.Type()))
		return
	}
	c.srv.claim(c)
	st, err := c.srv.central.Resume(c.agency)
	if err != nil {
		c.refuse(w, "hello", domainRefusal(err))
		return
	}
	if !c.send(w, protocol.Welcome{Committed: st.Stored, Done: st.Done, Drawn: st.Drawn, Digest: st.Digest}) {
		return
	}
	c.srv.log.Debug("hello", logging.Success, "peer", c.peer, "agencia", c.agency, "committed", st.Stored)

	c.replies = make(chan reply, maxInFlight)
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.writeReplies(w)
	}()
	c.serveRequests(r)
	close(c.replies)
	<-written
}

// handshake completes the TLS handshake, where the central requires TLS,
// within the Hello deadline, and keeps the identity of the peer's
// certificate. A failure is one fail line naming the peer and why (the
// certificate's identity, where it has one: see mtls.Server); a
// plaintext peer is told in plaintext that TLS is required.
func (c *conn) handshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	tc.SetDeadline(c.clock.helloBy)
	err := tc.HandshakeContext(c.ctx)
	if err == nil {
		var id certs.Identity
		if id, err = mtls.PeerIdentity(tc.ConnectionState()); err == nil {
			c.identity = &id
			return true
		}
	}
	if c.ctx.Err() != nil {
		return false // closing: not the peer's failure
	}
	c.srv.log.Error("tls", logging.Fail, "peer", c.peer, "error", err)
	if rh := (tls.RecordHeaderError{}); errors.As(err, &rh) && rh.Conn != nil {
		rh.Conn.SetWriteDeadline(time.Now().Add(closingWriteTimeout))
		w := protocol.NewWriter(rh.Conn)
		if w.Write(&protocol.Error{Code: protocol.CodeTLSRequired, Message: "this central requires mutual TLS"}) == nil {
			w.Flush()
		}
	}
	return false
}

// speaksFor refuses a Hello that the peer's certificate does not allow:
// with TLS an agency speaks only for itself, and the probe asks Health
// only. In plaintext anyone may say any agency.
func (c *conn) speaksFor(agency int) *refusal {
	switch id := c.identity; {
	case id == nil:
		return nil
	case id.Probe:
		return refuse(protocol.CodeForbidden, "the probe's certificate may ask Health only")
	case id.Agency != agency:
		return refuse(protocol.CodeForbidden, "the certificate of agency %d cannot speak for agency %d", id.Agency, agency)
	}
	return nil
}

// serveRequests reads an agency's requests and queues their replies until
// the peer closes, the connection fails or is refused, or the central
// shuts it.
func (c *conn) serveRequests(r *protocol.Reader) {
	for {
		req, err := c.readRequest(r)
		if err != nil {
			if ref := (*refusal)(nil); errors.As(err, &ref) {
				c.replies <- reply{msgs: []protocol.Message{ref.msg()}, close: true}
			}
			return
		}
		if req.batch != nil {
			c.replies <- c.batch(req.batch)
			continue
		}
		var rep reply
		switch m := req.msg.(type) {
		case protocol.Done:
			rep = c.done(m)
		case protocol.WinnersQuery:
			rep = c.winners()
		default:
			ref := refuse(protocol.CodeUnexpected, "%v in a session", m.Type())
			c.logRefusal("frame", ref)
			rep = reply{msgs: []protocol.Message{ref.msg()}, close: true}
		}
		// The writer reads every reply until c.replies is closed, and its
		// writes have deadlines: this send always ends.
		c.replies <- rep
		if rep.close {
			return
		}
	}
}

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

func (b *pendingBatch) giveBackBuf() {
	if b.buf == nil {
		return
	}
	clear(b.batch.Bets) // let go of the batch's text
	*b.buf = b.batch.Bets[:0]
	betBufs.Put(b.buf)
	b.buf, b.batch.Bets = nil, nil
}

// wait waits for the central's answer, then releases the batch.
func (b *pendingBatch) wait() (stored uint64, fresh int, err error) {
	defer b.release()
	return b.sub.Wait()
}

// release gives back the batch's slot and, if still held, its slice.
func (b *pendingBatch) release() {
	b.giveBackBuf()
	b.srv.batchSlots.Release(1)
}

func (c *conn) batch(b *pendingBatch) reply {
	b.submit(c.agency)
	return reply{batch: b}
}

func (c *conn) done(m protocol.Done) reply {
	digest, err := c.srv.central.Notify(c.agency, m.Total)
	if err != nil {
		ref := domainRefusal(err)
		c.logRefusal("notificacion", ref)
		return reply{msgs: []protocol.Message{ref.msg()}, close: ref.code.Closes()}
	}
	return reply{msgs: []protocol.Message{protocol.DoneAck{Total: m.Total, Digest: digest}}}
}

func (c *conn) winners() reply {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.settings.WinnersHold)
	defer cancel()
	docs, digest, err := c.srv.central.Winners(ctx, c.agency)
	switch {
	case err == nil:
		c.srv.log.Info("ganadores_enviados", logging.Success, "agencia", c.agency, "cant_ganadores", len(docs))
		var msgs []protocol.Message
		for _, m := range protocol.SplitWinners(docs, digest) {
			msgs = append(msgs, m)
		}
		return reply{msgs: msgs}
	case c.ctx.Err() != nil:
		return reply{close: true} // closing: the writer says why
	case errors.Is(err, context.DeadlineExceeded):
		return reply{msgs: []protocol.Message{protocol.NotYet{}}}
	}
	ref := domainRefusal(err)
	c.logRefusal("consulta_ganadores", ref)
	return reply{msgs: []protocol.Message{ref.msg()}, close: true}
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
// answer.
func (c *conn) answer(rep reply) []protocol.Message {
	if rep.batch == nil {
		return rep.msgs
	}
	stored, fresh, err := rep.batch.wait()
	if err != nil {
		ref := domainRefusal(err)
		c.logRefusal("apuesta_recibida", ref, "cantidad", rep.batch.size)
		return []protocol.Message{ref.msg()}
	}
	c.logStored(rep.batch, fresh)
	c.srv.stored(c.agency, fresh, time.Since(rep.batch.read))
	return []protocol.Message{protocol.Ack{Committed: stored}}
}

func (c *conn) logStored(b *pendingBatch, fresh int) {
	log := c.srv.log
	if dup := b.size - fresh; dup > 0 {
		log.Info("apuesta_recibida", logging.Success, "cantidad", fresh, "duplicadas", dup, "agencia", c.agency)
	} else {
		log.Info("apuesta_recibida", logging.Success, "cantidad", fresh, "agencia", c.agency)
	}
	if b.single != nil && fresh == 1 {
		log.Info("apuesta_almacenada", logging.Success, "dni", b.single.Document, "numero", b.single.Number)
	}
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

func (c *conn) logRefusal(action string, err error, attrs ...any) {
	ref := (*refusal)(nil)
	isRef := errors.As(err, &ref)
	if isRef {
		c.srv.refused(ref.code)
	}
	if isRef && ref.code == protocol.CodeUnavailable {
		// The ledger failed: it logged why, once, and the central is
		// stopping. Not a failure of this connection's.
		return
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

// send writes one frame and flushes it.
func (c *conn) send(w *protocol.Writer, m protocol.Message) bool {
	return w.Write(m) == nil && c.flush(w)
}

// flush writes what is buffered, under the read timeout, or under a short
// one once the connection is closing, so that a peer that does not read
// cannot hold a shutdown.
func (c *conn) flush(w *protocol.Writer) bool {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.settings.PeerTimeout))
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
