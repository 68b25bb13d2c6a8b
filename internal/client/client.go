// Package client is the agency ("agencia de quiniela"): it uploads its
// bets to the central in batches, several in flight at once, tells the
// central when it is done and asks for its winners. It survives a central
// that restarts or a connection that breaks: it reconnects with
// exponential backoff and jitter, resumes from the count of bets the
// central has committed, and never sends a bet the central already holds.
//
// It trusts the central's count only once it has checked the central's
// digest of those bets against its own (PROTOCOL.md, section 4), and
// checks the digest of all of them when the central acknowledges its
// done notification: a central that holds other bets than the agency's
// file stops the agency, with one verificacion line naming both digests.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/mtls"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// Window is how many batches an agency keeps in flight: enough to keep
// the central's group commit fed while one batch is being synced.
const Window = 16

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

// ErrRetryDeadline is returned when the central could not be reached for
// longer than retry.timeout.
var ErrRetryDeadline = errors.New("central unreachable for longer than retry.timeout")

// ErrVerification is returned when the bets the central holds for the
// agency are not the agency's: a digest of the central differs from the
// agency's own, or the agency has another number of bets than the central
// says. The agency has logged its verificacion fail line by then, and does
// not reconnect: the central would hold the same bets.
var ErrVerification = errors.New("the central's bets are not the agency's")

// Agency is one agency's run.
type Agency struct {
	cfg config.Client
	log *slog.Logger
	// Single, when set, is the one bet to send instead of the data file
	// (the single-bet mode of NOMBRE, APELLIDO, ...).
	Single *lottery.Bet
	// Backoff is the first wait before reconnecting; it doubles up to
	// MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration

	bets     func() iter.Seq2[lottery.Bet, error] // nil: the data file
	pace     func(bets int)                       // nil: send at once
	observer Observer
	tls      *tls.Config // mutual TLS, loaded by preflight; nil: plaintext
}

// Observer is told how an agency's upload goes. The load generator
// measures through it; an agency of cmd/client has none.
type Observer interface {
	// OnAck is called with each acknowledged batch's size and the time
	// from sending it to its Ack.
	OnAck(bets int, latency time.Duration)
	// OnDone is called just before the done notification.
	OnDone()
}

// Resumer is an Observer that is also told, on each connection, how
// many of the agency's bets the central already holds: those OnAck will
// not count. The progress bar of cmd/client is one.
type Resumer interface {
	OnResume(held uint64)
}

// Option changes where an agency's bets come from or how they are sent.
// The options serve the load generator, which drives many agencies of
// the real client code in one process.
type Option func(*Agency)

// WithSource makes bets the source of the agency's bets instead of the
// data file: it yields all of them, from bet number 0, each time it is
// called. The agency reads again, on every connection, the bets the
// central already holds, to check the central's digest of them.
func WithSource(bets func() iter.Seq2[lottery.Bet, error]) Option {
	return func(a *Agency) { a.bets = bets }
}

// WithPace makes the agency call pace before it sends each batch, with
// the batch's size; the load generator sleeps in it to offer a steady
// rate.
func WithPace(pace func(bets int)) Option {
	return func(a *Agency) { a.pace = pace }
}

// WithObserver makes the agency tell o how its upload goes; a nil o
// changes nothing.
func WithObserver(o Observer) Option {
	return func(a *Agency) {
		if o != nil {
			a.observer = o
		}
	}
}

// noObserver is the Observer of an agency that has none.
type noObserver struct{}

func (noObserver) OnAck(int, time.Duration) {}
func (noObserver) OnDone()                  {}

// New returns the agency described by cfg, changed by opts.
func New(cfg config.Client, log *slog.Logger, opts ...Option) *Agency {
	a := &Agency{cfg: cfg, log: log, Backoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second, observer: noObserver{}}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

// Result is what a run ends with.
type Result struct {
	Winners []string       // documents of the agency's winners
	Sent    uint64         // bets of the agency that the central holds
	Digest  lottery.Digest // of those bets: the agency's, which the central's matched
	Draw    lottery.Digest // the draw's digest, as the Winners frames carried it
}

// Run uploads the agency's bets, notifies and returns its winners. It
// returns ctx's error when ctx is done first; the caller treats that as a
// normal stop.
func (a *Agency) Run(ctx context.Context) (Result, error) {
	if err := a.preflight(); err != nil {
		return Result{}, err
	}
	a.removeStaleTemps()
	lastProgress := time.Now()
	delay := a.Backoff
	for attempt := 1; ; attempt++ {
		res, progress, err := a.session(ctx)
		if err == nil {
			if err := a.saveWinners(res.Winners); err != nil {
				return res, err
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if !retryable(err) {
			return Result{}, err
		}
		// Only progress resets the backoff and the deadline: a central that
		// is up but failing (it welcomes, then refuses) sees each agency
		// once per backoff step, and the agency gives up in time.
		if progress {
			lastProgress, delay = time.Now(), a.Backoff
		}
		if time.Since(lastProgress) > a.cfg.RetryTimeout {
			return Result{}, fmt.Errorf("%w (%v): %w", ErrRetryDeadline, a.cfg.RetryTimeout, err)
		}
		wait := delay/2 + rand.N(delay/2+1) // jitter: agencies do not retry in step
		a.log.Warn("reconectar", logging.InProgress, "intento", attempt, "espera", wait.Round(time.Millisecond), "error", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
		delay = min(2*delay, a.MaxBackoff)
	}
}

// preflight checks, before the first connection, what no reconnection
// can fix, so that the agency fails at once instead of retrying for
// retry.timeout: an id that no central takes (and that would not survive
// the wire's 32 bits), a data file that does not open or whose first bet
// does not read, a single bet that is not valid.
func (a *Agency) preflight() error {
	if a.cfg.ID < 1 || a.cfg.ID > lottery.MaxAgencies {
		return fmt.Errorf("agency id %d is outside 1..%d", a.cfg.ID, lottery.MaxAgencies)
	}
	if a.cfg.TLS() {
		host, _, err := net.SplitHostPort(a.cfg.ServerAddress)
		if err != nil {
			return fmt.Errorf("server.address %q: %w", a.cfg.ServerAddress, err)
		}
		if a.tls, err = mtls.Client(a.cfg.TLSCA, a.cfg.TLSCert, a.cfg.TLSKey, host); err != nil {
			return fmt.Errorf("%w: %w", ErrTLS, err)
		}
	}
	switch {
	case a.bets != nil:
		return nil
	case a.Single != nil:
		bet := *a.Single
		bet.Agency = a.cfg.ID
		return lottery.Validate(bet)
	}
	return betcsv.CheckAgencyFile(a.cfg.DataFile, a.cfg.ID)
}

// retryable reports whether err may go away by reconnecting.
func retryable(err error) bool {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return perr.Code.Retryable()
	}
	var fe *betcsv.FileError
	if errors.As(err, &fe) || errors.Is(err, errProtocol) || errors.Is(err, ErrVerification) || errors.Is(err, ErrTLS) || errors.Is(err, ErrWinnersFile) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// ErrTLS marks a failure of mutual TLS that connecting again cannot fix:
// a certificate the agency cannot load, a central whose certificate is
// not the lottery's or not for its name, or expired, a central that
// refused the agency's certificate, or one that does not speak TLS.
var ErrTLS = errors.New("mutual TLS failed")

// handshake runs the TLS handshake on nc within the server timeout. A
// failure that retrying cannot fix is ErrTLS, saying what failed.
func (a *Agency) handshake(ctx context.Context, nc net.Conn) (net.Conn, error) {
	tc := tls.Client(nc, a.tls)
	hctx, cancel := context.WithTimeout(ctx, a.cfg.ServerTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, tlsError(err)
	}
	return tc, nil
}

// tlsError says what a TLS failure means, marking ErrTLS those that
// retrying cannot fix; other errors (a reset, a timeout) stay retryable.
func tlsError(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w: the central's certificate is not signed by the lottery CA of tls.ca: %w", ErrTLS, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: the central's certificate is not for %s: %w", ErrTLS, hostname.Host, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("%w: the central's certificate has expired or is not yet valid: %w", ErrTLS, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: the central's certificate is not valid: %w", ErrTLS, err)
	case errors.As(err, &record):
		return fmt.Errorf("%w: the central does not speak TLS (is it configured with SERVER_TLS_CERT?): %w", ErrTLS, err)
	case isRemoteAlert(err):
		return fmt.Errorf("%w: the central refused the agency's certificate: %w", ErrTLS, err)
	}
	return fmt.Errorf("tls handshake: %w", err)
}

// isRemoteAlert reports whether err is a TLS alert the central sent (it
// refused the agency's certificate). In TLS 1.3 that alert comes after
// the agency's side of the handshake is complete: on its first read.
// crypto/tls reports a peer's alert as a *net.OpError whose Op is
// "remote error" (tls.AlertError is for QUIC only).
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// errProtocol marks an answer that breaks the protocol: reconnecting would
// not help.
var errProtocol = errors.New("protocol violation by the central")

// session is one connection's worth of work. progress reports whether the
// central made progress for the agency (see link.progressed), which
// restarts the backoff and the retry deadline.
func (a *Agency) session(ctx context.Context) (res Result, progress bool, err error) {
	var d net.Dialer
	dialCtx, cancel := context.WithTimeout(ctx, a.cfg.ServerTimeout)
	nc, err := d.DialContext(dialCtx, "tcp", a.cfg.ServerAddress)
	cancel()
	if err != nil {
		return Result{}, false, fmt.Errorf("connect %s: %w", a.cfg.ServerAddress, err)
	}
	if a.tls != nil {
		if nc, err = a.handshake(ctx, nc); err != nil {
			return Result{}, false, err
		}
	}
	c := &link{nc: nc, r: protocol.NewReader(nc), w: protocol.NewWriter(nc), timeout: a.cfg.ServerTimeout}
	stop := context.AfterFunc(ctx, func() { nc.Close() }) // unblocks any read or write at once
	defer func() {
		stop()
		nc.Close()
		a.log.Info("close", logging.Success, "resource", "connection", "address", a.cfg.ServerAddress)
	}()

	msg, err := c.call(protocol.Hello{Agency: uint32(a.cfg.ID), Version: protocol.Version})
	if err != nil {
		if a.tls != nil && isRemoteAlert(err) {
			err = tlsError(err) // TLS 1.3: the central refuses a certificate after the handshake
		}
		return Result{}, false, err
	}
	welcome, ok := msg.(protocol.Welcome)
	if !ok {
		return Result{}, c.progressed, fmt.Errorf("%w: %v in answer to hello", errProtocol, msg.Type())
	}
	a.log.Debug("hello", logging.Success, "committed", welcome.Committed, "done", welcome.Done)
	held, digest := welcome.Committed, welcome.Digest
	if r, ok := a.observer.(Resumer); ok {
		r.OnResume(held)
	}
	if welcome.Done {
		if err := a.verifyDone(welcome); err != nil {
			return Result{}, c.progressed, err
		}
	} else {
		total, own, err := a.upload(c, welcome)
		if err != nil {
			return Result{}, c.progressed, err
		}
		a.observer.OnDone()
		msg, err := c.call(protocol.Done{Total: total})
		if err != nil {
			return Result{}, c.progressed, err
		}
		ack, ok := msg.(protocol.DoneAck)
		if !ok {
			return Result{}, c.progressed, fmt.Errorf("%w: %v in answer to done", errProtocol, msg.Type())
		}
		a.log.Info("notificacion", logging.Success, "apuestas", total)
		if err := a.checkDoneAck(ack, total, own); err != nil {
			return Result{}, c.progressed, err
		}
		held, digest = total, own
	}
	winners, draw, err := a.winners(ctx, c)
	if err != nil {
		return Result{}, c.progressed, err
	}
	a.log.Info("consulta_ganadores", logging.Success, "cant_ganadores", len(winners), "digest", draw.String())
	return Result{Winners: winners, Sent: held, Digest: digest, Draw: draw}, true, nil
}

// winners asks until the central answers with the agency's winners, and
// returns them with the draw's digest.
func (a *Agency) winners(ctx context.Context, c *link) ([]string, lottery.Digest, error) {
	wait := winnersWait(c.timeout)
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
			case protocol.NotYet:
				// The central held the query as long as it holds one:
				// ask again at once, it waits, we do not spin.
				a.log.Debug("consulta_ganadores", logging.InProgress)
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

// upload checks the central's digest of the bets it holds (those before
// w.Committed) and sends the agency's bets from there on, with up to
// Window batches in flight. It returns the agency's total and its digest
// of all its bets once every batch is acknowledged.
func (a *Agency) upload(c *link, w protocol.Welcome) (uint64, lottery.Digest, error) {
	all, closer, err := a.source()
	if err != nil {
		return 0, lottery.Digest{}, err
	}
	defer a.closeSource(closer)
	d := newDigester(a.cfg.ID)
	bets := a.resume(all, d, w.Committed, w.Digest)

	// acks receives each batch sent; the reading side checks each Ack
	// against it.
	acks := make(chan inflight, Window)
	readErr := make(chan error, 1)
	go func() {
		readErr <- a.readAcks(c, acks)
	}()
	total, sendErr := a.sendBatches(c, bets, w.Committed, acks)
	close(acks)
	if err := <-readErr; err != nil {
		return 0, lottery.Digest{}, err // the cause: a send fails because the read side closed
	}
	if sendErr != nil {
		return 0, lottery.Digest{}, sendErr
	}
	return total, d.sum(), nil
}

// resume yields the bets of all from number n on, the first n being the
// bets the central holds, whose digest it says is central. It hashes every
// bet into d, and checks the first n against central before it yields
// anything: a mismatch, or fewer than n bets, ends the sequence with an
// ErrVerification error, logged, so that nothing more is sent.
func (a *Agency) resume(all iter.Seq2[lottery.Bet, error], d *digester, n uint64, central lottery.Digest) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		checked := false
		for bet, err := range all {
			if err != nil {
				yield(lottery.Bet{}, err)
				return
			}
			if d.n < n {
				d.add(bet)
				continue
			}
			if !checked {
				if err := a.checkHeld(d, n, central); err != nil {
					yield(lottery.Bet{}, err)
					return
				}
				checked = true
			}
			d.add(bet)
			if !yield(bet, nil) {
				return
			}
		}
		if !checked {
			if err := a.checkHeld(d, n, central); err != nil {
				yield(lottery.Bet{}, err)
			}
		}
	}
}

// checkHeld compares the agency's bets hashed into d, all it has read so
// far, with the n bets the central holds, whose digest is central.
func (a *Agency) checkHeld(d *digester, n uint64, central lottery.Digest) error {
	own := d.sum()
	switch {
	case d.n < n:
		return a.mismatch(n, own, central, fmt.Sprintf("%s has only %d bets, the central holds %d", a.sourceName(), d.n, n))
	case own != central:
		return a.mismatch(n, own, central, a.differ(n))
	}
	a.log.Debug("verificacion", logging.InProgress, "agencia", a.cfg.ID, "apuestas", n, "digest", own.String())
	return nil
}

// verifyDone checks, for an agency the central says is done, that its
// bets are exactly the ones the central holds: a line added to the file,
// or changed, after the agency notified would not be in the draw.
func (a *Agency) verifyDone(w protocol.Welcome) error {
	all, closer, err := a.source()
	if err != nil {
		return err
	}
	defer a.closeSource(closer)
	d := newDigester(a.cfg.ID)
	for _, err := range a.resume(all, d, w.Committed, w.Digest) {
		if err != nil {
			return err
		}
		// A bet past those the central holds: read on, to count them.
	}
	if d.n != w.Committed {
		return a.mismatch(w.Committed, d.sum(), w.Digest,
			fmt.Sprintf("%s has %d bets, the agency notified %d", a.sourceName(), d.n, w.Committed))
	}
	a.verified(d.n, w.Digest)
	return nil
}

// checkDoneAck compares the central's answer to the agency's Done with
// the agency's total and its digest own of all its bets.
func (a *Agency) checkDoneAck(ack protocol.DoneAck, total uint64, own lottery.Digest) error {
	switch {
	case ack.Total != total:
		return a.mismatch(ack.Total, own, ack.Digest,
			fmt.Sprintf("the central holds %d bets, the agency sent %d", ack.Total, total))
	case ack.Digest != own:
		return a.mismatch(total, own, ack.Digest, a.differ(total))
	}
	a.verified(total, own)
	return nil
}

// differ is the reason of a mismatch between the agency's digest of its
// first n bets and the central's.
func (a *Agency) differ(n uint64) string {
	if n == 0 {
		return "the central holds no bets, but its digest is not that of no bets"
	}
	return fmt.Sprintf("the central holds bets 0..%d that differ from %s", n-1, a.sourceName())
}

// sourceName names where the agency's bets come from, for a reason.
func (a *Agency) sourceName() string {
	switch {
	case a.bets != nil:
		return "the agency's source"
	case a.Single != nil:
		return "the single bet"
	}
	return "the file"
}

// mismatch logs the one line of a failed verification and returns the
// error that ends the run. bets is the count the central gave; own is the
// agency's digest of the bets it compared.
func (a *Agency) mismatch(bets uint64, own, central lottery.Digest, reason string) error {
	a.log.Error("verificacion", logging.Fail, "agencia", a.cfg.ID, "apuestas", bets,
		"digest_agencia", own.String(), "digest_central", central.String(), "error", reason)
	return fmt.Errorf("%w: %s", ErrVerification, reason)
}

// verified logs that the central holds exactly the agency's bets.
func (a *Agency) verified(bets uint64, digest lottery.Digest) {
	a.log.Info("verificacion", logging.Success, "agencia", a.cfg.ID, "apuestas", bets, "digest", digest.String())
}

// digester counts the agency's bets as they are read and keeps their
// digest (lottery.Hasher), under the agency's id: the central stores the
// bets of a connection under its Hello's agency, whatever their Agency
// field says. Its memory does not grow with the bets.
type digester struct {
	agency int
	h      *lottery.Hasher
	n      uint64 // bets hashed
}

func newDigester(agency int) *digester {
	return &digester{agency: agency, h: lottery.NewHasher()}
}

// add hashes the next bet.
func (d *digester) add(bet lottery.Bet) {
	d.h.Add(d.agency, bet)
	d.n++
}

// sum returns the digest of the bets hashed so far; more may be added.
func (d *digester) sum() lottery.Digest { return d.h.Sum() }

// inflight is a batch sent and not yet acknowledged.
type inflight struct {
	end  uint64 // the count the central holds once the batch is stored
	bets int
	sent time.Time
}

// sendBatches encodes and sends batches, each as full as the batch size
// and the frame limit allow.
func (a *Agency) sendBatches(c *link, bets iter.Seq2[lottery.Bet, error], next uint64, acks chan<- inflight) (uint64, error) {
	enc := protocol.NewBatchEncoder(a.cfg.BatchMax)
	enc.Reset(next)
	flush := func() error {
		if enc.Len() == 0 {
			return nil
		}
		if a.pace != nil {
			a.pace(enc.Len())
		}
		next += uint64(enc.Len())
		acks <- inflight{end: next, bets: enc.Len(), sent: time.Now()} // blocks while Window batches are in flight
		if err := c.sendFrame(enc.Frame()); err != nil {
			return err
		}
		enc.Reset(next)
		return nil
	}
	for bet, err := range bets {
		if err != nil {
			if ferr := flush(); ferr != nil {
				return 0, ferr
			}
			return 0, err
		}
		added, err := enc.Add(bet)
		if err != nil {
			return 0, err
		}
		if !added {
			if err := flush(); err != nil {
				return 0, err
			}
			if _, err := enc.Add(bet); err != nil {
				return 0, err
			}
		}
	}
	return next, flush()
}

// readAcks reads one answer per batch sent, in order.
func (a *Agency) readAcks(c *link, acks <-chan inflight) error {
	for batch := range acks {
		want := batch.end
		msg, err := c.read()
		if err != nil {
			c.nc.Close() // stop the sender too
			for range acks {
			}
			return err
		}
		ack, ok := msg.(protocol.Ack)
		if !ok || ack.Committed < want {
			c.nc.Close()
			for range acks {
			}
			return fmt.Errorf("%w: %v (committed %d) in answer to a batch ending at %d", errProtocol, msg.Type(), ack.Committed, want)
		}
		a.observer.OnAck(batch.bets, time.Since(batch.sent))
		if a.Single != nil {
			a.log.Info("apuesta_enviada", logging.Success, "dni", a.Single.Document, "numero", a.Single.Number)
		}
		a.log.Debug("apuestas_enviadas", logging.Success, "hasta", want)
	}
	return nil
}

// source yields all the agency's bets, from number 0: those the central
// already holds are read again, to check its digest of them.
func (a *Agency) source() (iter.Seq2[lottery.Bet, error], io.Closer, error) {
	if a.bets != nil {
		return a.bets(), io.NopCloser(nil), nil
	}
	if a.Single == nil {
		return betcsv.OpenAgencyFile(a.cfg.DataFile, a.cfg.ID, 0)
	}
	bet := *a.Single
	bet.Agency = a.cfg.ID
	if err := lottery.Validate(bet); err != nil {
		return nil, nil, err
	}
	return func(yield func(lottery.Bet, error) bool) {
		yield(bet, nil)
	}, io.NopCloser(nil), nil
}

// closeSource closes what source opened.
func (a *Agency) closeSource(c io.Closer) {
	c.Close()
	a.log.Debug("close", logging.Success, "resource", "data_file", "file", a.cfg.DataFile)
}

// link is a connection to the central with a deadline on every wait.
type link struct {
	nc      net.Conn
	r       *protocol.Reader
	w       *protocol.Writer
	timeout time.Duration
	// progressed is set once the central has made progress for the
	// agency on this link: it acknowledged a batch or the Done, or
	// answered a winners query (winners, or not yet). A Welcome alone is
	// not progress: a failing central welcomes, then refuses.
	progressed bool
}

func (c *link) send(m protocol.Message) error {
	if err := c.w.Write(m); err != nil {
		return err
	}
	return c.flush()
}

func (c *link) sendFrame(frame []byte) error {
	if err := c.w.WriteFrame(frame); err != nil {
		return err
	}
	return c.flush()
}

func (c *link) flush() error {
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// read reads the next message, waiting at most the link's timeout; an
// Error from the central is returned as an error (*protocol.Error).
func (c *link) read() (protocol.Message, error) {
	return c.readWithin(c.timeout)
}

// readWithin is read with a wait of timeout.
func (c *link) readWithin(timeout time.Duration) (protocol.Message, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	msg, err := c.r.Read()
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	switch m := msg.(type) {
	case *protocol.Error:
		return nil, m
	case protocol.Ack, protocol.DoneAck, protocol.Winners, protocol.NotYet:
		c.progressed = true
	}
	return msg, nil
}

func (c *link) call(m protocol.Message) (protocol.Message, error) {
	if err := c.send(m); err != nil {
		return nil, err
	}
	return c.read()
}

// SingleBetFromEnv returns the bet of the single-bet mode when NOMBRE,
// APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO are all set, and nil when
// none is. Some but not all set, or a NUMERO that is not a number, is an
// error.
func SingleBetFromEnv(env config.LookupEnv) (*lottery.Bet, error) {
	keys := [...]string{"NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"}
	var vals [len(keys)]string
	set := 0
	for i, k := range keys {
		if v, ok := env(k); ok {
			vals[i] = v
			set++
		}
	}
	switch set {
	case 0:
		return nil, nil
	case len(keys):
	default:
		return nil, fmt.Errorf("single-bet mode needs all of NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO")
	}
	// The same text rule as an agency file's rows (betcsv.Normalize):
	// trimmed, NFC; the number plain digits.
	for i := range vals {
		vals[i] = betcsv.Normalize(vals[i])
	}
	number, err := lottery.ParseNumber(vals[4])
	if err != nil {
		return nil, fmt.Errorf("config NUMERO=%q: %w", vals[4], err)
	}
	return &lottery.Bet{FirstName: vals[0], LastName: vals[1], Document: vals[2], Birthdate: vals[3], Number: number}, nil
}
