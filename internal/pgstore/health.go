package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Health is what the operators see of the database: whether the server
// the store reaches is the primary, the standbys streaming from it, and
// which replica of the central held the draw.
type Health struct {
	// Primary is true where the server is not in recovery: it takes
	// writes.
	Primary bool
	// Standbys are the standbys connected to the server, as its
	// pg_stat_replication lists them; none on a standby or alone.
	Standbys []Standby
	// DrawHeldBy is the replica (SERVER_REPLICA) that recorded the draw;
	// empty before the draw.
	DrawHeldBy string
}

// Standby is a standby streaming from the primary.
type Standby struct {
	Name      string // its application_name
	State     string // streaming, catchup, …
	SyncState string // sync, async, potential or quorum
}

// healthQueries are Health's, sent in one round trip. The columns of
// pg_stat_replication are NULL to a role without pg_read_all_stats.
var healthQueries = []string{
	`SELECT NOT pg_is_in_recovery(), COALESCE((SELECT held_by FROM draw), '')`,
	`SELECT COALESCE(application_name, ''), COALESCE(state, ''), COALESCE(sync_state, '')
		FROM pg_stat_replication ORDER BY application_name`,
}

// Health asks the database how it is, through one pooled connection and
// one round trip: for the operators' endpoint, never on the agencies'
// path. A database that does not answer within ctx is
// lottery.ErrUnavailable.
func (s *Store) Health(ctx context.Context) (Health, error) {
	b := &pgx.Batch{}
	for _, q := range healthQueries {
		b.Queue(q)
	}
	res := s.pool.SendBatch(ctx, b)
	h, err := readHealth(res)
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Health{}, fmt.Errorf("storage health: %w", unavailable(err))
	}
	return h, nil
}

// readHealth reads the answers to healthQueries.
func readHealth(res pgx.BatchResults) (Health, error) {
	var h Health
	if err := res.QueryRow().Scan(&h.Primary, &h.DrawHeldBy); err != nil {
		return h, err
	}
	rows, err := res.Query()
	if err != nil {
		return h, err
	}
	defer rows.Close()
	for rows.Next() {
		var sb Standby
		if err := rows.Scan(&sb.Name, &sb.State, &sb.SyncState); err != nil {
			return h, err
		}
		h.Standbys = append(h.Standbys, sb)
	}
	if err := rows.Err(); err != nil {
		return h, err
	}
	if h.Standbys == nil {
		h.Standbys = []Standby{}
	}
	return h, nil
}
