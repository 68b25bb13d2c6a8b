package logging

import (
	"os"

	"golang.org/x/sys/unix"
)

// unread returns how many bytes written to the pipe f its reader has not
// taken yet (ioctl TIOCINQ, alias FIONREAD, which Linux answers on either end of a pipe).
func unread(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCINQ)
	}); err != nil {
		return 0, err
	}
	if ioctlErr != nil {
		return 0, ioctlErr
	}
	return n, nil
}
