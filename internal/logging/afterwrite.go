package logging

import (
	"os"
	"time"
)

// drainPoll is how often AfterWrite looks at what the pipe still holds.
const drainPoll = 200 * time.Microsecond

// AfterWrite returns a function that waits until the reader of f has
// taken every byte written to f so far, then settle longer, in all at
// most limit. It is for an output whose reader stamps and merges lines, as
// Docker's log driver does with a container's stdout: a line written to a
// pipe is in the reader's hands only once the pipe is drained, and the
// reader (containerd's shim) still has to pass it to dockerd, which stamps
// it; settle covers that last step.
//
// Where f is not a pipe or FIFO (a terminal, a regular file, /dev/null, a
// socket) it returns a function that returns at once: the line is where it
// goes when Write returns, or the unread bytes cannot be known. Where the
// unread bytes cannot be asked (ioctl FIONREAD is Linux's), it waits
// settle only.
func AfterWrite(f *os.File, settle, limit time.Duration) func() {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return func() {}
	}
	return func() {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			n, err := unread(f)
			if err != nil || n == 0 {
				break
			}
			time.Sleep(drainPoll)
		}
		if left := time.Until(deadline); left > 0 {
			time.Sleep(min(settle, left))
		}
	}
}
