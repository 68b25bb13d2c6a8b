package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/server"
)

// adminShutdownTimeout bounds the wait for admin requests being served at
// exit.
const adminShutdownTimeout = time.Second

// adminSource is what the admin endpoint reads of the running central
// (admin.Source): the domain's counts, the server's connections, and
// whether the store and the agencies' listener are up.
type adminSource struct {
	central   *lottery.Central
	srv       atomic.Pointer[server.Server] // nil until the server exists
	storeOpen atomic.Bool
	listening atomic.Bool // the agencies' listener accepts
}

func (s *adminSource) Ready() error {
	switch {
	case !s.storeOpen.Load():
		return errors.New("storage closed")
	case s.central.Err() != nil:
		return errors.New("ledger failed")
	case !s.listening.Load():
		return errors.New("agencies' listener not accepting")
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
		row := admin.Agency{Agency: a.Agency, BetsStored: a.Bets, Batches: act.Batches, Done: a.Done, Connected: act.Connected}
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
	return st
}

// newAdmin returns the admin endpoint's source, not ready until its
// central is set, and its metrics in a registry of their own.
func newAdmin() (*adminSource, *prometheus.Registry, *admin.Metrics) {
	src := &adminSource{}
	reg := prometheus.NewRegistry()
	return src, reg, admin.NewMetrics(reg, src)
}

// serveAdmin serves the admin endpoint on its own listener.
func (m *Main) serveAdmin(src *adminSource, reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", m.cfg.AdminAddress)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	m.adminAddr = ln.Addr().String()
	m.admin = &http.Server{Handler: admin.New(src, reg), ReadHeaderTimeout: 10 * time.Second}
	m.log.Info("admin", logging.InProgress, "address", m.adminAddr)
	go func() {
		if err := m.admin.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("admin", logging.Fail, "address", m.adminAddr, "error", err)
		}
	}()
	return nil
}

// closeAdmin shuts the admin endpoint down, logging it.
func (m *Main) closeAdmin() {
	if m.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	if err := m.admin.Shutdown(ctx); err != nil {
		m.log.Error("close", logging.Fail, "resource", "admin", "address", m.adminAddr, "error", err)
	} else {
		m.log.Info("close", logging.Success, "resource", "admin", "address", m.adminAddr)
	}
	m.admin = nil
}
