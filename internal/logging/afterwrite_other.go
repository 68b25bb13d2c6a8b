//go:build !linux

package logging

import (
	"errors"
	"os"
)

// unread is not known outside Linux: AfterWrite then waits its settle.
func unread(*os.File) (int, error) {
	return 0, errors.New("unread bytes of a pipe: not supported on this system")
}
