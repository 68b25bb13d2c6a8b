package app

import (
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// openStore opens the store at STORAGE_FILEPATH, recovering it, with the
// admin endpoint's metrics hearing of its group commits where there are
// any.
func (m *Main) openStore() error {
	opts := storage.Options{Logger: m.log}
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

// closeStore closes the store, logging it.
func (m *Main) closeStore() error {
	if m.store == nil {
		return nil
	}
	err := m.store.Close()
	if err != nil {
		m.log.Error("close", logging.Fail, "resource", "storage", "error", err)
	} else {
		m.log.Info("close", logging.Success, "resource", "storage", "file", m.cfg.StoragePath)
	}
	m.store = nil
	return err
}
