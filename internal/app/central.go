package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// ErrLedgerFailed is returned by Run when a write of the ledger failed.
// The storage logged the failure (file, operation, error) where it
// happened; the caller exits non-zero without saying it again.
var ErrLedgerFailed = errors.New("ledger failed")

// openCentral builds the domain over the store, its events logged, and
// closes its sales at DRAW_DEADLINE where that is set; a deadline already
// past with no draw recorded is refused (config.Server.CheckDeadline).
// The central lives until ctx is done.
func (m *Main) openCentral(ctx context.Context, start time.Time) error {
	ledger := lottery.Ledger(m.store)
	if m.WrapLedger != nil {
		ledger = m.WrapLedger(m.store)
	}
	events := EventLog{Log: m.log, AfterDrawLogged: m.AfterDrawLogged}
	central, err := lottery.NewCentral(ctx, ledger, m.cfg.Agencies, events)
	if err != nil {
		if errors.Is(err, lottery.ErrInconsistent) {
			return fmt.Errorf("AGENCIES_AMOUNT=%d: %w", m.cfg.Agencies, err)
		}
		return err
	}
	if err := m.cfg.CheckDeadline(start, central.Drawn()); err != nil {
		return err
	}
	m.central = central
	if at, ok := m.cfg.Deadline(start); ok {
		// Before the listener: a deadline already past holds the draw
		// now, and no agency is answered before it.
		m.log.Info("cierre_apuestas", logging.InProgress, "draw_deadline", at.Format(time.RFC3339), "drawn", central.Drawn())
		central.CloseSalesAt(at)
		if m.adminSrc != nil {
			m.adminSrc.deadline = at // before the admin endpoint serves
		}
		m.deadline = at // told to agencies waiting for the draw
	}
	if central.Agencies() != m.cfg.Agencies {
		// The draw was recorded: it is final, whatever the setting says.
		m.log.Warn("sorteo_registrado", logging.Success, "agencias", central.Agencies(),
			"agencies_amount", m.cfg.Agencies, "nota", "the recorded draw covers its agencies; AGENCIES_AMOUNT is ignored")
	}
	return nil
}

// checkDeadlineBeforeOpen refuses, before anything is created on disk, a
// DRAW_DEADLINE already past at start where the store does not exist yet:
// a store with no file holds no draw. Where the store exists (or is a
// database), openCentral asks it whether a draw is recorded.
func (m *Main) checkDeadlineBeforeOpen(start time.Time) error {
	if m.cfg.StorageURL != "" {
		return nil
	}
	for _, path := range []string{m.cfg.StoragePath, m.cfg.StoragePath + storage.JournalSuffix} {
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return m.cfg.CheckDeadline(start, false)
}

// watchLedger stops the central once its ledger fails. After a failed
// write or fsync the page cache cannot be trusted, so the central does
// not go on serving refusals: it closes in order and exits non-zero, its
// supervisor starts it again, and recovery decides what is durable.
func watchLedger(ctx context.Context, central *lottery.Central, stop context.CancelCauseFunc) {
	select {
	case <-central.Failed():
		stop(fmt.Errorf("%w: %w", ErrLedgerFailed, central.Err()))
	case <-ctx.Done():
	}
}
