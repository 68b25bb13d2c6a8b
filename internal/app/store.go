package app

import (
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgstore"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// Store is what the central needs of a backend: the domain's port, and a
// Close that the wiring calls last.
type Store interface {
	lottery.Ledger
	Close() error
}

// openStore opens the backend the configuration names: the PostgreSQL
// database at STORAGE_URL where it is set, otherwise the file at
// STORAGE_FILEPATH, recovered, with the admin endpoint's metrics hearing
// of its group commits where there are any.
func (m *Main) openStore() error {
	if m.cfg.StorageURL != "" {
		store, err := pgstore.Open(m.cfg.StorageURL, pgstore.Options{Logger: m.log, Replica: m.cfg.Replica})
		if err != nil {
			return err
		}
		m.store = store
		return nil
	}
	opts := storage.Options{Logger: m.log, FS: m.StorageFS}
	if m.metrics != nil {
		opts.Observer = m.metrics
	}
	store, err := storage.Open(m.cfg.StoragePath, opts)
	if err != nil {
		return err
	}
	m.store = store
	return nil
}

// closeStore closes the store, logging it, within what is left of the
// shutdown's grace period (see graceLeft). A store that does not close by
// then (its writer hangs in an fsync) is abandoned, open: the process
// exits, the kernel releases its lock, and the next start recovers it,
// which cuts only what was never acknowledged.
func (m *Main) closeStore() error {
	if m.store == nil {
		return nil
	}
	store := m.store
	m.store = nil
	closed := make(chan error, 1)
	go func() { closed <- store.Close() }()
	wait := time.NewTimer(m.graceLeft())
	defer wait.Stop()
	var err error
	select {
	case err = <-closed:
	case <-wait.C:
		m.abandoned = append(m.abandoned, "the storage close (its writer had not returned)")
		return nil
	}
	switch {
	case err != nil:
		m.log.Error("close", logging.Fail, "resource", "storage", "error", err)
	case m.cfg.StorageURL != "":
		m.log.Info("close", logging.Success, "resource", "storage", "url", m.cfg.StorageURLRedacted())
	default:
		m.log.Info("close", logging.Success, "resource", "storage", "file", m.cfg.StoragePath)
	}
	return err
}
