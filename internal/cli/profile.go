package cli

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileHz is the sampling rate of CPUProfile.
const profileHz = 250

// CPUProfile starts a CPU profile of the whole process into the file
// that the environment variable name (SERVER_CPU_PROFILE,
// CLI_CPU_PROFILE) names, when it is set, and returns what stops it and
// writes the file: call it on the way out, before os.Exit. Unset, it
// does nothing. A profile that cannot be started is said on stderr and
// the run goes on without it: profiling is for whoever measures, never a
// reason for a run to fail (BENCHMARKS.md, "Profiling").
func CPUProfile(name string, stderr io.Writer) (stop func()) {
	path := os.Getenv(name)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return func() {}
	}
	// 250 Hz rather than pprof's 100 Hz: each thread is sampled per 10 ms
	// of its own CPU at 100 Hz, and the threads of a run of a few tens of
	// milliseconds mostly never reach it, leaving the profile nearly
	// empty; past the kernel's tick (250 Hz on the benchmark machine)
	// samples are lost instead (BENCHMARKS.md, "Profiling"). The runtime says on stderr that it keeps this rate ("cannot set cpu
	// profile rate"): that line is expected.
	runtime.SetCPUProfileRate(profileHz)
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
		}
	}
}
