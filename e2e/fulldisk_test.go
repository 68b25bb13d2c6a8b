package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// smallDisk mounts a tmpfs of size (e.g. "2m") at a new directory and
// returns it with a function that resizes it. It skips the test where
// this process cannot mount (not root, or a container without the
// privilege).
func smallDisk(t *testing.T, size string) (dir string, resize func(string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small tmpfs, which needs root to mount")
	}
	dir = t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir, func(size string) {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput(); err != nil {
			t.Fatalf("resize %s to %s: %v: %s", dir, size, err, out)
		}
	}
}

// TestFullDisk: the store's file system fills up in the middle of the
// upload. The central logs the failure once and exits non-zero (it used
// to stay up answering errors, and agencies reconnected some 30 times a
// second); the agencies back off while it is gone. Once there is room
// and the central is started again, recovery keeps what was
// acknowledged, and every agency completes with its own winners, the
// bets stored exactly once.
func TestFullDisk(t *testing.T) {
	store, resize := smallDisk(t, "2m")
	sizes, winners := []int{20000, 20000, 20000}, []int{2, 1, 0}
	data := genData(t, 3, "20000", "2,1,0", 49)
	srv := newCrashServer(t, t.TempDir(), map[string]string{
		"AGENCIES_AMOUNT":  "3",
		"STORAGE_FILEPATH": filepath.Join(store, "bets.csv"),
	})
	central := srv.start()
	clients := make([]*harness.Process, 3)
	for i := range clients {
		clients[i] = startClient(t, "client-"+strconv.Itoa(i+1), clientEnv(i+1, srv.addr, map[string]string{
			"CLI_DATA_FILE": agencyFile(data, i+1), "CLI_LOG_LEVEL": "DEBUG",
		}))
	}

	code := central.WaitExit(t, clientTimeout)
	fails := harness.Filter(central.Lines(), "", "fail")
	if code == 0 || len(fails) != 1 || fails[0].Action != "storage" || !strings.Contains(fails[0].Raw, "no space left on device") {
		t.Fatalf("central on a full disk: exit %d, fail lines %v; want a non-zero exit and one storage fail line naming the full disk; log tail:\n%s",
			code, fails, harness.Tail(central.Log(), 10))
	}
	t.Logf("the central's one fail line: %s", fails[0].Raw[strings.Index(fails[0].Raw, "action: "):])

	// While it is gone, the agencies back off: 50 ms doubling to 2 s is
	// at most 8 attempts in 4 s.
	outage := 4 * time.Second
	before := make([]int, len(clients))
	for i, c := range clients {
		before[i] = len(harness.Filter(c.Lines(), "reconectar", ""))
	}
	time.Sleep(outage)
	for i, c := range clients {
		if c.Exited() {
			t.Fatalf("%s gave up while the central was down; log tail:\n%s", c.Name(), harness.Tail(c.Log(), 10))
		}
		if n := len(harness.Filter(c.Lines(), "reconectar", "")) - before[i]; n > 8 {
			t.Errorf("%s reconnected %d times in %v: it did not back off", c.Name(), n, outage)
		}
	}

	resize("20m")
	again := srv.start()
	assertAgenciesWon(t, clients, winners)
	srv.kill()
	if n := len(harness.Filter(again.Lines(), "", "fail")); n != 0 {
		t.Errorf("the central started after the disk was freed logged %d fail lines:\n%s", n, again.Log())
	}
	assertStoredBets(t, filepath.Join(store, "bets.csv"), data, sizes)
}
