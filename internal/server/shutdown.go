package server

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrGraceOver is the cause with which a shutdown gives up the waits of
// the requests still in flight when its grace period ends.
var ErrGraceOver = errors.New("shutdown grace period over")

// abandonedConnWait bounds the wait, once the grace period is over, for
// connections to end after their waits for the ledger were given up:
// their last writes have short deadlines (closingWriteTimeout), so only
// a connection stuck elsewhere (a draw reading a disk that hangs) takes
// it, and is then left behind too.
const abandonedConnWait = time.Second

// AbandonError is Serve's error when its shutdown's grace period ended
// before every request in flight was answered. Nothing it counts was
// acknowledged: a request is acknowledged only once it is durable.
type AbandonError struct {
	Grace    time.Duration // the grace period
	Requests int64         // requests given up while they waited for the ledger
	Conns    int           // connections that had not ended abandonedConnWait after it
}

func (e *AbandonError) Error() string {
	return fmt.Sprintf("%s (%v): abandoned %s", ErrGraceOver, e.Grace, e.What())
}

// What says what was abandoned, for a log line: no '|' in it.
func (e *AbandonError) What() string {
	parts := []string{count(e.Requests, "request") + " waiting for storage"}
	if e.Conns > 0 {
		parts = append(parts, count(int64(e.Conns), "connection")+" not closed")
	}
	return strings.Join(parts, ", ")
}

// count is n things, in the plural unless n is 1.
func count(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// Unwrap makes an *AbandonError match ErrGraceOver.
func (e *AbandonError) Unwrap() error { return ErrGraceOver }

// shutdown waits for every connection's goroutines, which are closing,
// for at most ShutdownGrace. When the grace period ends first, it gives
// up every wait for the ledger (s.drain), waits abandonedConnWait more
// for the connections to end, and returns an *AbandonError.
func (s *Server) shutdown() error {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	grace := time.NewTimer(s.settings.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-grace.C:
	}
	s.abandon(ErrGraceOver)
	late := time.NewTimer(abandonedConnWait)
	defer late.Stop()
	e := &AbandonError{Grace: s.settings.ShutdownGrace}
	select {
	case <-done:
	case <-late.C:
		e.Conns = s.Connections()
	}
	e.Requests = s.abandoned.Load()
	return e
}

// gaveUp reports whether err ended a wait for the ledger because the
// grace period was over, and counts it: the request was not answered.
func (s *Server) gaveUp(err error) bool {
	if err == nil || s.drain.Err() == nil || !errors.Is(err, s.drain.Err()) {
		return false
	}
	s.abandoned.Add(1)
	return true
}
