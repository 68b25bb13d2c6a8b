// Command server is the central of the national lottery ("central de
// Lotería Nacional"). It reads config.ini from its working directory
// (every key may be overridden by an environment variable of the same
// name), serves agencies until SIGINT or SIGTERM, and exits 0 after a
// graceful shutdown.
//
//	server              serve
//	server healthcheck  ask the central on this host whether it serves; exit 0 or 1
package main

import (
	"context"
	"fmt"
	"net/http"
	_ "net/http/pprof" // served only where SERVER_PPROF_ADDRESS is set
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/health"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/server"
)

const configPath = "config.ini"

// The draw waits, after its sorteo line and before answering any agency,
// until the reader of the central's stdout (Docker's log driver, where it
// is a pipe) has taken the line, then drawLogSettle more for the engine to
// stamp it, at most drawLogLimit in all: the merged log of compose then
// shows the draw before any agency's winners. A terminal or a file needs
// no wait.
const (
	drawLogSettle = 10 * time.Millisecond
	drawLogLimit  = time.Second
)

// memoryLimit is the central's default soft memory limit (GOMEMLIMIT
// overrides it). What the central keeps is bounded (see
// server.MaxBatchesInFlight), so this costs little CPU.
const memoryLimit = 52 << 20

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := config.LoadServer(configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if len(args) > 0 {
		if args[0] != "healthcheck" || len(args) > 1 {
			fmt.Fprintln(os.Stderr, "usage: server [healthcheck]")
			return 2
		}
		// TEMP: the central listens on SERVER_IP; probe that address, and
		// the loopback only where it listens on every address.
		addr := cfg.Address()
		switch cfg.IP {
		case "", "0.0.0.0", "::":
			addr = "127.0.0.1:" + strconv.Itoa(cfg.Port)
		}
		if _, err := health.Check(ctx, addr, 2*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "server: %v\n", err)
			return 1
		}
		return 0
	}

	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// A soft limit: the garbage collector works harder as the heap
		// nears it, rather than let it grow to twice what is live.
		debug.SetMemoryLimit(memoryLimit)
	}
	log := logging.New(os.Stdout, cfg.LogLevel)
	log.Info("config", append([]any{logging.Success}, cfg.LogAttrs()...)...)
	if cfg.PprofAddress != "" {
		// For profiling only: never on a deployed central's network.
		go func() {
			err := http.ListenAndServe(cfg.PprofAddress, nil)
			log.Error("pprof", logging.Fail, "address", cfg.PprofAddress, "error", err)
		}()
	}
	afterDraw := lottery.AfterDrawLogged(logging.AfterWrite(os.Stdout, drawLogSettle, drawLogLimit))
	if err := server.Run(ctx, cfg, log, nil, afterDraw); err != nil {
		log.Error("server", logging.Fail, "error", err)
		return 1
	}
	log.Info("exit", logging.Success)
	return 0
}
