package app

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/netguard"
	"github.com/loteria-nacional/quiniela/internal/protocol"
	"github.com/loteria-nacional/quiniela/internal/server"
)

// adminSource is what the admin endpoint reads of the running central
// (admin.Source): the domain's counts, the server's connections and
// refusals, the store's state, the deadline, and whether the store and
// the agencies' listener are up. Every time it gives is in zone
// (LOGGING_TIMEZONE), the log lines' own.
type adminSource struct {
	storage   *storageProbe
	central   *lottery.Central
	srv       atomic.Pointer[server.Server] // nil until the server exists
	storeOpen atomic.Bool
	listening atomic.Bool // the agencies' listener accepts

	zone     *time.Location
	log      *slog.Logger   // its fail lines are the page's failures
	metrics  *admin.Metrics // the refusals' counts and the ingest rate
	deadline time.Time      // DRAW_DEADLINE; zero where it is not set
}

// newAdminSource returns the admin endpoint's source for cfg, not ready
// until it has a central.
func newAdminSource(cfg config.Server, log *slog.Logger) *adminSource {
	return &adminSource{storage: newStorageProbe(cfg, log), zone: cfg.Zone(), log: log}
}

// refusalReasons are the reasons of quiniela_refusals_total the central
// knows: every protocol code's name, server.ReasonTLS and
// netguard.ReasonOverBudget, present at 0 from the start.
func refusalReasons() []string {
	reasons := []string{server.ReasonTLS, netguard.ReasonOverBudget}
	for c := protocol.Code(1); c < 255; c++ {
		if name := c.String(); !strings.HasPrefix(name, "code_") {
			reasons = append(reasons, name)
		}
	}
	return reasons
}

// setListening records whether the agencies' listener accepts. A nil
// source, where there is no admin endpoint, ignores it.
func (s *adminSource) setListening(on bool) {
	if s != nil {
		s.listening.Store(on)
	}
}

func (s *adminSource) Ready() error {
	switch {
	case !s.storeOpen.Load():
		return errors.New("storage closed")
	case s.central.Err() != nil:
		return errors.New("ledger failed")
	case !s.listening.Load():
		return errors.New("agencies' listener not accepting")
	case !s.storage.Status(false).Reachable:
		return errors.New("storage unreachable")
	}
	return nil
}

func (s *adminSource) Status() admin.Status {
	snap := s.central.Snapshot()
	var activity map[int]server.Activity
	now := time.Now().In(s.zone)
	st := admin.Status{Time: now, Zone: config.ZoneName(s.zone, now), Expected: len(snap.Agencies), Notified: snap.Notified,
		Agencies: make([]admin.Agency, len(snap.Agencies))}
	if srv := s.srv.Load(); srv != nil {
		activity = srv.Activity()
		st.Connections = srv.Connections()
	}
	for i, a := range snap.Agencies {
		row := s.agency(a, activity[a.Agency], snap.Drawn)
		if row.Connected {
			st.Connected++
		}
		st.BetsStored += a.Bets
		st.Batches += row.Batches
		st.Agencies[i] = row
	}
	st.Draw = s.draw(snap)
	if s.metrics != nil {
		st.Refusals, st.RefusalsTotal = s.metrics.Refusals()
		st.IngestRate = s.metrics.IngestRate()
	}
	st.Failures, _ = logging.Failures(s.log)
	st.Storage = s.storage.Status(snap.Drawn)
	return st
}

// agency is a's row, from the domain's account and the server's activity.
func (s *adminSource) agency(a lottery.AgencySnapshot, act server.Activity, drawn bool) admin.Agency {
	row := admin.Agency{Agency: a.Agency, BetsStored: a.Bets, Batches: act.Batches, Done: a.Done, Connected: act.Connected,
		Declared: act.Declared}
	if !act.LastSeen.IsZero() {
		seen := act.LastSeen.In(s.zone)
		row.LastSeen = &seen
	}
	if r := act.LastRefusal; r != nil {
		row.LastRefusal = &admin.Refusal{Time: r.At.In(s.zone), Reason: r.Reason, Message: r.Message, Latest: act.Refused}
	}
	if drawn {
		w := a.Winners
		row.Winners = &w
	}
	return row
}

// draw is the draw's state and deadline.
func (s *adminSource) draw(snap lottery.Snapshot) admin.Draw {
	var d admin.Draw
	switch {
	case snap.Drawn:
		at := snap.DrawnAt.In(s.zone)
		d = admin.Draw{State: admin.StateDrawn, Time: &at, DurationSeconds: snap.DrawTook.Seconds(),
			Bets: snap.Result.Bets, Winners: snap.Result.Winners, Digest: snap.Result.Digest.String()}
	case snap.Closed:
		d.State = admin.StateClosed
	default:
		d.State = admin.StateOpen
	}
	if !s.deadline.IsZero() {
		at := s.deadline.In(s.zone)
		d.Deadline = &at
	}
	return d
}
