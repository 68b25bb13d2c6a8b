package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// ErrRetryDeadline is returned when the central could not be reached for
// longer than retry.timeout.
var ErrRetryDeadline = errors.New("central unreachable for longer than retry.timeout")

// Run uploads the agency's bets, notifies and returns its winners. It
// returns ctx's error when ctx is done first; the caller treats that as a
// normal stop. An agency that sales closed on before it notified
// (refused with draw_closed, or finding the draw held) returns its
// winners among the bets the draw took, with Result.CutOff set.
//
// A failed attempt that reconnecting may fix moves the agency to the
// central's next address (route) at once; once it has tried them all, it
// waits, with exponential backoff and jitter.
func (a *Agency) Run(ctx context.Context) (Result, error) {
	if err := a.preflight(); err != nil {
		return Result{}, err
	}
	a.removeStaleTemps()
	rt := a.newRoute()
	started := time.Now()
	lastProgress := started
	delay := a.backoff
	closed := false // refused with draw_closed: sales are closed (cut.go)
	for attempt := 1; ; attempt++ {
		res, progress, err := a.session(ctx, rt, closed)
		if err == nil {
			if err := a.saveWinners(res.Winners); err != nil {
				return res, err
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if !closed && salesClosed(err) {
			// Ask at once, on a new connection to the same address, what
			// the draw took: the refused one may be closing (the batches
			// sent after the refused one leave a gap).
			closed, lastProgress, delay = true, time.Now(), a.backoff // an answer, and a final one
			a.log.Info("corte_sorteo", logging.InProgress, "agencia", a.cfg.ID, "motivo", err)
			continue
		}
		if a.downgrade(err) {
			continue // at once: the central answered, in another version
		}
		if !retryable(err) {
			return Result{}, err
		}
		if err := a.composeDefault(rt, err, time.Since(started)); err != nil {
			return Result{}, err
		}
		// Only progress resets the backoff and the deadline: a central that
		// is up but failing (it welcomes, then refuses) sees each agency
		// once per backoff step, and the agency gives up in time.
		if progress {
			lastProgress, delay = time.Now(), a.backoff
		}
		if time.Since(lastProgress) > a.cfg.RetryTimeout {
			return Result{}, fmt.Errorf("%w (%v): %w", ErrRetryDeadline, a.cfg.RetryTimeout, err)
		}
		var wait time.Duration // none while an address is left to try
		if rt.failed(progress) {
			wait = delay/2 + rand.N(delay/2+1) // jitter: agencies do not retry in step
			delay = min(2*delay, a.maxBackoff)
		}
		a.retrying(attempt, wait, err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
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
