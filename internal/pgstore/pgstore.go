// Package pgstore keeps the central's bets in PostgreSQL: a lottery.Ledger
// selected by STORAGE_URL=postgres://…, beside the file store (package
// storage), which stays the embedded default.
//
// Several centrals may share one database (replicas of the central, see
// lottery.SharedLedger): every decision a write depends on is the
// database's, taken under row locks in the write's transaction.
//
// Every acknowledged write is a committed transaction, durable as the
// server's synchronous_commit makes it (on by default: flushed to the
// primary's WAL; with a synchronous standby, on both machines). One
// goroutine gathers the writes that are waiting and commits them as one
// transaction (group commit), so a commit's fsync is shared by many
// batches. The database, not the central's memory, checks each write
// against what it holds: a batch is stored under (agency, first), after
// exactly the bets its agency has, so a bet is stored once.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loteria-nacional/quiniela/internal/groupcommit"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// openTimeout bounds Open: connecting, migrating and reading the holdings.
const openTimeout = 30 * time.Second

// Options tune a Store.
type Options struct {
	Logger *slog.Logger // slog.Default when nil
	// Replica names this central among those over the database
	// (SERVER_REPLICA): a draw it records is recorded as held by it.
	Replica string
}

// Store is a lottery.Ledger in a PostgreSQL database. Its methods are safe
// for concurrent use.
type Store struct {
	log     *slog.Logger
	replica string // Options.Replica
	config  *pgx.ConnConfig
	pool    *pgxpool.Pool // reads: State, Holding, LoadBets
	conn    *pgx.Conn     // the writer's; nil after a failure, until the next group connects again

	holdings map[int]lottery.Holding // as read by Open; never changed
	drawn    *lottery.Result         // as read by Open; never changed

	queue *groupcommit.Queue[*request] // the writer's: it commits each group

	// beforeCommit, when not nil, runs in each transaction before its
	// commit; an error it returns fails the commit (a test's seam: a
	// server that goes away between the writes and the commit).
	beforeCommit func() error
}

var _ lottery.SharedLedger = (*Store)(nil)

// Open connects to the database at url, creates or checks its schema and
// reads what it holds. The URL is libpq's (postgres://user@host/db?…);
// several hosts with target_session_attrs=read-write find the primary.
func Open(url string, opts Options) (*Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open storage: STORAGE_URL: %w", err)
	}
	cfg.DialFunc = dialer(cfg.ConnectTimeout)
	s := &Store{log: opts.Logger, replica: opts.Replica, config: cfg}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.open(ctx, url); err != nil {
		s.closeConns()
		return nil, fmt.Errorf("open storage %s: %w", where(cfg), err)
	}
	s.queue = groupcommit.Start(1024, maxGroupBets, func(r *request) int { return r.bets }, s.commitGroup)
	return s, nil
}

// where names the database for errors and logs, without its password.
func where(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// open connects, migrates the schema and reads the holdings and the draw.
func (s *Store) open(ctx context.Context, url string) error {
	var err error
	if s.conn, err = pgx.ConnectConfig(ctx, s.config); err != nil {
		return fmt.Errorf("connect: %w", unavailable(err))
	}
	if err := migrate(ctx, s.conn); err != nil {
		return err
	}
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return err
	}
	poolCfg.MaxConns = 4
	poolCfg.ConnConfig.DialFunc = dialer(poolCfg.ConnConfig.ConnectTimeout)
	if s.pool, err = pgxpool.NewWithConfig(ctx, poolCfg); err != nil {
		return fmt.Errorf("connect: %w", unavailable(err))
	}
	st, err := s.State(ctx)
	if err != nil {
		return err
	}
	s.holdings, s.drawn = st.Holdings, st.Recorded
	return nil
}

// closeConns closes the writer's connection and the pool.
func (s *Store) closeConns() error {
	var err error
	if s.conn != nil {
		err = s.conn.Close(context.Background())
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// State reads what the database holds now (lottery.SharedLedger).
func (s *Store) State(ctx context.Context) (lottery.LedgerState, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return lottery.LedgerState{}, unavailable(err)
	}
	defer tx.Rollback(ctx)
	var st lottery.LedgerState
	if st.Holdings, err = readHoldings(ctx, tx, `SELECT agency, bets, done, hasher FROM agencies`); err != nil {
		return st, err
	}
	if st.Recorded, err = readDraw(ctx, tx); err != nil {
		return st, err
	}
	if err := tx.QueryRow(ctx, `SELECT closed FROM lottery`).Scan(&st.Closed); err != nil {
		return st, fmt.Errorf("read whether sales are closed: %w", unavailable(err))
	}
	return st, nil
}

// Holding reads what the database holds now of agency
// (lottery.SharedLedger).
func (s *Store) Holding(ctx context.Context, agency int) (lottery.Holding, error) {
	held, err := readHoldings(ctx, s.pool, `SELECT agency, bets, done, hasher FROM agencies WHERE agency = $1`, agency)
	if err != nil {
		return lottery.Holding{}, err
	}
	h, ok := held[agency]
	if !ok {
		h.Digest = lottery.EmptyDigest
	}
	return h, nil
}

// querier is what reads need of a connection, a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readHoldings(ctx context.Context, q querier, query string, args ...any) (map[int]lottery.Holding, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read agencies: %w", unavailable(err))
	}
	defer rows.Close()
	held := make(map[int]lottery.Holding)
	for rows.Next() {
		var a agencyRow
		if err := rows.Scan(&a.agency, &a.bets, &a.done, &a.state); err != nil {
			return nil, fmt.Errorf("read agencies: %w", err)
		}
		h, err := a.hasher()
		if err != nil {
			return nil, err
		}
		held[a.agency] = lottery.Holding{Bets: uint64(a.bets), Done: a.done, Digest: h.Sum()}
	}
	return held, rows.Err()
}

func readDraw(ctx context.Context, q querier) (*lottery.Result, error) {
	var r lottery.Result
	var bets int64
	var digest, winners []byte
	err := q.QueryRow(ctx, `SELECT agencies, bets, digest, winners, winners_digest FROM draw`).
		Scan(&r.Agencies, &bets, &digest, &r.Winners, &winners)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the draw: %w", unavailable(err))
	}
	if len(digest) != len(r.Digest) || len(winners) != len(r.WinnersDigest) {
		return nil, fmt.Errorf("%w: the draw's digests are not SHA-256s", lottery.ErrInconsistent)
	}
	r.Bets = uint64(bets)
	copy(r.Digest[:], digest)
	copy(r.WinnersDigest[:], winners)
	return &r, nil
}

// Holdings returns what the database held of each agency when the store
// was opened (lottery.Ledger).
func (s *Store) Holdings() map[int]lottery.Holding {
	out := make(map[int]lottery.Holding, len(s.holdings))
	for a, h := range s.holdings {
		out[a] = h
	}
	return out
}

// Recorded returns the draw the database held when the store was opened
// (lottery.Ledger).
func (s *Store) Recorded() (lottery.Result, bool) {
	if s.drawn == nil {
		return lottery.Result{}, false
	}
	return *s.drawn, true
}

// Close stops the writer, once the writes handed to it are answered, and
// closes the connection.
func (s *Store) Close() error {
	if !s.queue.Close() {
		return nil
	}
	return s.closeConns()
}

// unavailable marks an error of the connection or of the server's state
// (not of a statement) as lottery.ErrUnavailable.
func unavailable(err error) error {
	if err == nil || errors.Is(err, lottery.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", lottery.ErrUnavailable, err)
}

// LoadBets yields every stored bet in storage order (lottery.Ledger):
// batches in the order they were committed, each batch's bets in
// position order. It reads through a pooled connection, in one
// snapshot, streaming: the draw over millions of bets keeps one batch in
// memory at a time.
func (s *Store) LoadBets() iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		ctx := context.Background()
		rows, err := s.pool.Query(ctx, `SELECT agency, rows FROM batches ORDER BY seq`)
		if err != nil {
			yield(lottery.Bet{}, fmt.Errorf("load bets: %w", unavailable(err)))
			return
		}
		defer rows.Close()
		var agency int
		var raw []byte
		for rows.Next() {
			if err := rows.Scan(&agency, &raw); err != nil {
				yield(lottery.Bet{}, fmt.Errorf("load bets: %w", err))
				return
			}
			for b, err := range parseRows(agency, raw) {
				if !yield(b, err) || err != nil {
					return
				}
			}
		}
		if err := rows.Err(); err != nil {
			yield(lottery.Bet{}, fmt.Errorf("load bets: %w", unavailable(err)))
		}
	}
}

// lockDraw is the advisory lock (a pair of int4 keys, apart from
// lockSchema's bigint) of the right to hold the draw.
const lockDraw = 2

// HoldDraw takes the right to hold the draw (lottery.SharedLedger): a
// session advisory lock on a pooled connection, kept until release, and
// given up by PostgreSQL with the session when the central dies.
func (s *Store) HoldDraw(ctx context.Context) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, unavailable(err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockSchema, lockDraw).Scan(&ok); err != nil || !ok {
		conn.Release()
		return nil, false, unavailable(err)
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, $2)`, lockSchema, lockDraw); err != nil {
			conn.Conn().Close(context.Background()) // the session ends, and the lock with it
		}
		conn.Release()
	}, true, nil
}
