package storage_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/lottery/ledgertest"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// TestConformance runs the lottery.Ledger conformance suite against the
// file store, over a directory of its own per case, on the real disk.
// Break fails the store's next fsync, as a disk that reports EIO once.
func TestConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Backend{Open: openConformance})
}

func openConformance(t *testing.T) *ledgertest.Instance {
	path := filepath.Join(t.TempDir(), "bets.csv")
	fsys := &faultFS{}
	var s *storage.Store
	open := func() lottery.Ledger {
		t.Helper()
		if s != nil {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		var err error
		if s, err = storage.Open(path, storage.Options{FS: fsys, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatalf("Open(%s): %v", path, err)
		}
		return s
	}
	l := open()
	t.Cleanup(func() { s.Close() })
	return &ledgertest.Instance{Ledger: l, Reopen: open, Break: func() { fsys.failNext.Store(true) }}
}

// errInjected is the error of the fsync that Break fails.
var errInjected = errors.New("injected EIO")

// faultFS is the operating system's file system, but for the next fsync
// once failNext is set: that one fails, and the ones after it succeed.
type faultFS struct {
	storage.OSFS
	failNext atomic.Bool
}

func (fs *faultFS) OpenFile(name string) (storage.File, error) {
	f, err := fs.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}

type faultFile struct {
	storage.File
	fs *faultFS
}

func (f faultFile) Sync() error {
	if f.fs.failNext.CompareAndSwap(true, false) {
		return errInjected
	}
	return f.File.Sync()
}
