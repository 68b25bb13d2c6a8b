package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent use: a process or a
// server writes it while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Spec describes a process to start.
type Spec struct {
	Name string   // what messages call it, such as "client-2"
	Bin  string   // the binary
	Dir  string   // its working directory
	Env  []string // its whole environment: Env(...) or os.Environ() plus some
	Args []string
	// Stdout, when set, receives the process's log instead of Log: the
	// load generator discards a busy central's log rather than keep it
	// in memory.
	Stdout io.Writer
	// Stderr, when set, receives what the process writes to stderr
	// instead of Stderr.
	Stderr io.Writer
}

// Process is one running binary.
type Process struct {
	name   string
	cmd    *exec.Cmd
	stdout Buffer // the log: both binaries log to stdout
	stderr Buffer
	done   chan struct{} // closed once the process has exited and its output is read

	// Set before done is closed.
	exitCode int // -1 when killed by a signal
	waitErr  error
	cpu      time.Duration // user + system, from the child's rusage
}

// Start starts the process spec describes. It is killed when ctx is done.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	cmd := exec.CommandContext(ctx, spec.Bin, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	p := &Process{name: spec.Name, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	if spec.Stderr != nil {
		cmd.Stderr = spec.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	go func() {
		err := cmd.Wait()
		p.waitErr = err
		p.exitCode = cmd.ProcessState.ExitCode()
		if st := cmd.ProcessState; st != nil {
			p.cpu = st.UserTime() + st.SystemTime()
		}
		close(p.done)
	}()
	return p, nil
}

// StartT starts the process spec describes for a test. The process is
// killed, if still running, when the test ends; when the test failed,
// the tail of its output is logged.
func StartT(t TB, spec Spec) *Process {
	t.Helper()
	p, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s (exit %d, %v) stdout tail:\n%s\n--- %s stderr:\n%s",
				p.name, p.exitCode, p.waitErr, Tail(p.Log(), 40), p.name, Tail(p.Stderr(), 10))
		}
	})
	return p
}

// Name is what messages call the process.
func (p *Process) Name() string { return p.name }

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log returns what the process wrote to stdout so far.
func (p *Process) Log() string { return p.stdout.String() }

// Stderr returns what the process wrote to stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Lines returns the parsed log lines written so far.
func (p *Process) Lines() []Line { return ParseLog(p.Log()) }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed once the process has exited and its output is read.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the process's exit status, -1 when a signal killed it. It
// is valid once Exited is true.
func (p *Process) ExitCode() int { return p.exitCode }

// Err is the error of the process's Wait (nil after a clean exit). It is
// valid once Exited is true.
func (p *Process) Err() error { return p.waitErr }

// CPU is the processor time the process used, user and system, as its
// rusage at exit says: what the load generator reports per bet. It is
// valid once Exited is true.
func (p *Process) CPU() time.Duration { return p.cpu }

// Wait waits up to timeout for the process to exit and returns its exit
// code; ok is false when it is still running.
func (p *Process) Wait(timeout time.Duration) (code int, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitCode, true
	case <-timer.C:
		return 0, false
	}
}

// WaitExit waits up to timeout for the process to exit and returns its
// exit code, failing the test when it does not.
func (p *Process) WaitExit(t TB, timeout time.Duration) int {
	t.Helper()
	code, ok := p.Wait(timeout)
	if !ok {
		t.Fatalf("%s did not exit within %v; log tail:\n%s", p.name, timeout, Tail(p.Log(), 20))
	}
	return code
}

// Kill kills the process, if it still runs, and waits for it to be gone.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Terminate sends the process SIGTERM and waits up to timeout for it to
// exit, returning its Wait error; one that is still running then is
// killed, and Terminate says so.
func (p *Process) Terminate(timeout time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	if _, ok := p.Wait(timeout); !ok {
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM", p.name, timeout)
	}
	return p.waitErr
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
