package pgstore

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// openAs opens a store over url as the replica named replica.
func openAs(t *testing.T, url, replica string) *Store {
	t.Helper()
	s, err := Open(url, Options{Replica: replica})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func health(t *testing.T, s *Store) Health {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := s.Health(ctx)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	return h
}

// TestHealth: the test cluster is a primary without standbys; the draw's
// row records the replica that held it, which every replica reads.
func TestHealth(t *testing.T) {
	url := pgtest.Database(t)
	one, two := openAs(t, url, "central-1"), openAs(t, url, "central-2")
	h := health(t, one)
	if !h.Primary || h.Standbys == nil || len(h.Standbys) != 0 || h.DrawHeldBy != "" {
		t.Errorf("health before the draw: %+v, want a primary, no standbys, no draw", h)
	}
	if _, err := two.RecordDraw(lottery.Result{Agencies: 1}).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{one, two} {
		if h := health(t, s); h.DrawHeldBy != "central-2" {
			t.Errorf("%s: draw held by %q, want central-2", s.replica, h.DrawHeldBy)
		}
	}
	// A second draw inserts nothing: the holder stays the first.
	if _, err := one.RecordDraw(lottery.Result{Agencies: 1}).Wait(context.Background()); !errors.Is(err, lottery.ErrConflict) {
		t.Fatalf("a second draw: %v, want ErrConflict", err)
	}
	if h := health(t, one); h.DrawHeldBy != "central-2" {
		t.Errorf("after a second draw, held by %q, want central-2", h.DrawHeldBy)
	}
}

// TestHealthUnreachable: a database that stops taking connections is
// ErrUnavailable, within the caller's deadline.
func TestHealthUnreachable(t *testing.T) {
	dbURL := pgtest.Database(t)
	s := open(t, dbURL)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	exec(t, u.String(), `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`)
	exec(t, u.String(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '`+name+`'`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Health(ctx); !errors.Is(err, lottery.ErrUnavailable) {
		t.Fatalf("health of a database that refuses connections: %v, want ErrUnavailable", err)
	}
}
