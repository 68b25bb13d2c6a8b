//go:build !unix

package storage

import (
	"io"
	"os"
)

// lockFile creates the lock file; where flock is missing it cannot keep a
// second central out, so run one central per storage there.
func lockFile(name string) (io.Closer, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
}
