package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// ReasonTLS is the reason a failed TLS handshake is counted under
// (Observer.Refused).
const ReasonTLS = "tls"

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
	// version is the protocol version of the connection, its Hello's
	// (protocol.MinVersion..protocol.Version): it is sent only that
	// version's messages. 0 until Hello.
	version uint16
	// identity is the peer's certificate's, with TLS; nil in plaintext.
	identity *certs.Identity
	// cert is the peer's certificate, with TLS, once the handshake is
	// done; nil until then and in plaintext. Guarded by srv.mu (see
	// Server.CloseRevoked).
	cert *x509.Certificate

	ctx    context.Context
	cancel context.CancelCauseFunc
	clock  *readClock // the read deadline; the reading goroutine's

	replies chan reply
	told    toldWaiting // what its held queries were told: the teller's
}

// serve runs the connection: the TLS handshake, the first request (a
// Health, answered, or a Hello, welcomed), then the session, until the
// peer or the central ends it.
func (c *conn) serve() {
	defer c.close()
	if !c.handshake() {
		return
	}
	r := protocol.NewReader(c.clock)
	w := protocol.NewWriter(c.nc)
	if !c.greet(r, w) {
		return
	}
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

// greet reads the first request. A Health is answered and ends the
// connection; a Hello the central takes claims its agency and is answered
// with a Welcome, and greet reports that a session follows. Anything else
// is refused.
func (c *conn) greet(r *protocol.Reader, w *protocol.Writer) bool {
	req, err := c.readRequest(r)
	if err != nil {
		if ref := (*refusal)(nil); errors.As(err, &ref) {
			c.send(w, ref.msg())
		}
		return false
	}
	switch m := req.msg.(type) {
	case protocol.Health:
		c.health(w)
		return false
	case protocol.Hello:
		if ref := c.hello(m); ref != nil {
			c.refuse(w, "hello", ref)
			return false
		}
	default: // a batch before Hello is decoded as a protocol.Batch
		c.refuse(w, "hello", refuse(protocol.CodeUnexpected, "%v before hello", m.Type()))
		return false
	}
	c.srv.claim(c)
	// Resume reads what the ledger holds of the agency (over a shared
	// ledger, from the database), after its writes in flight, each of
	// which its own request waits for within the grace period. A Welcome
	// acknowledges nothing: the read is given up as soon as the
	// connection closes, shutdown included, and the agency comes again.
	st, err := c.srv.central.Resume(c.ctx, c.agency)
	if c.ctx.Err() != nil {
		return false
	}
	if err != nil {
		c.refuse(w, "hello", domainRefusal(err))
		return false
	}
	if !c.send(w, protocol.Welcome{Committed: st.Stored, Done: st.Done, Drawn: st.Drawn, Digest: st.Digest}) {
		return false
	}
	c.srv.log.Debug("hello", logging.Success, "peer", c.peer, "agencia", c.agency, "committed", st.Stored, "version", c.version)
	return true
}

// health answers a Health with the central's status, or with Unavailable
// once the central has failed.
func (c *conn) health(w *protocol.Writer) {
	if c.srv.central.Err() != nil {
		// Failed: the wiring is stopping the central.
		c.send(w, domainRefusal(lottery.ErrUnavailable).msg())
		return
	}
	notified, drawn := c.srv.central.Status()
	c.send(w, protocol.HealthOK{Expected: c.srv.central.Agencies(), Notified: notified, Drawn: drawn})
}

// hello takes a Hello, or returns why it is refused: another protocol
// version, an agency the draw does not cover, or one the peer's
// certificate does not speak for.
func (c *conn) hello(m protocol.Hello) *refusal {
	if m.Version < protocol.MinVersion || m.Version > protocol.Version {
		return refuse(protocol.CodeVersion, "agency speaks protocol %d, central speaks %d to %d", m.Version, protocol.MinVersion, protocol.Version)
	}
	if n := c.srv.central.Agencies(); lottery.ValidateAgency(int(m.Agency), n) != nil {
		return refuse(protocol.CodeBadAgency, "agency %d is not one of 1..%d", m.Agency, n)
	}
	if ref := c.speaksFor(int(m.Agency)); ref != nil {
		return ref
	}
	c.agency, c.version = int(m.Agency), m.Version
	c.clock.helloDone()
	return nil
}

// handshake completes the TLS handshake, where the central requires TLS,
// within the Hello deadline, and keeps the identity of the peer's
// certificate. A failure is a refusal (ReasonTLS, or tls_required for a
// plaintext peer, which is told so in plaintext), which spends one of its
// source's tokens, and one fail line naming the peer and why (the
// certificate's identity, where it has one: see mtls.Server), unless its
// source's lines are being collapsed (netguard.Refusals).
func (c *conn) handshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	tc.SetDeadline(c.clock.helloBy)
	err := tc.HandshakeContext(c.ctx)
	if err == nil {
		var id certs.Identity
		cs := tc.ConnectionState()
		if id, err = mtls.PeerIdentity(cs); err == nil {
			c.identity = &id
			err = c.srv.admit(c, cs.PeerCertificates[0])
		}
		if err == nil {
			return true
		}
	}
	if c.ctx.Err() != nil {
		return false // closing: not the peer's failure
	}
	rh := tls.RecordHeaderError{}
	plaintext := errors.As(err, &rh) && rh.Conn != nil
	reason := ReasonTLS
	if plaintext {
		reason = protocol.CodeTLSRequired.String()
	}
	c.srv.refusedFor(reason)
	c.refusedAgency(reason, err)
	// A handshake that ran out of time made the central only wait (see costs).
	if c.srv.guard.Refuse(c.nc.RemoteAddr(), reason, !errors.Is(err, os.ErrDeadlineExceeded)) {
		c.srv.log.Error("tls", logging.Fail, "peer", c.peer, "error", mtls.Refusal(err))
	}
	if plaintext {
		rh.Conn.SetWriteDeadline(time.Now().Add(closingWriteTimeout))
		w := protocol.NewWriter(rh.Conn)
		if w.Write(&protocol.Error{Code: protocol.CodeTLSRequired, Message: "this central requires mutual TLS"}) == nil {
			w.Flush()
		}
		return false
	}
	linger(tc.NetConn())
	return false
}

// lingerTimeout bounds linger.
const lingerTimeout = 250 * time.Millisecond

// linger ends the sending side of a connection whose handshake failed
// and reads what the peer still sends until it closes, for at most
// lingerTimeout, so that the close that follows does not reset the
// connection: a reset can reach the agency before the alert saying why
// it was refused (with TLS 1.3 the agency sends its first frame before
// it learns the central's verdict), and it would be told nothing.
func linger(nc net.Conn) {
	tcp, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	tcp.CloseWrite()
	tcp.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(tcp, 64<<10))
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
		case protocol.Declare:
			if protocol.Has(c.version, m.Type()) {
				c.declare(m)
				continue // no answer
			}
			rep = c.unexpected(m)
		case protocol.Done:
			rep = c.done(m)
		case protocol.WinnersQuery:
			rep = c.winners()
		default:
			rep = c.unexpected(m)
		}
		// The writer reads every reply until c.replies is closed, and its
		// writes have deadlines: this send always ends.
		c.replies <- rep
		if rep.close {
			return
		}
	}
}

// unexpected refuses a message that has no place in a session (or not in
// the connection's version), and closes.
func (c *conn) unexpected(m protocol.Message) reply {
	ref := refuse(protocol.CodeUnexpected, "%v in a session", m.Type())
	if !protocol.Has(c.version, m.Type()) {
		ref = refuse(protocol.CodeUnexpected, "%v in a session of protocol %d", m.Type(), c.version)
	}
	c.logRefusal("frame", ref)
	return reply{msgs: []protocol.Message{ref.msg()}, close: true}
}

// batch hands a batch to the central; its reply waits for the answer.
func (c *conn) batch(b *pendingBatch) reply {
	b.submit(c.agency)
	return reply{batch: b}
}

// done records the agency's notification and answers with its digest.
func (c *conn) done(m protocol.Done) reply {
	digest, err := c.srv.central.Notify(c.srv.drain, c.agency, m.Total)
	if c.srv.gaveUp(err) {
		return reply{close: true} // never acknowledged; the shutdown tells how many
	}
	if err != nil {
		ref := domainRefusal(err)
		c.logRefusal("notificacion", ref)
		return reply{msgs: []protocol.Message{ref.msg()}, close: ref.code.Closes()}
	}
	return reply{msgs: []protocol.Message{protocol.DoneAck{Total: m.Total, Digest: digest}}}
}

// winners answers a WinnersQuery: the agency's winners, or NotYet once
// the hold (Settings.WinnersHold) passes before the draw.
func (c *conn) winners() reply {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.settings.WinnersHold)
	defer cancel()
	if protocol.Has(c.version, protocol.TypeWaiting) {
		defer c.srv.teller.hold(c)()
	}
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
