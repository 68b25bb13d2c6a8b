package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// errBackupDatabase refuses a backup of the PostgreSQL backend, whose
// copies PostgreSQL's own tools take.
var errBackupDatabase = errors.New("the bets are in PostgreSQL (STORAGE_URL): back them up with pg_basebackup or pg_dump (docs/OPERATIONS.md, Backups)")

// Backup copies the configured file store, live or not, into the
// directory dir (storage.Backup), then checks the copy as server verify
// does (Verify: every hash and link, the draw held again) before it says
// the backup succeeded: a backup that is logged is one that restores. It
// logs the verify line of the copy, then one backup line.
func Backup(ctx context.Context, cfg config.Server, dir string, log *slog.Logger) error {
	if cfg.StorageURL != "" {
		log.Error("backup", logging.Fail, "storage", cfg.StorageURLRedacted(), "error", errBackupDatabase)
		return errBackupDatabase
	}
	c, err := storage.Backup(cfg.StoragePath, dir)
	if err != nil {
		log.Error("backup", logging.Fail, "file", cfg.StoragePath, "error", err)
		return err
	}
	if err := Verify(ctx, c.Path, cfg.Agencies, log); err != nil {
		err = fmt.Errorf("the copy %s does not check (see the verify line): %w", c.Path, err)
		log.Error("backup", logging.Fail, "file", cfg.StoragePath, "copy", c.Path, "error", err)
		return err
	}
	log.Info("backup", logging.Success, "file", cfg.StoragePath, "copy", c.Path, "journal", c.Path+storage.JournalSuffix,
		"bytes", c.Bytes, "records", c.Records, "group", c.Group)
	return nil
}
