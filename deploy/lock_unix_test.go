//go:build unix

package deploy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockMachine takes an exclusive lock that every `go test` of this package
// on this machine shares, so that two runs never create containers of the
// same name at once. The lock goes with the process.
func lockMachine(wait time.Duration) (release func(), err error) {
	path := filepath.Join(os.TempDir(), "quiniela-deploy-test.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: another go test of package deploy has held it for %v", path, wait)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
