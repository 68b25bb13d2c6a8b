// Package loadgen measures the lottery end to end: it starts the real
// central binary, drives agencies against it (the real client binaries for
// the course dataset, or many agencies of the real client code in one
// process for national scale), and reports times, throughput, ack
// latencies and the central's peak memory.
package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/health"
)

// Server is a central process started by the benchmark.
type Server struct {
	*harness.Process
	Addr string // where it listens
}

// StartServer runs the central binary bin in dir with env added to the
// benchmark's environment, on a free port of 127.0.0.1, and returns once
// it answers the protocol's health check. It does not depend on the
// central's log, whose level the benchmark may lower: so it cannot let
// the central pick port 0 and read the address from its log.
//
// With tlsCfg (mutual TLS: the probe's certificate, see TLS.Probe) the
// health check speaks TLS; env must then hold the central's TLS settings.
func StartServer(ctx context.Context, bin, dir string, tlsCfg *tls.Config, env ...string) (*Server, error) {
	return StartServerLog(ctx, bin, dir, tlsCfg, io.Discard, env...)
}

// StartServerLog is StartServer with the central's log (its stdout)
// written to log.
func StartServerLog(ctx context.Context, bin, dir string, tlsCfg *tls.Config, log io.Writer, env ...string) (*Server, error) {
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := harness.Start(context.WithoutCancel(ctx), harness.Spec{
		Name: "central", Bin: bin, Dir: dir,
		Env:    append(append(os.Environ(), "SERVER_IP=127.0.0.1", "SERVER_PORT="+port), env...),
		Stdout: log, Stderr: os.Stderr,
	})
	if err != nil {
		return nil, err
	}
	if err := waitServing(ctx, p, addr, tlsCfg); err != nil {
		p.Kill()
		return nil, err
	}
	return &Server{Process: p, Addr: addr}, nil
}

// waitServing waits until the central p answers the health check at addr.
func waitServing(ctx context.Context, p *harness.Process, addr string, tlsCfg *tls.Config) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := health.Check(ctx, addr, time.Second, tlsCfg); err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("central exited before serving: %v", p.Err())
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("central did not serve within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// PeakRSS returns the central's peak resident memory (VmHWM), in bytes.
func (s *Server) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid()))
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
	err := s.Terminate(10 * time.Second)
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		return fmt.Errorf("central exit: %w", err)
	}
	return err
}
