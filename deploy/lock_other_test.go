//go:build !unix

package deploy

import "time"

// lockMachine does nothing where flock(2) is missing: there, two runs of
// these tests must not be started at once.
func lockMachine(time.Duration) (release func(), err error) {
	return func() {}, nil
}
