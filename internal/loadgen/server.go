// Package loadgen measures the lottery end to end: it starts the real
// central binary, drives agencies against it (the real client binaries for
// the course dataset, or many agencies of the real client code in one
// process for national scale), and reports times, throughput, ack
// latencies and the central's peak memory.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a central process started by the benchmark.
type Server struct {
	cmd  *exec.Cmd
	Addr string // where it listens
	done chan error
}

// StartServer runs the central binary bin in dir with env added to the
// benchmark's environment, on a free port of 127.0.0.1, and returns once
// it listens.
func StartServer(ctx context.Context, bin, dir string, env ...string) (*Server, error) {
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SERVER_IP=127.0.0.1", "SERVER_PORT=0")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start central: %w", err)
	}
	s := &Server{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		// Read every line, so the central never blocks on its log.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "action: accept_connections"); i >= 0 {
				if _, a, ok := strings.Cut(line[i:], "address: "); ok {
					addr <- a
				}
			}
		}
		io.Copy(io.Discard, out)
		s.done <- cmd.Wait()
	}()
	select {
	case s.Addr = <-addr:
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("central exited before listening: %v", err)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("central did not listen within 10s")
	case <-ctx.Done():
		cmd.Process.Kill()
		return nil, ctx.Err()
	}
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
