// Package pgtest starts throwaway PostgreSQL clusters for tests: a real
// server from the machine's PostgreSQL binaries, in a temporary directory,
// on a free port of 127.0.0.1, stopped and removed when the tests end.
// Where PostgreSQL is not installed the tests that need it skip, saying
// so; .ci/run installs Debian's postgresql so that they run in CI.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds initdb and a server's start: generous, for a CI
// machine running other tests at the same time.
const startTimeout = 60 * time.Second

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir  string // removed by Stop: data/, the socket, the log
	port int
	run  []string // prefix of every command: runuser, when we are root
	bin  string
}

// ErrNotInstalled is why Start fails where the machine has no PostgreSQL.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)")

// binDir finds the directory of PostgreSQL's server programs (initdb,
// pg_ctl, pg_basebackup): Debian's /usr/lib/postgresql/<version>/bin, the
// newest version first, or else the directory of pg_ctl on the PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append([]string{filepath.Dir(p)}, dirs...)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if hasPrograms(dirs[i]) {
			return dirs[i], nil
		}
	}
	return "", ErrNotInstalled
}

// hasPrograms reports whether dir holds every program pgtest runs.
func hasPrograms(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "pg_basebackup"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// Start initialises a cluster in a new temporary directory and starts it.
// PostgreSQL refuses to run as root: as root, the cluster belongs to the
// user postgres (Debian's package creates it) and its commands run
// through runuser.
func Start() (*Cluster, error) {
	return newCluster(func(c *Cluster) error { return c.initdb() })
}

// StartStandby starts a streaming standby of c named name (its
// application_name on c), from a base backup of c.
func (c *Cluster) StartStandby(name string) (*Cluster, error) {
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=%s", c.port, name)
	return newCluster(func(s *Cluster) error {
		return s.exec("pg_basebackup", "-D", s.data(), "-R", "-X", "stream", "-d", conninfo)
	})
}

// newCluster makes a cluster's directory, fills its data directory with
// fill and starts it.
func newCluster(fill func(*Cluster) error) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	for _, step := range []func() error{c.own, func() error { return fill(c) }, c.start} {
		if err := step(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return c, nil
}

// SyncStandby makes the standby named name c's synchronous standby, so
// that a commit is acknowledged once it is on both machines, and waits
// until it streams synchronously.
func (c *Cluster) SyncStandby(name string) error {
	if err := c.sql("ALTER SYSTEM SET synchronous_standby_names = '" + name + "'"); err != nil {
		return err
	}
	if err := c.sql("SELECT pg_reload_conf()"); err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		var state string
		err := c.query("SELECT sync_state FROM pg_stat_replication WHERE application_name = '"+name+"'", &state)
		if err == nil && state == "sync" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: standby %s is not synchronous after %v (%q, %v)", name, startTimeout, state, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Crash stops the server at once, as a machine that loses power does:
// pg_ctl stop -m immediate. Its directory stays until Stop.
func (c *Cluster) Crash() error {
	return c.exec("pg_ctl", "stop", "-w", "-m", "immediate", "-D", c.data())
}

// Promote makes a standby the primary, and waits until it takes writes.
func (c *Cluster) Promote() error {
	return c.exec("pg_ctl", "promote", "-w", "-D", c.data())
}

// own gives the cluster's directory to the user that runs the server.
func (c *Cluster) own() error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("pgtest: running as root and there is no user postgres to run the server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.dir, uid, gid); err != nil {
		return err
	}
	c.run = []string{"runuser", "-u", "postgres", "--"}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, c.run...), filepath.Join(c.bin, name)), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

func (c *Cluster) exec(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := c.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", name, err, out)
	}
	return nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) initdb() error {
	return c.exec("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
}

// start starts the server on a free port. A port taken between the probe
// and the server's bind is tried again.
func (c *Cluster) start() error {
	var err error
	for range 5 {
		if c.port, err = freePort(); err != nil {
			return err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB -c max_wal_size=2GB", c.port, c.dir)
		if err = c.exec("pg_ctl", "start", "-w", "-t", "60", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// URL returns the URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// HostsURL returns the URL of database db on the first of clusters that
// takes writes: every cluster's address, and target_session_attrs, as a
// central given a primary and its standby is configured.
func HostsURL(db string, clusters ...*Cluster) string {
	hosts := make([]string, len(clusters))
	for i, c := range clusters {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", c.port)
	}
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&target_session_attrs=read-write", strings.Join(hosts, ","), db)
}

// CreateDatabase creates database name on c.
func (c *Cluster) CreateDatabase(name string) error {
	return c.sql("CREATE DATABASE " + name)
}

// Port is the port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Log returns what the server has logged so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	return string(b)
}

// Stop stops the server (fast shutdown), if it runs, and removes its
// directory.
func (c *Cluster) Stop() error {
	var err error
	if c.exec("pg_ctl", "status", "-D", c.data()) == nil {
		err = c.exec("pg_ctl", "stop", "-w", "-m", "fast", "-D", c.data())
	}
	if rmErr := os.RemoveAll(c.dir); err == nil {
		err = rmErr
	}
	return err
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database on c for t, dropped when t ends,
// and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.sql("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := c.sql("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.URL(name)
}

// query runs a query of one value on c's database postgres.
func (c *Cluster) query(q string, dst any) error {
	return c.withConn(func(ctx context.Context, conn *pgx.Conn) error { return conn.QueryRow(ctx, q).Scan(dst) })
}

// sql runs a statement on c's database postgres.
func (c *Cluster) sql(stmt string) error {
	return c.withConn(func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, stmt)
		return err
	})
}

// withConn runs f over a new connection to c's database postgres.
func (c *Cluster) withConn(f func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return f(ctx, conn)
}

// shared is the cluster of a test binary, started by the first test that
// asks for it and stopped by Main.
var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Shared returns the test binary's cluster, starting it on first use; it
// skips t where PostgreSQL is not installed. The package's TestMain must
// call Main so that the cluster is stopped.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.err = Start() })
	if errors.Is(shared.err, ErrNotInstalled) {
		t.Skipf("%v", shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// Main runs the tests of m and stops the shared cluster, if one started.
// Use it as a package's TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// StopShared stops the shared cluster, if one started: for a TestMain that
// does more than Main.
func StopShared() error {
	if shared.c == nil {
		return nil
	}
	return shared.c.Stop()
}

// Database is Shared(t).NewDatabase(t): an empty database for t.
func Database(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}
