package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/loteria-nacional/quiniela/internal/atomicfile"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgstore"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// Export writes every bet the configured backend holds to path, as the
// course's bets.csv (agency,first_name,last_name,document,birthdate,number,
// the canonical rows the agencies' digests hash), so that the course's
// Python load_bets and `server verify -export` can read a database's bets.
// path is written whole or not at all, and never replaced: an export is
// evidence. It logs one export line, and returns the problem it logged.
func Export(ctx context.Context, cfg config.Server, path string, log *slog.Logger) error {
	n, err := export(ctx, cfg, path)
	if err != nil {
		log.Error("export", logging.Fail, "file", path, "error", err)
		return err
	}
	log.Info("export", logging.Success, "file", path, "bets", n, "storage", storageName(cfg))
	return nil
}

// storageName names the configured backend as logs show it.
func storageName(cfg config.Server) string {
	if cfg.StorageURL != "" {
		return cfg.StorageURLRedacted()
	}
	return cfg.StoragePath
}

func export(ctx context.Context, cfg config.Server, path string) (int64, error) {
	bets, closeBets, err := openBets(cfg)
	if err != nil {
		return 0, err
	}
	defer closeBets()
	f, err := os.CreateTemp(filepath.Dir(path), atomicfile.TempPrefix(path)+"*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	n, err := writeRows(ctx, f, bets)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path) // fails where path exists
	}
	os.Remove(tmp)
	if err != nil {
		return 0, err
	}
	return n, atomicfile.SyncDir(filepath.Dir(path))
}

// openBets opens the configured backend for reading its bets: the
// database, or a snapshot of the file store that a running central may
// hold.
func openBets(cfg config.Server) (iter.Seq2[lottery.Bet, error], func() error, error) {
	if cfg.StorageURL != "" {
		s, err := pgstore.Open(cfg.StorageURL, pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, nil, err
		}
		return s.LoadBets(), s.Close, nil
	}
	snap, err := storage.Inspect(cfg.StoragePath)
	if err != nil {
		return nil, nil, err
	}
	return snap.LoadBets(), snap.Close, nil
}

// writeRows writes bets to w as canonical rows, and counts them.
func writeRows(ctx context.Context, w io.Writer, bets iter.Seq2[lottery.Bet, error]) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var row []byte
	var n int64
	for b, err := range bets {
		if err != nil {
			return n, err
		}
		if n++; n%(1<<16) == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		row = lottery.AppendRow(row[:0], b.Agency, b)
		if _, err := bw.Write(row); err != nil {
			return n, fmt.Errorf("write: %w", err)
		}
	}
	return n, bw.Flush()
}
