package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// imageUser is the numeric user both images run as (USER in
// server/Dockerfile and client/Dockerfile); it owns the central's
// /app/storage.
const imageUser = "10001:10001"

// storageDir is where the generated compose file puts the central's store
// (STORAGE_FILEPATH=/app/storage/bets.csv), on the service's anonymous
// volume.
const storageDir = "/app/storage"

// containerConfig is the part of `docker inspect` about privileges and
// mounts that the tests read.
type containerConfig struct {
	Config     struct{ User string }
	HostConfig struct {
		PortBindings    map[string]any
		PublishAllPorts bool
		ReadonlyRootfs  bool
		CapDrop         []string
		SecurityOpt     []string
	}
	Mounts []struct {
		Type, Name, Source, Destination string
		RW                              bool
	}
	RestartCount int
}

func inspectConfig(t *testing.T, name string) containerConfig {
	t.Helper()
	out, err := run("", cmdTimeout, "docker", "inspect", "--format", "{{json .}}", name)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var c containerConfig
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("docker inspect %s: %v: %s", name, err, out)
	}
	return c
}

// assertLeastPrivilege checks that a container runs as imageUser with a
// read-only root file system, no capability and no-new-privileges, and
// that its only writable mount is the one at writable ("" for none).
func assertLeastPrivilege(t *testing.T, name, writable string) containerConfig {
	t.Helper()
	c := inspectConfig(t, name)
	if c.Config.User != imageUser {
		t.Errorf("%s: Config.User %q, want %q", name, c.Config.User, imageUser)
	}
	if !c.HostConfig.ReadonlyRootfs {
		t.Errorf("%s: HostConfig.ReadonlyRootfs false, want true", name)
	}
	if !slices.Contains(c.HostConfig.CapDrop, "ALL") {
		t.Errorf("%s: HostConfig.CapDrop %v, want ALL", name, c.HostConfig.CapDrop)
	}
	if !slices.ContainsFunc(c.HostConfig.SecurityOpt, func(o string) bool { return strings.HasPrefix(o, "no-new-privileges") }) {
		t.Errorf("%s: HostConfig.SecurityOpt %v, want no-new-privileges", name, c.HostConfig.SecurityOpt)
	}
	var rw []string
	for _, m := range c.Mounts {
		if m.RW {
			rw = append(rw, m.Destination)
		}
	}
	var want []string
	if writable != "" {
		want = []string{writable}
	}
	if !slices.Equal(rw, want) {
		t.Errorf("%s: writable mounts %v, want %v", name, rw, want)
	}
	return c
}

// storeVolume returns the name of the volume mounted at storageDir in the
// server container.
func storeVolume(t *testing.T, c containerConfig) string {
	t.Helper()
	for _, m := range c.Mounts {
		if m.Destination == storageDir {
			if m.Type != "volume" {
				t.Fatalf("server: %s is a %s mount, want a volume", storageDir, m.Type)
			}
			return m.Name
		}
	}
	t.Fatalf("server: nothing mounted at %s", storageDir)
	return ""
}

// assertWinnersFiles checks that each agency logged its winners file
// saved and that the file, copied out of its container's /app/winners
// (the named volume winners) with docker cp, holds one line per winner.
func assertWinnersFiles(t *testing.T, d *deployment, byName map[string][]string, want []int) {
	t.Helper()
	for i, w := range want {
		id := strconv.Itoa(i + 1)
		name := "client" + id
		file := winnersIn + "/agency-" + id + ".txt"
		if got := mustField(t, name, byName[name], "ganadores_guardados", "file"); got != file {
			t.Errorf("%s: ganadores_guardados file %s, want %s", name, got, file)
		}
		dst := filepath.Join(d.dir, "winners-"+name+".txt")
		if out, err := run("", cmdTimeout, "docker", "cp", name+":"+file, dst); err != nil {
			t.Errorf("docker cp %s:%s: %v\n%s", name, file, err, out)
			continue
		}
		raw, err := os.ReadFile(dst)
		if err != nil {
			t.Error(err)
			continue
		}
		if lines := strings.Count(string(raw), "\n"); lines != w || (w == 0 && len(raw) != 0) {
			t.Errorf("%s: %s holds %d lines (%q), want %d winners", name, file, lines, raw, w)
		}
	}
}

// assertAdminInNetwork checks that the central serves its admin endpoint
// on port adminPort of every address and that no port of the server
// container is published to the host (expose only).
func assertAdminInNetwork(t *testing.T, server []string) {
	t.Helper()
	if addr := mustField(t, "server", server, "admin", "address"); !strings.HasSuffix(addr, ":"+adminPort) ||
		strings.HasPrefix(addr, "127.") {
		t.Errorf("server: admin on %s, want every address, port %s", addr, adminPort)
	}
	c := inspectConfig(t, "server")
	if len(c.HostConfig.PortBindings) != 0 || c.HostConfig.PublishAllPorts {
		t.Errorf("server: ports published to the host %v (publish all %v), want none", c.HostConfig.PortBindings, c.HostConfig.PublishAllPorts)
	}
	out, err := run("", cmdTimeout, "docker", "port", "server")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("docker port server: %q, %v; want no published port", out, err)
	}
}

// waitRecoveries waits until the central has started n times (n recovery
// success lines in its log) and returns the bets the last one found.
func waitRecoveries(t *testing.T, n int) string {
	t.Helper()
	lines := waitLog(t, "server", "recovery line of start "+strconv.Itoa(n), func(lines []string) bool {
		return len(find(lines, "recovery", "success")) >= n
	})
	return mustField(t, "server", lines, "recovery", "bets")
}

// TestComposeLeastPrivilege runs the generated deployment and checks its
// least privilege: the central and the agencies run as the images'
// numeric user, with a read-only root file system, every capability
// dropped and no-new-privileges; the central writes only to its store, an
// anonymous volume at /app/storage, and an agency to nothing. A lottery
// completes. The course's life cycle holds: docker restart and a crash
// that restart: on-failure brings back keep the bets (the central
// recovers them from the same volume), and a plain down then up starts
// an empty lottery on a new volume.
func TestComposeLeastPrivilege(t *testing.T) {
	d := newDeployment(t, 2)
	d.genData("-agencies", "2", "-bets", "400,300", "-winners", "2,1", "-seed", "13")
	clients := clientNames(2)
	const total = "700"

	lottery := func(round string) string {
		t.Helper()
		d.up()
		exitedZero(t, round+": ", clients...)
		byName := d.composeLogs()
		assertWinners(t, byName, []int{2, 1})
		for name, lines := range byName {
			assertNoFail(t, name, lines)
		}
		for _, c := range clients {
			assertLeastPrivilege(t, c, winnersIn)
		}
		assertWinnersFiles(t, d, byName, []int{2, 1})
		server := logs(t, "server")
		assertAdminInNetwork(t, server)
		if got := mustField(t, "server", server, "config", "storage_filepath"); got != storageDir+"/bets.csv" {
			t.Errorf("%s: server storage_filepath %s, want %s/bets.csv", round, got, storageDir)
		}
		if got := mustField(t, "server", server, "recovery", "bets"); got != "0" {
			t.Errorf("%s: server recovered %s bets at its first start, want 0 (a new lottery)", round, got)
		}
		if got := mustField(t, "server", server, "sorteo", "bets"); got != total {
			t.Errorf("%s: sorteo over %s bets, want %s", round, got, total)
		}
		return storeVolume(t, assertLeastPrivilege(t, "server", storageDir))
	}

	volume := lottery("first lottery")
	if t.Failed() {
		t.FailNow()
	}

	// docker restart: the same container, its volume and its bets.
	start := time.Now()
	if out, err := run("", cmdTimeout, "docker", "restart", "-t", "10", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := waitRecoveries(t, 2); got != total {
		t.Errorf("after docker restart the server recovered %s bets, want %s", got, total)
	}
	t.Logf("docker restart server: bets recovered after %v", time.Since(start).Round(time.Millisecond))

	// A crash: SIGQUIT makes the Go runtime dump its goroutines and exit
	// with status 2, which restart: on-failure restarts. (docker kill with
	// SIGKILL or the stop signal counts as a manual stop, which it does
	// not.)
	start = time.Now()
	if out, err := run("", cmdTimeout, "docker", "kill", "--signal", "SIGQUIT", "server"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := waitRecoveries(t, 3); got != total {
		t.Errorf("after a crash and restart: on-failure the server recovered %s bets, want %s", got, total)
	}
	c := inspectConfig(t, "server")
	if c.RestartCount < 1 {
		t.Errorf("server: RestartCount %d after the crash, want at least 1 (restart: on-failure)", c.RestartCount)
	}
	if v := storeVolume(t, c); v != volume {
		t.Errorf("server: store on volume %s after the crash, want %s as before", v, volume)
	}
	t.Logf("SIGQUIT: restarted by the engine (RestartCount %d), bets recovered after %v",
		c.RestartCount, time.Since(start).Round(time.Millisecond))

	// A plain down (no -v) ends the lottery: the next up starts empty, on a
	// new anonymous volume. (The old one is left behind by down; the
	// harness removes it.)
	d.mustCompose("down", "-t", "10")
	if v := lottery("after down and up"); v == volume {
		t.Errorf("server: store on the same volume %s after down and up, want a new one", v)
	}
}
