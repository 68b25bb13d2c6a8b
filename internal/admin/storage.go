package admin

// Storage is the store as the operators see it: its backend, whether it
// answers, the database's replication, and which replica of the central
// held the draw. /status serves it as "storage".
type Storage struct {
	Backend string `json:"backend"`        // BackendFile or BackendPostgres
	URL     string `json:"url,omitempty"`  // postgres: STORAGE_URL, its password redacted
	File    string `json:"file,omitempty"` // file: STORAGE_FILEPATH
	// Reachable is whether the database answered now; the file store is
	// local and always is.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"` // why it did not answer
	// Primary is whether the database takes writes (not in recovery);
	// the file store is its own primary.
	Primary bool `json:"primary"`
	// Standbys stream from the primary; never null.
	Standbys []Standby `json:"standbys"`
	// Replica is this central's SERVER_REPLICA.
	Replica string `json:"replica"`
	// DrawHeldBy is the replica that held the draw; empty before it.
	DrawHeldBy string `json:"draw_held_by"`
}

// Storage backends.
const (
	BackendFile     = "file"     // bets.csv and its journal
	BackendPostgres = "postgres" // a PostgreSQL database, maybe shared by replicas
)

// SyncStates are the values of a standby's SyncState, as PostgreSQL's
// pg_stat_replication names them: the label values of
// quiniela_replication_standbys.
var SyncStates = []string{"sync", "async", "potential", "quorum"}

// Standby is a standby streaming from the primary.
type Standby struct {
	Name      string `json:"name"`       // its application_name
	State     string `json:"state"`      // streaming, catchup, …
	SyncState string `json:"sync_state"` // one of SyncStates
}

// HeldByThisReplica reports whether this central held the draw.
func (s Storage) HeldByThisReplica() bool {
	return s.DrawHeldBy != "" && s.DrawHeldBy == s.Replica
}
