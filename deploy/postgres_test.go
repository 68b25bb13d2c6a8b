package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// postgresImage is the tag scripts/postgres-image.sh gives its image.
const postgresImage = "quiniela-postgres:15"

// replicationTimeout bounds the wait for the standby to stream, and for a
// row to reach it: seconds on a laptop.
const replicationTimeout = 2 * time.Minute

// requirePostgresImage skips the test where the database image cannot be
// built or run (under -short, without a Docker engine, or without
// PostgreSQL 15 and the root that would install it), and otherwise builds
// it once per run with scripts/postgres-image.sh, which returns at once
// when it is up to date. It needs neither the lottery's images nor their container
// names, so it does not take requireDocker's lock.
func requirePostgresImage(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("docker deployment tests take a minute or two: skipped under -short")
	}
	if out, err := run("", 30*time.Second, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("the PostgreSQL image test needs a Docker engine, and `docker info` failed: %v: %s", err, firstLine(out))
	}
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/postgres"); err != nil && os.Getuid() != 0 {
		t.Skipf("the PostgreSQL image is made of this machine's PostgreSQL 15, which is missing (%v), "+
			"and only root could install it", err)
	}
	pgImage.once.Do(func() {
		start := time.Now()
		out, err := run(repoRoot, buildTimeout, filepath.Join(repoRoot, "scripts", "postgres-image.sh"))
		if err != nil {
			pgImage.err = fmt.Errorf("%w\n%s", err, out)
			return
		}
		t.Logf("%s(%v)", out, time.Since(start).Round(time.Millisecond))
	})
	if pgImage.err != nil {
		t.Fatal(pgImage.err)
	}
}

// pgImage is the outcome of building the image, once per run.
var pgImage struct {
	once sync.Once
	err  error
}

// pgCluster is a primary and a synchronous standby on a private network,
// named after the test's process so that parallel runs do not collide.
type pgCluster struct {
	t                         *testing.T
	network, primary, standby string
	password                  string
}

// newPgCluster makes the cluster's network; it, the containers and their
// volumes are removed when the test ends.
func newPgCluster(t *testing.T) *pgCluster {
	t.Helper()
	prefix := fmt.Sprintf("quiniela-pgtest-%d-%s", os.Getpid(), randomSuffix(t))
	c := &pgCluster{t: t, network: prefix, primary: prefix + "-primary", standby: prefix + "-standby",
		password: randomSuffix(t) + randomSuffix(t)}
	if out, err := run("", cmdTimeout, "docker", "network", "create", c.network); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(c.remove)
	return c
}

// startPgCluster starts the primary and the standby.
func startPgCluster(t *testing.T) *pgCluster {
	t.Helper()
	c := newPgCluster(t)
	c.runContainer(c.primary, "POSTGRES_DB=lottery", "PG_SYNC_STANDBY=standby1")
	c.runContainer(c.standby, "PG_PRIMARY_HOST="+c.primary, "PG_STANDBY_NAME=standby1")
	return c
}

// runContainer starts one server of the cluster with env added to the
// password.
func (c *pgCluster) runContainer(name string, env ...string) {
	c.t.Helper()
	args := []string{"run", "-d", "--name", name, "--network", c.network, "-e", "POSTGRES_PASSWORD=" + c.password}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	if out, err := run("", cmdTimeout, "docker", append(args, postgresImage)...); err != nil {
		c.t.Fatalf("%v\n%s", err, out)
	}
}

// remove logs the containers' logs if the test failed, then removes the
// containers, their volumes and the network, and checks none is left.
func (c *pgCluster) remove() {
	t := c.t
	names := []string{c.primary, c.standby}
	if t.Failed() {
		for _, n := range names {
			if out, err := run("", cmdTimeout, "docker", "logs", n); err == nil {
				t.Logf("log of %s (last lines):\n%s", n, lastLines(out, 60))
			}
		}
	}
	volumes := containerVolumes(t, names...)
	if out, err := run("", cmdTimeout, "docker", append([]string{"rm", "--force", "--volumes"}, names...)...); err != nil &&
		!strings.Contains(out, "No such container") {
		t.Errorf("cleanup: %v\n%s", err, out)
	}
	for _, v := range volumes {
		if out, err := run("", cmdTimeout, "docker", "volume", "inspect", v); err == nil {
			t.Errorf("cleanup: volume %s is left", v)
			run("", cmdTimeout, "docker", "volume", "rm", "--force", v)
		} else if !strings.Contains(strings.ToLower(out), "no such volume") {
			t.Errorf("cleanup: %v\n%s", err, out)
		}
	}
	if out, err := run("", cmdTimeout, "docker", "network", "rm", c.network); err != nil {
		t.Errorf("cleanup: %v\n%s", err, out)
	}
}

// containerVolumes lists the volumes the containers that exist among
// names mount.
func containerVolumes(t *testing.T, names ...string) []string {
	t.Helper()
	var vols []string
	for _, n := range names {
		out, err := run("", cmdTimeout, "docker", "inspect", "--format",
			`{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\n"}}{{end}}{{end}}`, n)
		if err == nil {
			vols = append(vols, strings.Fields(out)...)
		}
	}
	return vols
}

// psql runs one statement in a container, over its socket, and returns
// the rows unaligned, one a line, without headers.
func psql(container, db, sql string) (string, error) {
	out, err := run("", cmdTimeout, "docker", "exec", container,
		"psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", db, "-c", sql)
	return strings.TrimSpace(out), err
}

// mustPsql is psql that fails the test on an error.
func (c *pgCluster) mustPsql(container, db, sql string) string {
	c.t.Helper()
	out, err := psql(container, db, sql)
	if err != nil {
		c.t.Fatalf("%s: %s: %v\n%s", container, sql, err, out)
	}
	return out
}

// waitPsql runs sql in container until it returns want.
func (c *pgCluster) waitPsql(container, db, sql, want string) {
	c.t.Helper()
	start := time.Now()
	var out string
	var err error
	for time.Since(start) < replicationTimeout {
		if out, err = psql(container, db, sql); err == nil && out == want {
			c.t.Logf("%s: %s = %q after %v", container, sql, want, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("%s: %s: want %q within %v; last answer %q, %v", container, sql, want, replicationTimeout, out, err)
}

// TestPostgresPrimaryAndSyncStandby builds quiniela-postgres:15 and checks
// what the central's PostgreSQL backend relies on: a standby made from
// PG_PRIMARY_HOST streams from the primary synchronously, a committed row
// is on the standby, the network asks for the password, and docker stop
// ends both servers at once with status 0.
func TestPostgresPrimaryAndSyncStandby(t *testing.T) {
	requirePostgresImage(t)
	c := startPgCluster(t)

	c.waitPsql(c.primary, "lottery", "SELECT application_name || ' ' || sync_state FROM pg_stat_replication", "standby1 sync")
	if got := c.mustPsql(c.standby, "postgres", "SELECT pg_is_in_recovery()"); got != "t" {
		t.Errorf("standby: pg_is_in_recovery() = %q, want t", got)
	}

	// A synchronous commit returns once the standby has the row on disk;
	// it shows there once replayed.
	c.mustPsql(c.primary, "lottery", "CREATE TABLE bets (agency int, document text)")
	c.mustPsql(c.primary, "lottery", "INSERT INTO bets VALUES (3, '30904465')")
	c.waitPsql(c.standby, "lottery", "SELECT agency || ' ' || document FROM bets", "3 30904465")

	c.checkPassword()

	for _, name := range []string{c.standby, c.primary} {
		start := time.Now()
		if code := stopContainer(t, name); code != 0 {
			t.Errorf("%s: exit code %d after docker stop, want 0", name, code)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("%s: docker stop took %v: the fast shutdown should take a second", name, d)
		}
	}
}

// checkPassword checks that a connection over the network is refused
// without the password and accepted with it (pg_hba's scram-sha-256).
func (c *pgCluster) checkPassword() {
	c.t.Helper()
	connect := func(env ...string) (string, error) {
		args := []string{"exec"}
		for _, e := range env {
			args = append(args, "-e", e)
		}
		args = append(args, c.standby, "psql", "-X", "-A", "-t", "-w", "-h", c.primary,
			"-U", "postgres", "-d", "lottery", "-c", "SELECT count(*) FROM bets")
		out, err := run("", cmdTimeout, "docker", args...)
		return strings.TrimSpace(out), err
	}
	if out, err := connect(); err == nil || !strings.Contains(out, "password") {
		c.t.Errorf("a connection from the network without a password: %v, %q; want refused for want of a password", err, out)
	}
	if out, err := connect("PGPASSWORD=" + c.password); err != nil || out != "1" {
		c.t.Errorf("a connection from the network with the password: %v, %q; want 1 row counted", err, out)
	}
}

// TestPostgresStopWhileWaitingForPrimary checks that a standby whose
// primary never comes stops at docker stop at once, with status 0, instead
// of waiting out its wait and docker's SIGKILL.
func TestPostgresStopWhileWaitingForPrimary(t *testing.T) {
	requirePostgresImage(t)
	c := newPgCluster(t)
	c.runContainer(c.standby, "PG_PRIMARY_HOST="+c.primary, "PG_STANDBY_NAME=standby1")
	waitLog(t, c.standby, "action: wait_primary line", func(lines []string) bool {
		return len(find(lines, "wait_primary", "in_progress")) > 0
	})
	start := time.Now()
	if code := stopContainer(t, c.standby); code != 0 {
		t.Errorf("exit code %d after docker stop, want 0", code)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("docker stop took %v: the wait should end at SIGTERM", d)
	}
}
