package pgstore

import (
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// deadPeerTimeout bounds how long a connection waits on a database that
// has gone without a word (a machine lost, a container killed: no reset
// ever comes): data it sent unacknowledged that long, or silence through
// the keep-alive probes, ends the connection with an error. Without it a
// query on a connection to a lost primary waits for the kernel's
// retransmissions, minutes, and so does the agency it serves.
const deadPeerTimeout = 10 * time.Second

// dialer returns the DialFunc of every connection the store opens: pgx's
// connect timeout (connect_timeout in the URL), TCP keep-alive probes,
// and, where the system has it, TCP_USER_TIMEOUT (see userTimeout).
func dialer(connectTimeout time.Duration) pgconn.DialFunc {
	d := &net.Dialer{
		Timeout: connectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     deadPeerTimeout / 2,
			Interval: deadPeerTimeout / 4,
			Count:    2,
		},
		Control: userTimeout(deadPeerTimeout),
	}
	return d.DialContext
}
