package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/pgstore"
)

// storageHealthTimeout bounds the database's answer to one admin request:
// a scrape, /status or /readyz asks it at most once, never the agencies.
const storageHealthTimeout = 2 * time.Second

// storageProbe is what the admin endpoint reads of the store: its
// configuration and, for PostgreSQL, the database's health, asked at each
// request. It logs when the database stops or starts answering, once per
// change, not at each request.
type storageProbe struct {
	base   admin.Storage // backend, where, replica: from the configuration
	health func(context.Context) (pgstore.Health, error)
	log    *slog.Logger

	mu   sync.Mutex
	down bool // the last answer was an error
}

// newStorageProbe describes the store cfg names; Watch adds the database
// once it is open.
func newStorageProbe(cfg config.Server, log *slog.Logger) *storageProbe {
	p := &storageProbe{base: admin.Storage{Backend: admin.BackendFile, File: cfg.StoragePath, Replica: cfg.Replica}, log: log}
	if cfg.StorageURL != "" {
		p.base = admin.Storage{Backend: admin.BackendPostgres, URL: cfg.StorageURLRedacted(), Replica: cfg.Replica}
	}
	return p
}

// Watch asks store for the database's health where it has one (package
// pgstore's).
func (p *storageProbe) Watch(store Store) {
	if pg, ok := store.(interface {
		Health(context.Context) (pgstore.Health, error)
	}); ok {
		p.health = pg.Health
	}
}

// Status returns the store's state now. The file store is local: it
// answers, it is its own primary, and the central over it, the only one,
// held its draw where drawn is true.
func (p *storageProbe) Status(drawn bool) admin.Storage {
	st := p.base
	st.Standbys = []admin.Standby{}
	if p.health == nil {
		st.Reachable, st.Primary = true, true
		if drawn {
			st.DrawHeldBy = st.Replica
		}
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), storageHealthTimeout)
	defer cancel()
	h, err := p.health(ctx)
	p.observe(err)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Reachable, st.Primary, st.DrawHeldBy = true, h.Primary, h.DrawHeldBy
	for _, sb := range h.Standbys {
		st.Standbys = append(st.Standbys, admin.Standby{Name: sb.Name, State: sb.State, SyncState: sb.SyncState})
	}
	return st
}

// observe logs a change of whether the database answers.
func (p *storageProbe) observe(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil && !p.down:
		p.log.Error("storage_health", logging.Fail, "url", p.base.URL, "replica", p.base.Replica, "error", err)
	case err == nil && p.down:
		p.log.Info("storage_health", logging.Success, "url", p.base.URL, "replica", p.base.Replica)
	}
	p.down = err != nil
}
