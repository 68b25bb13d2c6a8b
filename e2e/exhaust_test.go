package e2e

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/netguard"
)

// ulimitWrapper writes a script that runs the central under `ulimit -n
// nofile` (soft and hard: Go raises its soft limit to the hard one at
// start), as an operator's shell would, and returns its path. It execs,
// so the central keeps the script's process id.
func ulimitWrapper(t *testing.T, nofile int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server-ulimit")
	script := "#!/bin/sh\nulimit -n " + strconv.Itoa(nofile) + " || exit 97\nexec '" + serverBin + "' \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// adminAddrOf is the address of the central's admin endpoint, from its
// admin line.
func adminAddrOf(t *testing.T, srv *harness.Central) string {
	t.Helper()
	lines := harness.Filter(srv.Lines(), "admin", "in_progress")
	if len(lines) != 1 {
		t.Fatalf("%d admin in_progress lines, want 1:\n%s", len(lines), srv.Log())
	}
	return lines[0].Fields["address"]
}

// idle is n connections to addr that say nothing, held until closeAll.
type idle struct {
	mu    sync.Mutex
	conns []net.Conn
	fails int // dials that failed
}

// dialIdle opens n connections to addr at once, waiting for each up to
// 30 s (a full accept queue drops SYNs: the kernel dials again).
func dialIdle(addr string, n int) *idle {
	h := &idle{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
			h.mu.Lock()
			defer h.mu.Unlock()
			if err != nil {
				h.fails++
				return
			}
			h.conns = append(h.conns, nc)
		}()
	}
	wg.Wait()
	return h
}

func (h *idle) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, nc := range h.conns {
		nc.Close()
	}
	h.conns = nil
}

// TestDescriptorExhaustion is issue 19's first finding: under `ulimit -n
// 256`, 300 idle TCP connections to the agencies' port and 250 idle ones
// to the admin port leave the central without descriptors. It stays up,
// 3 agencies complete with their own winners, and each listener that ran
// out says so in one line per episode (and one per netguard.SummaryEvery
// while it lasts) with a count, not one line per error.
func TestDescriptorExhaustion(t *testing.T) {
	const nofile, limit = 256, 100
	data := genData(t, 3, "3000", "1,2,1", 81)
	srv := harness.StartCentral(t, ulimitWrapper(t, nofile), map[string]string{
		"AGENCIES_AMOUNT":        "3",
		"SERVER_MAX_CONNECTIONS": strconv.Itoa(limit),
		"SERVER_ADMIN_ADDRESS":   "127.0.0.1:0",
	})
	if !hasLine(srv.Process, "file_limit", "success", "soft", strconv.Itoa(nofile), "hard", strconv.Itoa(nofile)) {
		t.Fatalf("the central does not run under ulimit -n %d:\n%s", nofile, srv.Log())
	}
	adminAddr := adminAddrOf(t, srv)
	start := time.Now()
	agencyConns := dialIdle(srv.Addr, 300)
	defer agencyConns.closeAll()
	adminConns := dialIdle(adminAddr, 250)
	defer adminConns.closeAll()
	t.Logf("idle: %d to the agencies' port, %d to the admin port (%d and %d dials failed)",
		len(agencyConns.conns), len(adminConns.conns), agencyConns.fails, adminConns.fails)

	clients := startAgencies(t, srv.Addr, data, 3)
	for _, c := range clients {
		c.WaitExit(t, 90*time.Second)
	}
	if srv.Exited() {
		t.Fatalf("the central exited with %d under descriptor exhaustion:\n%s", srv.ExitCode(), harness.Tail(srv.Log(), 20))
	}
	agencyConns.closeAll()
	adminConns.closeAll()
	srv.Stop(t) // its log is whole: an episode still open is said at Close
	elapsed := time.Since(start)
	assertAgenciesWon(t, clients, []int{1, 2, 1})

	perListener := map[string][]harness.Line{}
	for _, l := range harness.Filter(srv.Lines(), "accept", "fail") {
		perListener[l.Fields["address"]] = append(perListener[l.Fields["address"]], l)
	}
	if len(perListener[srv.Addr]) == 0 {
		t.Fatalf("the agencies' listener %s never ran out of descriptors: no accept fail line; the test proves nothing:\n%s", srv.Addr, srv.Log())
	}
	names := map[string]string{srv.Addr: "agencies'", adminAddr: "admin"}
	for addr, lines := range perListener {
		errs := 0
		for _, l := range lines {
			n, err := strconv.Atoi(l.Fields["count"])
			if err != nil || n < 1 {
				t.Errorf("an accept fail line without a count: %s", l.Raw)
			}
			errs += n
			if !strings.Contains(l.Fields["error"], "too many open files") {
				t.Errorf("an accept fail line for another reason: %s", l.Raw)
			}
		}
		t.Logf("%s listener %s: %d accept errors said in %d lines over %v", names[addr], addr, errs, len(lines), elapsed.Round(time.Second))
		if names[addr] == "" {
			t.Errorf("an accept line of an unknown listener %s", addr)
		}
		// One line per episode (an accept that succeeds between two
		// errors, a busy refusal's descriptor freed, ends one) and per
		// SummaryEvery: far fewer than the errors, which one line each
		// would equal.
		if 2*len(lines) > errs {
			t.Errorf("%s listener: %d errors said in %d lines: not collapsed", names[addr], errs, len(lines))
		}
	}
}

// procStatus reads pid's open descriptors (/proc/PID/fd) and resident
// memory (/proc/PID/status VmRSS, in KiB).
func procStatus(t *testing.T, pid int) (fds, rssKiB int) {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Errorf("open descriptors of %d: %v", pid, err)
		return 0, 0
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Errorf("status of %d: %v", pid, err)
		return len(entries), 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return len(entries), rssKiB
}

// raiseNoFile raises this process's soft file limit to hold want
// descriptors, skipping the test where its hard limit cannot.
func raiseNoFile(t *testing.T, want uint64) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= want {
		return
	}
	if lim.Max < want {
		t.Skipf("this test needs %d descriptors; the hard limit is %d (ulimit -Hn)", want, lim.Max)
	}
	lim.Cur = want
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
}

// keepAlive is one admin client that asks /healthz once over a
// keep-alive connection, then says nothing, and reports whether the
// central answered and then closed the connection itself.
func keepAlive(addr string) (answered, closedByCentral bool) {
	nc, err := net.DialTimeout("tcp", addr, 90*time.Second)
	if err != nil {
		return false, false
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(3 * time.Minute)) // the test's bound, not an assertion on speed
	if _, err := nc.Write([]byte("GET /healthz HTTP/1.1\r\nHost: central\r\n\r\n")); err != nil {
		return false, false
	}
	br := bufio.NewReader(nc)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, false
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		return false, false
	}
	_, err = br.ReadByte() // nothing more comes: the central closes it idle
	return true, err != nil && !os.IsTimeout(err)
}

// TestAdminIdleFlood is issue 19's second finding: 8,000 keep-alive
// connections to the admin port, each asking once and then idle. The
// central holds at most admin.DefaultLimits' 64 of them at once: its
// open descriptors stay under that and netguard.OwnFiles, its resident
// memory under maxAdminFloodRSS (docs/OPERATIONS.md); each idle
// connection is closed by the central after SERVER_ADMIN_IDLE_TIMEOUT,
// which frees its slot for the next, until every one was answered.
func TestAdminIdleFlood(t *testing.T) {
	const conns = 8000
	raiseNoFile(t, conns+512)
	srv := startServer(t, map[string]string{
		"AGENCIES_AMOUNT":           "1",
		"SERVER_ADMIN_ADDRESS":      "127.0.0.1:0",
		"SERVER_ADMIN_IDLE_TIMEOUT": "200ms",
	})
	addr := adminAddrOf(t, srv)
	fds0, rss0 := procStatus(t, srv.Pid())

	var answered, closed atomic.Int64
	var wg sync.WaitGroup
	// One goroutine a connection: 8,000 stays under the race detector's
	// 8,128 goroutines alive at once (make test runs -race), with no
	// other e2e test running beside it (none is parallel).
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, c := keepAlive(addr)
			if a {
				answered.Add(1)
			}
			if c {
				closed.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	maxFds, maxRSS := fds0, rss0
	for sampling := true; sampling; {
		select {
		case <-done:
			sampling = false
		case <-time.After(20 * time.Millisecond):
		}
		fds, rss := procStatus(t, srv.Pid())
		maxFds, maxRSS = max(maxFds, fds), max(maxRSS, rss)
	}
	t.Logf("central: descriptors %d before, at most %d; VmRSS %d KiB before, at most %d KiB; %d of %d answered, %d closed by the central",
		fds0, maxFds, rss0, maxRSS, answered.Load(), conns, closed.Load())

	if got := answered.Load(); got != conns {
		t.Errorf("%d of %d admin connections answered, want all: idle ones must give their slot back", got, conns)
	}
	if got := closed.Load(); got != answered.Load() {
		t.Errorf("%d of %d answered connections closed by the central, want all (SERVER_ADMIN_IDLE_TIMEOUT)", got, answered.Load())
	}
	if capFds := admin.DefaultLimits().MaxConnections + netguard.OwnFiles; maxFds > capFds {
		t.Errorf("the central held %d descriptors, over the admin endpoint's %d connections and its own %d",
			maxFds, admin.DefaultLimits().MaxConnections, netguard.OwnFiles)
	}
	if maxRSS > maxAdminFloodRSS {
		t.Errorf("the central's VmRSS reached %d KiB, over the documented %d KiB", maxRSS, maxAdminFloodRSS)
	}
	if code, body := adminGet(t, addr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz after the flood = %d %q", code, body)
	}
	srv.Stop(t)
}

// maxAdminFloodRSS is the central's resident memory, in KiB, that an
// idle flood of its admin port stays under (docs/OPERATIONS.md, "Under
// attack: the admin endpoint").
const maxAdminFloodRSS = 64 << 10
