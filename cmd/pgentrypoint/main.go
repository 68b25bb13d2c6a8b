// Command pgentrypoint is the entrypoint of the quiniela-postgres image
// (scripts/postgres-image.sh builds it; docs/DEPLOY.md, "PostgreSQL",
// describes it). It runs as PID 1, as the image's postgres user:
//
//   - On an empty PGDATA it makes a cluster. A primary (PG_PRIMARY_HOST
//     unset) gets initdb with the superuser's password from
//     POSTGRES_PASSWORD, a pg_hba.conf that asks SCRAM of every network
//     connection (replication included), and the database POSTGRES_DB. A
//     standby (PG_PRIMARY_HOST set) waits for its primary and copies it with
//     pg_basebackup -R, naming itself PG_STANDBY_NAME.
//   - At every start it writes PGDATA/entrypoint.conf from the environment:
//     streaming replication on, and synchronous_standby_names from
//     PG_SYNC_STANDBY ("standby1" gives 'FIRST 1 ("standby1")').
//   - Then it starts postgres and stays its parent: it passes signals on,
//     SIGTERM (docker stop) as SIGINT, PostgreSQL's fast shutdown, which
//     ends the sessions of the centrals' pools instead of waiting for them;
//     it reaps orphaned processes, and exits with postgres's status (0
//     after a shutdown).
//
// It logs in the operators' format ("action: initdb | result: success");
// PostgreSQL's own lines come in between, on stderr.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// stopSignals are the signals that stop the container while the cluster
// is being made, and are passed on to postgres once it runs.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2}

func main() {
	os.Exit(run())
}

// run returns the exit status of the container.
func run() int {
	c, err := configFromEnv(os.Getenv)
	if err != nil {
		logLine("ERROR", "config", "fail", "error", err.Error())
		return 2
	}
	// One channel from the start: PID 1 has no default action for a
	// signal, so a signal that no handler took would be lost.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, stopSignals...)
	if !initialized(c.dataDir) {
		if stopped, err := initializeUntilSignal(c, sigs); stopped {
			logLine("INFO", "init", "fail", "role", c.role(), "reason", "stopped by a signal")
			return 0
		} else if err != nil {
			logLine("ERROR", "init", "fail", "role", c.role(), "error", err.Error())
			return 1
		}
		logLine("INFO", "init", "success", "role", c.role(), "pgdata", c.dataDir)
	}
	if err := writeConf(c); err != nil {
		logLine("ERROR", "config", "fail", "error", err.Error())
		return 1
	}
	return supervise(c, sigs)
}

// initializeUntilSignal runs initialize, cancelling it when a signal
// comes; stopped reports that one did.
func initializeUntilSignal(c config, sigs <-chan os.Signal) (stopped bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- initialize(ctx, c) }()
	select {
	case err := <-done:
		return false, err
	case sig := <-sigs:
		logLine("INFO", "signal", "in_progress", "signal", sig.String(), "phase", "init")
		cancel()
		<-done
		return true, nil
	}
}

// supervise starts postgres, passes it the signals that come, reaps every
// child that exits (PID 1 inherits orphans), and returns postgres's exit
// status once it exits.
func supervise(c config, sigs chan os.Signal) int {
	signal.Notify(sigs, syscall.SIGCHLD) // before the start: an early exit is not missed
	p, err := os.StartProcess(pgBin+"/postgres", []string{"postgres", "-D", c.dataDir},
		&os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		logLine("ERROR", "postgres_start", "fail", "error", err.Error())
		return 1
	}
	logLine("INFO", "postgres_start", "success", "role", c.role(), "pid", fmt.Sprint(p.Pid))
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			if status, exited := reap(p.Pid); exited {
				logLine("INFO", "exit", "success", "postgres_status", fmt.Sprint(status))
				return status
			}
			continue
		}
		fwd := forwarded(sig)
		logLine("INFO", "signal", "in_progress", "signal", sig.String(), "forwarded", fwd.String())
		if err := p.Signal(fwd); err != nil {
			logLine("WARNING", "signal", "fail", "error", err.Error())
		}
	}
	return 1 // unreachable: sigs is never closed
}

// reap collects every child that has exited and reports postgres's exit
// status once pid is among them.
func reap(pid int) (status int, exited bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || got <= 0 {
			return status, exited
		}
		if got == pid {
			status, exited = exitStatus(ws), true
		}
	}
}

// exitStatus is a shell's $? for a wait status: the exit code, or 128
// plus the signal that ended the process.
func exitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// forwarded is the signal postgres gets for one the container got.
// SIGTERM, Docker's stop signal, becomes SIGINT: PostgreSQL's "smart"
// shutdown on SIGTERM waits for every client to disconnect, which pooled
// connections never do before docker stop's SIGKILL; "fast" ends them and
// still writes a shutdown checkpoint.
func forwarded(sig os.Signal) os.Signal {
	if sig == syscall.SIGTERM {
		return syscall.SIGINT
	}
	return sig
}

// logLine writes one line in the operators' format to stderr, in one
// write:
//
//	2024-08-21 22:11:15 INFO     action: initdb | result: success | elapsed: 1.2s
func logLine(level, action, result string, kv ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-8s action: %s | result: %s", time.Now().Format(time.DateTime), level, action, result)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " | %s: %s", kv[i], strings.NewReplacer("|", "/", "\n", " ").Replace(kv[i+1]))
	}
	b.WriteByte('\n')
	os.Stderr.WriteString(b.String())
}
