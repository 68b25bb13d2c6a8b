package app

import (
	"context"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

// DefaultRevocationPoll is how often the central looks whether the file
// of SERVER_TLS_REVOKED changed: often enough that a revocation takes
// effect within seconds, rarely enough that reading a small file costs
// nothing.
const DefaultRevocationPoll = 2 * time.Second

// ReloadRevocation asks the central to read SERVER_TLS_REVOKED again
// now, as SIGHUP does (cmd/server): a good list is put in force and the
// open connections it revokes are closed; a bad one keeps the list in
// force, in one fail line. It does not wait for the reload, and may be
// called at any time, before Run too (the reload happens once it
// serves); requests made while one is pending are one.
func (m *Main) ReloadRevocation() {
	select {
	case m.reload <- struct{}{}:
	default: // one is pending: it will read the file as it is then
	}
}

// loadRevocation reads SERVER_TLS_REVOKED, where it is set, at start.
func (m *Main) loadRevocation() error {
	if m.cfg.TLSRevoked == "" {
		return nil
	}
	r, err := mtls.LoadRevocation(m.cfg.TLSRevoked, m.cfg.TLSClientCA)
	if err != nil {
		return err
	}
	m.revocation = r
	m.warnStale(r.List(), "start")
	return nil
}

// watchRevocation reloads the revocation list at each ReloadRevocation,
// and whenever its file's content changes, until ctx is done or stop is
// called; stop waits for it to end.
func (m *Main) watchRevocation(ctx context.Context) (stop func()) {
	poll := m.RevocationPoll
	if poll <= 0 {
		poll = DefaultRevocationPoll
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.reload:
				m.reloadRevocation(true, "reload")
			case <-tick.C:
				if m.revocation != nil {
					m.reloadRevocation(false, "file_changed")
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// reloadRevocation reads the list again (unless force, only where its
// file changed since it was last read), closes the open connections it
// revokes, and says so in one line; trigger says why it was read.
func (m *Main) reloadRevocation(force bool, trigger string) {
	r := m.revocation
	if r == nil {
		m.log.Info("revocation_reload", logging.Success, "trigger", trigger,
			"nota", "no SERVER_TLS_REVOKED: nothing to reload")
		return
	}
	l, changed, err := r.Reload(force)
	if err != nil {
		m.log.Error("revocation_reload", logging.Fail, "file", r.Path(), "trigger", trigger, "error", err,
			"nota", "the list in force is kept")
		return
	}
	if !changed {
		return
	}
	closed := m.srv.CloseRevoked()
	attrs := []any{logging.Success, "file", r.Path(), "trigger", trigger, "format", l.Format, "revoked", len(l.Serials)}
	if l.Number != nil {
		attrs = append(attrs, "crl_number", l.Number.String())
	}
	m.log.Info("revocation_reload", append(attrs, "closed", closed)...)
	m.warnStale(l, trigger)
}

// warnStale warns of a CRL past its NextUpdate, which is used all the
// same: what it revokes stays revoked.
func (m *Main) warnStale(l *mtls.RevokedList, trigger string) {
	if !l.Stale(time.Now()) {
		return
	}
	m.log.Warn("revocation", logging.Success, "file", m.cfg.TLSRevoked, "trigger", trigger,
		"next_update", l.NextUpdate.UTC().Format(time.RFC3339),
		"nota", "the CRL is past its next update: used all the same; issue a new one (server certs revoke)")
}
