package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// memoryLimit is the central's least soft memory limit (GOMEMLIMIT
// overrides it). What the central keeps is bounded (see
// server.MaxBatchesInFlight), so this costs little CPU.
const memoryLimit = 52 << 20

// The soft limit grows with the agencies expected, all of which may be
// connected at once: baseMemory, and connMemory per agency (a
// connection's two goroutines' stacks and its buffers, about 30 KiB
// measured at 10,000 agencies), and tlsMemoryPerAgency more where the
// central speaks TLS (crypto/tls keeps record buffers for each
// connection, about 21 MiB more at 1,000 agencies). A limit that does not
// leave room for them has the garbage collector run without rest, each
// cycle scanning every goroutine's stack (BENCHMARKS.md, round 4: at
// 10,000 agencies in plaintext, 0.38 M bets/s and a 4.0 s draw under 52
// MiB, 1.41 M bets/s and 1.1 s with room).
const (
	baseMemory         = 20 << 20
	connMemory         = 32 << 10
	tlsMemoryPerAgency = 48 << 10
)

// containerShare is the part of its container's memory the soft limit
// may take: the rest is for what the limit does not count (the binary,
// the kernel's buffers of the process) and for the collector's margin, so
// that the kernel's limit is not reached first (the usual advice for
// GOMEMLIMIT in a container).
const containerShare = 0.9

// cgroupMemory are the files that say how much memory the process's
// container may use: cgroup v2's, then v1's.
var cgroupMemory = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// defaultMemoryLimit is the soft memory limit for cfg, in a container
// that may use container bytes (0: no limit known).
func defaultMemoryLimit(cfg config.Server, container int64) int64 {
	limit := memoryNeed(cfg)
	if container > 0 {
		limit = min(limit, containerCap(container))
	}
	return limit
}

// containerCap is the most the soft limit may take of a container that
// may use container bytes.
func containerCap(container int64) int64 {
	return int64(float64(container) * containerShare)
}

// memoryNeed is what the central's memory may reach with every agency of
// cfg connected at once: the soft limit it takes where nothing caps it.
func memoryNeed(cfg config.Server) int64 {
	perAgency := int64(connMemory)
	if cfg.TLS() {
		perAgency += tlsMemoryPerAgency
	}
	return max(memoryLimit, baseMemory+perAgency*int64(cfg.Agencies))
}

// containerMemory returns the memory limit of the process's cgroup, read
// from the first of paths that exists, or 0 where none says one ("max",
// or cgroup v1's page-rounded largest value).
func containerMemory(paths []string) int64 {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0
		}
		return n
	}
	return 0
}

// setMemoryLimit sets the central's soft memory limit, unless GOMEMLIMIT
// does, and logs it: the garbage collector works harder as the heap nears
// it, rather than let the heap grow to twice what is live. A container
// whose memory is under what every agency connected at once may need is
// said at WARNING, with that need: the kernel would end the central
// (OOM) in the middle of the lottery, not at its start.
func setMemoryLimit(cfg config.Server, container int64, log *slog.Logger) {
	attrs := []any{logging.Success}
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		attrs = append(attrs, "soft_limit", mib(debug.SetMemoryLimit(-1)), "source", "GOMEMLIMIT")
	} else {
		limit := defaultMemoryLimit(cfg, container)
		debug.SetMemoryLimit(limit)
		attrs = append(attrs, "soft_limit", mib(limit), "source", "default")
	}
	if container == 0 {
		log.Info("memory_limit", attrs...)
		return
	}
	attrs = append(attrs, "container", mib(container))
	if need := memoryNeed(cfg); need > containerCap(container) {
		log.Warn("memory_limit", append(attrs, "needs", mib(need), "agencies", cfg.Agencies)...)
		return
	}
	log.Info("memory_limit", attrs...)
}

// mib writes n bytes in MiB, as GOMEMLIMIT takes them.
func mib(n int64) string {
	return strconv.FormatInt(n>>20, 10) + "MiB"
}
