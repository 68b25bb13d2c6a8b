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

// binDir finds the directory of initdb and pg_ctl: on the PATH, or
// Debian's /usr/lib/postgresql/<version>/bin, the newest version first.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i], nil
		}
	}
	return "", ErrNotInstalled
}

// Start initialises a cluster in a new temporary directory and starts it.
// PostgreSQL refuses to run as root: as root, the cluster belongs to the
// user postgres (Debian's package creates it) and its commands run
// through runuser.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if err := c.own(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.initdb(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
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

// Port is the port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Log returns what the server has logged so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	return string(b)
}

// Stop stops the server (fast shutdown) and removes its directory.
func (c *Cluster) Stop() error {
	err := c.exec("pg_ctl", "stop", "-w", "-m", "fast", "-D", c.data())
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

func (c *Cluster) sql(stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
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
