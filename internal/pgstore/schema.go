package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// schemaVersion is the version of the schema this binary writes and
// reads. Open creates it in an empty database, and refuses a database
// whose version is newer: an older central must not write a schema it
// does not know.
const schemaVersion = 1

// schema is version 1, created in one transaction.
//
// A batch is one row: its bets, rendered as bets.csv rows (the canonical
// rows of lottery.AppendRow), under the key (agency, first), so that a
// bet is stored once whichever central writes it. seq keeps the order of
// arrival, which LoadBets follows, as bets.csv does. agencies keeps each
// agency's count, its notification and the saved state of its running
// digest (lottery.Hasher), updated in the transaction that stores its
// rows. The draw's row keeps its winners as lottery.AppendWinners writes
// them, so that a central that finds the draw recorded answers from them.
// lottery holds one row, whether sales are closed; draw at most
// one: the draw is recorded once, with the replica that held it
// (SERVER_REPLICA; empty where the central had no name).
var schema = []string{
	`CREATE TABLE quiniela_schema (version integer NOT NULL)`,
	`CREATE TABLE lottery (
		id     integer PRIMARY KEY CHECK (id = 1),
		closed boolean NOT NULL
	)`,
	`INSERT INTO lottery VALUES (1, false)`,
	`CREATE TABLE agencies (
		agency integer PRIMARY KEY CHECK (agency > 0),
		bets   bigint  NOT NULL CHECK (bets >= 0),
		done   boolean NOT NULL,
		hasher bytea   NOT NULL
	)`,
	`CREATE TABLE batches (
		seq    bigint  GENERATED ALWAYS AS IDENTITY UNIQUE,
		agency integer NOT NULL,
		first  bigint  NOT NULL,
		bets   integer NOT NULL CHECK (bets > 0),
		rows   bytea   NOT NULL,
		PRIMARY KEY (agency, first)
	)`,
	`CREATE TABLE draw (
		id             integer PRIMARY KEY CHECK (id = 1),
		agencies       integer NOT NULL,
		bets           bigint  NOT NULL,
		digest         bytea   NOT NULL,
		winners        integer NOT NULL,
		winners_digest bytea   NOT NULL,
		winners_lines  bytea,
		held_by        text    NOT NULL DEFAULT ''
	)`,
}

// migrate creates the schema in an empty database and checks the version
// of one that has it, in one transaction. Two centrals starting at once
// are serialised by an advisory lock, so the schema is created once.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockSchema); err != nil {
		return err
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('quiniela_schema') IS NOT NULL`).Scan(&exists); err != nil {
		return err
	}
	if exists {
		var version int
		if err := tx.QueryRow(ctx, `SELECT version FROM quiniela_schema`).Scan(&version); err != nil {
			return fmt.Errorf("read the schema's version: %w", err)
		}
		if version > schemaVersion {
			return fmt.Errorf("the database's schema is version %d, newer than this central's %d: run a newer release", version, schemaVersion)
		}
		return nil // version 1, the only one there has been
	}
	for _, stmt := range schema {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create the schema: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO quiniela_schema VALUES ($1)`, schemaVersion); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// lockSchema is the advisory lock that serialises migrations.
const lockSchema = 7574
