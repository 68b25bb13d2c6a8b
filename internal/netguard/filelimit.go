package netguard

import (
	"fmt"
)

// OwnFiles is what the central keeps open besides its connections, at
// most: its standard streams, its listeners, the store's files and
// directory, the PostgreSQL pools, the runtime's poller.
const OwnFiles = 64

// Files is the process's limit on open file descriptors (RLIMIT_NOFILE).
type Files struct {
	Soft, Hard uint64
}

// Need is what the central may hold open at once.
type Need struct {
	Connections int // SERVER_MAX_CONNECTIONS: agencies served at once
	Admin       int // the admin endpoint's connection cap; 0 without it
	Own         int // OwnFiles
}

// Total is every descriptor of need.
func (n Need) Total() int { return n.Connections + n.Admin + n.Own }

// CheckFileLimit returns the file limit that get reports, or an error
// that says both numbers where its soft limit cannot hold need: such a
// central would run out of descriptors under load, which it survives
// (Backoff) but its agencies feel. Go raises the soft limit to the hard
// one (less one) when the process starts (since Go 1.19, on Unix), so the
// soft limit is the one to check: only the hard limit, which an
// unprivileged process cannot raise, can be short. Connections waiting
// for a slot beyond SERVER_MAX_CONNECTIONS are not counted: where they
// find no descriptor they wait in the kernel's queue.
func CheckFileLimit(get func() (Files, error), need Need) (Files, error) {
	lim, err := get()
	if err != nil {
		return Files{}, fmt.Errorf("file limit: %w", err)
	}
	if lim.Soft < uint64(need.Total()) {
		return lim, fmt.Errorf("file limit: the central may hold %d open files (SERVER_MAX_CONNECTIONS %d, admin endpoint %d, its own %d), its limit (RLIMIT_NOFILE) is %d, hard %d: raise the hard limit (ulimit -Hn, docker run --ulimit nofile=N, compose ulimits: nofile) or lower SERVER_MAX_CONNECTIONS",
			need.Total(), need.Connections, need.Admin, need.Own, lim.Soft, lim.Hard)
	}
	return lim, nil
}
