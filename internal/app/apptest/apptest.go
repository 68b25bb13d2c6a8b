// Package apptest runs the whole central, app.Main, in-process for tests:
// the wiring cmd/server runs, over a store in the test's temporary
// directory, on a free port of 127.0.0.1, until the test ends. Tests that
// need a real central use it rather than wire storage, the domain and the
// server by hand, so that what they test is what deploys.
package apptest

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// stopTimeout bounds the wait for Run to return once its context is
// cancelled.
const stopTimeout = 5 * time.Second

// Central is a central started by Start. Its Main's accessors (Addr,
// Central, Server, Store) are valid until Stop.
type Central struct {
	*app.Main
	// Config is what it runs with, StoragePath filled in.
	Config config.Server
	// Log holds its log lines, at Config.LogLevel.
	Log *harness.Buffer

	cancel context.CancelFunc
	done   chan error // Run's error
	once   sync.Once
	t      testing.TB
}

// Config returns the defaults for a central of agencies that listens on
// a free port of 127.0.0.1.
func Config(agencies int) config.Server {
	cfg := config.DefaultServer()
	cfg.IP, cfg.Port, cfg.Agencies = "127.0.0.1", 0, agencies
	cfg.StoragePath = ""
	return cfg
}

// Start runs a central for cfg and returns once it listens. An empty
// cfg.StoragePath is bets.csv in a new t.TempDir(). Each of seams, in
// order, may set Main's seams before Run (a Ready of theirs is called
// too). The central stops when the test ends, or at Stop; the test
// fails if it cannot start.
func Start(t testing.TB, cfg config.Server, seams ...func(*app.Main)) *Central {
	t.Helper()
	if cfg.StoragePath == "" {
		cfg.StoragePath = filepath.Join(t.TempDir(), "bets.csv")
	}
	c := &Central{Config: cfg, Log: &harness.Buffer{}, done: make(chan error, 1), t: t}
	c.Main = app.NewMain(cfg, logging.NewIn(c.Log, cfg.LogLevel, cfg.Zone()))
	for _, set := range seams {
		set(c.Main)
	}
	ready := make(chan struct{})
	theirs := c.Ready
	c.Ready = func(addr net.Addr) {
		if theirs != nil {
			theirs(addr)
		}
		close(ready)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.done <- c.Run(ctx) }()
	select {
	case <-ready:
	case err := <-c.done:
		cancel()
		c.Close()
		t.Fatalf("the central did not start: %v; log:\n%s", err, c.Log)
	}
	t.Cleanup(c.Stop)
	return c
}

// Stop cancels the central's context, waits for Run to return, and
// closes it, as cmd/server does at SIGTERM. The test fails if Run
// returns anything but the cancel, or Close fails. Calling it again does
// nothing.
func (c *Central) Stop() {
	c.once.Do(func() {
		err, closeErr := c.shutdown()
		if err != nil && !errors.Is(err, context.Canceled) {
			c.t.Errorf("Run: %v", err)
		}
		if closeErr != nil {
			c.t.Errorf("Close: %v", closeErr)
		}
	})
}

// Shutdown is Stop for tests of the shutdown itself: it cancels the
// central's context, waits for Run to return, closes it, and returns
// what Run and Close returned, without judging them. After it, Stop does
// nothing.
func (c *Central) Shutdown() (run, close error) {
	c.once.Do(func() { run, close = c.shutdown() })
	return run, close
}

// shutdown cancels the central, waits for Run and closes it. A Run that
// does not return within stopTimeout (a shutdown that hangs) fails the
// test, which then waits for it all the same.
func (c *Central) shutdown() (run, close error) {
	c.cancel()
	select {
	case run = <-c.done:
	case <-time.After(stopTimeout):
		c.t.Errorf("Run did not return within %v of its cancel", stopTimeout)
		run = <-c.done
	}
	return run, c.Close()
}

// Address is the agencies' address, as an agency's configuration
// takes it.
func (c *Central) Address() string { return c.Addr().String() }
