// Package loadgen measures the lottery end to end: it starts the real
// central binary, drives agencies against it (the real client binaries for
// the course dataset, or many agencies of the real client code in one
// process for national scale), and reports times, throughput, ack
// latencies and the central's peak memory.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/health"
)

// Server is a central process started by the benchmark.
type Server struct {
	cmd  *exec.Cmd
	Addr string // where it listens
	done chan error
}

// StartServer runs the central binary bin in dir with env added to the
// benchmark's environment, on a free port of 127.0.0.1, and returns once
// it answers the protocol's health check. It does not depend on the
// central's log, whose level the benchmark may lower.
func StartServer(ctx context.Context, bin, dir string, env ...string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SERVER_IP=127.0.0.1", "SERVER_PORT="+strconv.Itoa(port))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start central: %w", err)
	}
	s := &Server{cmd: cmd, Addr: addr, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := health.Check(ctx, addr, time.Second); err == nil {
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("central exited before serving: %v", err)
		case <-ctx.Done():
			cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return nil, errors.New("central did not serve within 10s")
		}
	}
}

// freePort asks the kernel for a port that is free now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// PeakRSS returns the central's peak resident memory (VmHWM), in bytes.
func (s *Server) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("central exit: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		return errors.New("central did not stop within 10s of SIGTERM")
	}
}
