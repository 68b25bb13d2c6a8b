package harness

import (
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// Deadlines of a central's start and stop. They are generous: the
// binaries are fast, but a loaded CI machine running -race tests in
// parallel is not.
const (
	StartTimeout = 10 * time.Second // a central logs that it listens
	ExitTimeout  = 5 * time.Second  // a process exits after SIGTERM
	PollInterval = 10 * time.Millisecond
)

// Central is a running central.
type Central struct {
	*Process
	Addr string // host:port it listens on
	Dir  string // its working directory, where bets.csv is
}

// BetsPath is the path of the central's bets.csv (STORAGE_FILEPATH's
// default, ./bets.csv, in its working directory).
func (c *Central) BetsPath() string { return BetsPath(c.Dir) }

// BetsPath is the path of bets.csv of a central working in dir.
func BetsPath(dir string) string { return filepath.Join(dir, "bets.csv") }

// Stop sends the central SIGTERM and waits for it to exit 0. Once it has
// exited, its log is complete: a line it wrote before some event the test
// saw (a client's answer) may otherwise still be in the pipe between the
// processes, not yet in Log.
func (c *Central) Stop(t TB) {
	t.Helper()
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal server: %v", err)
	}
	if code := c.WaitExit(t, ExitTimeout); code != 0 {
		t.Errorf("server exited with %d after SIGTERM, want 0", code)
	}
}

// ListenAddr returns the address a central's log says it listens on.
func ListenAddr(log string) (string, bool) {
	for _, l := range Filter(ParseLog(log), "accept_connections", logging.ResultInProgress) {
		if addr, ok := l.Fields["address"]; ok {
			return addr, true
		}
	}
	return "", false
}

// WaitListening waits up to timeout for the central p to log the address
// it listens on, and returns it. When p exits because its address is in
// use, it returns false, and the caller may start the central again; any
// other exit, or no such line in time, fails the test.
func WaitListening(t TB, p *Process, timeout, poll time.Duration) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if addr, ok := ListenAddr(p.Log()); ok {
			return addr, true
		}
		if p.Exited() {
			if addr, ok := ListenAddr(p.Log()); ok {
				return addr, true
			}
			if strings.Contains(p.Log(), "address already in use") {
				return "", false
			}
			t.Fatalf("%s exited with %d before listening; stdout:\n%s\nstderr:\n%s", p.name, p.exitCode, p.Log(), p.Stderr())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log accept_connections within %v; stdout:\n%s", p.name, timeout, p.Log())
		}
		time.Sleep(poll)
	}
}

// StartCentral starts the central bin in a fresh working directory, on
// 127.0.0.1 and port 0 unless env says otherwise, and waits until it logs
// the address the kernel gave it: no other process can take that address
// between its choice and the central's listening.
//
// A central that cannot bind because the machine has run out of free
// ports (other test suites sharing it can leave tens of thousands of
// sockets in TIME_WAIT) is started again, a few times: that is the
// machine's state, not the central's fault.
func StartCentral(t TB, bin string, env map[string]string) *Central {
	t.Helper()
	full := Merge(map[string]string{"SERVER_PORT": "0", "SERVER_IP": "127.0.0.1"}, env)
	const attempts = 5
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		p := StartT(t, Spec{Name: "server", Bin: bin, Dir: dir, Env: Env(full)})
		if addr, ok := WaitListening(t, p, StartTimeout, PollInterval); ok {
			return &Central{Process: p, Addr: addr, Dir: dir}
		}
		if attempt == attempts {
			t.Fatalf("server could not bind in %d attempts; stdout:\n%s\nstderr:\n%s", attempts, p.Log(), p.Stderr())
		}
		t.Logf("server could not bind (attempt %d of %d), starting it again: %s",
			attempt, attempts, strings.TrimSpace(Tail(p.Log(), 2)))
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond) // back off, not an assertion
	}
}
