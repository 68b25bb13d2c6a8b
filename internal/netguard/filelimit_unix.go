//go:build unix

package netguard

import "golang.org/x/sys/unix"

// FileLimit returns the process's file limit now.
func FileLimit() (Files, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return Files{}, err
	}
	return Files{Soft: uint64(r.Cur), Hard: uint64(r.Max)}, nil
}
