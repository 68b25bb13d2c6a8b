//go:build !linux

package pgstore

import (
	"syscall"
	"time"
)

// userTimeout does nothing where TCP_USER_TIMEOUT is not known: the
// keep-alive probes alone find a silent database there.
func userTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
