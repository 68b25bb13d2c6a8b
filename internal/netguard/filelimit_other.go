//go:build !unix

package netguard

import "math"

// FileLimit returns no limit: outside Unix there is no RLIMIT_NOFILE to
// check (the central is deployed on Linux).
func FileLimit() (Files, error) {
	return Files{Soft: math.MaxUint64, Hard: math.MaxUint64}, nil
}
