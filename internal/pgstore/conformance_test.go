package pgstore

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/lottery/ledgertest"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// TestConformance runs the port's conformance suite against PostgreSQL:
// each case over a database of its own on the shared test cluster.
func TestConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Backend{Open: func(t *testing.T) *ledgertest.Instance {
		url := pgtest.Database(t)
		var broken atomic.Bool
		s := openBreakable(t, url, &broken)
		return &ledgertest.Instance{
			Ledger: s,
			Reopen: func() lottery.Ledger {
				if err := s.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
				s = openBreakable(t, url, &broken)
				return s
			},
			Another: func() lottery.Ledger { return open(t, url) },
			Break:   func() { broken.Store(true) },
		}
	}})
}

// openBreakable opens a store whose next commit fails once broken is set.
func openBreakable(t *testing.T, url string, broken *atomic.Bool) *Store {
	t.Helper()
	s := open(t, url)
	s.beforeCommit = func() error {
		if broken.CompareAndSwap(true, false) {
			return errors.New("the server went away")
		}
		return nil
	}
	return s
}
