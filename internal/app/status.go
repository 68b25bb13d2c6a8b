package app

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/server"
)

// adminSource is what the admin endpoint reads of the running central
// (admin.Source): the domain's counts, the server's connections, the
// store's state, and whether the store and the agencies' listener are up.
type adminSource struct {
	storage   *storageProbe
	central   *lottery.Central
	srv       atomic.Pointer[server.Server] // nil until the server exists
	storeOpen atomic.Bool
	listening atomic.Bool // the agencies' listener accepts
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
	st := admin.Status{Time: time.Now(), Expected: len(snap.Agencies), Notified: snap.Notified, Agencies: make([]admin.Agency, len(snap.Agencies))}
	if srv := s.srv.Load(); srv != nil {
		activity = srv.Activity()
		st.Connections = srv.Connections()
	}
	for i, a := range snap.Agencies {
		act := activity[a.Agency]
		row := admin.Agency{Agency: a.Agency, BetsStored: a.Bets, Batches: act.Batches, Done: a.Done, Connected: act.Connected,
			Declared: act.Declared}
		if !act.LastSeen.IsZero() {
			seen := act.LastSeen
			row.LastSeen = &seen
		}
		if snap.Drawn {
			w := a.Winners
			row.Winners = &w
		}
		if act.Connected {
			st.Connected++
		}
		st.BetsStored += a.Bets
		st.Batches += act.Batches
		st.Agencies[i] = row
	}
	switch {
	case snap.Drawn:
		at := snap.DrawnAt
		st.Draw = admin.Draw{State: admin.StateDrawn, Time: &at, DurationSeconds: snap.DrawTook.Seconds(),
			Bets: snap.Result.Bets, Winners: snap.Result.Winners, Digest: snap.Result.Digest.String()}
	case snap.Closed:
		st.Draw.State = admin.StateClosed
	default:
		st.Draw.State = admin.StateOpen
	}
	st.Storage = s.storage.Status(snap.Drawn)
	return st
}
