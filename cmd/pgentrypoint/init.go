package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// primaryWait is how long a new standby waits for its primary to accept
// connections before giving up (the container exits 1; a restart policy
// tries again).
const primaryWait = 3 * time.Minute

// includeLine makes postgresql.conf read the entrypoint's settings last,
// so they win over the defaults initdb wrote.
const includeLine = "include_if_exists = '" + confFile + "'"

// initialized reports whether PGDATA holds a cluster already: then the
// server starts as it is, whatever role the environment asks for.
func initialized(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	return err == nil
}

// initialize makes a new cluster in an empty PGDATA: a primary with
// initdb, or a standby with a base backup of its primary.
func initialize(ctx context.Context, c config) error {
	if c.standby() {
		return initStandby(ctx, c)
	}
	return initPrimary(ctx, c)
}

// initPrimary runs initdb, writes pg_hba.conf, includes the entrypoint's
// settings and creates POSTGRES_DB.
func initPrimary(ctx context.Context, c config) error {
	pwfile, err := writePwfile(c.password)
	if err != nil {
		return err
	}
	err = runTool(ctx, nil, "initdb", initdbArgs(c, pwfile)...)
	os.Remove(pwfile)
	if err != nil {
		return err
	}
	hba := strings.Join(hbaLines(), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(c.dataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("writing pg_hba.conf: %w", err)
	}
	if err := ensureInclude(c.dataDir); err != nil {
		return err
	}
	if err := writeConf(c); err != nil {
		return err
	}
	if c.database == "" || c.database == "postgres" {
		return nil
	}
	return createDatabase(ctx, c)
}

// writePwfile writes the password into a new private file for initdb's
// --pwfile, so that it never shows in a process list.
func writePwfile(password string) (string, error) {
	f, err := os.CreateTemp("", "pwfile-*")
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	_, err = f.WriteString(password + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("password file: %w", err)
	}
	return f.Name(), nil
}

// createDatabase creates POSTGRES_DB on a server started for that alone,
// listening on the socket only, so that no standby or client connects to
// a primary that is not ready; and asking for no synchronous standby,
// whose flush the commit would wait for, while none can connect.
func createDatabase(ctx context.Context, c config) error {
	pgctl := func(args ...string) error {
		return runTool(ctx, nil, "pg_ctl", append([]string{"-D", c.dataDir, "-w", "-t", "60"}, args...)...)
	}
	if err := pgctl("-o", "-c listen_addresses='' -c synchronous_standby_names=''", "start"); err != nil {
		return err
	}
	err := runTool(ctx, nil, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", socketDir,
		"-U", c.user, "-d", "postgres", "-c", "CREATE DATABASE "+quoteIdent(c.database))
	// Stop it even when the context is done: a running postmaster would
	// outlive the entrypoint.
	if serr := runTool(context.Background(), nil, "pg_ctl", "-D", c.dataDir, "-w", "-t", "60", "-m", "fast", "stop"); err == nil {
		err = serr
	}
	return err
}

// initStandby waits for the primary and copies it with pg_basebackup. A
// copy that fails is removed, so that the next start tries again.
func initStandby(ctx context.Context, c config) error {
	if err := waitPrimary(ctx, c); err != nil {
		return err
	}
	env := []string{"PGPASSWORD=" + c.password}
	if err := runTool(ctx, env, "pg_basebackup", basebackupArgs(c)...); err != nil {
		return errors.Join(err, emptyDir(c.dataDir))
	}
	return ensureInclude(c.dataDir)
}

// waitPrimary asks the primary with pg_isready until it accepts
// connections, for at most primaryWait.
func waitPrimary(ctx context.Context, c config) error {
	ctx, cancel := context.WithTimeout(ctx, primaryWait)
	defer cancel()
	logLine("INFO", "wait_primary", "in_progress", "primary", c.primaryHost+":"+c.primaryPort)
	for {
		cmd := exec.CommandContext(ctx, filepath.Join(pgBin, "pg_isready"), isreadyArgs(c)...)
		if cmd.Run() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("primary %s:%s: not accepting connections: %w", c.primaryHost, c.primaryPort, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// ensureInclude appends includeLine to postgresql.conf unless it is there
// (a standby's copy of its primary's file has it already).
func ensureInclude(dataDir string) error {
	name := filepath.Join(dataDir, "postgresql.conf")
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("reading postgresql.conf: %w", err)
	}
	if slices.Contains(strings.Split(string(b), "\n"), includeLine) {
		return nil
	}
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Written by pgentrypoint at every start, from the environment.\n%s\n", includeLine)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	return nil
}

// writeConf writes PGDATA/entrypoint.conf from the environment. It runs at
// every start, so a changed PG_SYNC_STANDBY takes effect at a restart.
func writeConf(c config) error {
	text := "# Written by pgentrypoint at every start: edits are lost.\n" +
		strings.Join(confLines(settings(c)), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(c.dataDir, confFile), []byte(text), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", confFile, err)
	}
	return nil
}

// emptyDir removes what dir holds, keeping dir (a volume's mount point).
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("emptying %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// runTool runs one of PostgreSQL's programs with its output in the
// container's log. When ctx is done it gets SIGTERM, which initdb and
// pg_basebackup answer by cleaning up.
func runTool(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, name), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	logLine("INFO", name, "success", "elapsed", time.Since(start).Round(time.Millisecond).String())
	return nil
}
