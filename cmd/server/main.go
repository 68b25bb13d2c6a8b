// Command server is the central of the national lottery ("central de
// Lotería Nacional"). It reads config.ini from its working directory, or
// the file -config PATH names (every key may be overridden by an
// environment variable of the same name), serves agencies until SIGINT or
// SIGTERM (SIGHUP reads the revocation list again, SERVER_TLS_REVOKED),
// and exits 0 after a
// graceful shutdown; 1 where the shutdown's grace period
// (SERVER_SHUTDOWN_GRACE) passed before the requests in flight were
// answered, saying what it abandoned.
//
// -h on it or any command lists its flags and every setting (commands.go);
// -version prints the build's version and revision.
//
//	server [serve]      serve
//	server healthcheck  ask the central at the address it listens on (SERVER_IP,
//	                    or 127.0.0.1 when that is every address) whether it
//	                    serves; print action: healthcheck | result: success,
//	                    exit 0, or 1
//	server verify [path]
//	                    check the store (STORAGE_FILEPATH, or path) without a
//	                    central: every hash and link, then the draw held
//	                    again; print each agency's digest and winners and
//	                    the draw's digest; exit 0, or 1 naming the problem
//	server backup DIR   copy the store (STORAGE_FILEPATH), while the central
//	                    runs or not, into DIR (bets.csv and its journal,
//	                    never over another copy), then check the copy as
//	                    verify does; exit 0 once it checks, or 1
//	server certs [-dir certs] [-agencies N] [-name NAME]... [-force]
//	                    write the lottery's CA and the central's, the
//	                    agencies' (1..N, default AGENCIES_AMOUNT) and the
//	                    probe's certificates into the directory, keeping
//	                    those there; one line per file; exit 0, 1 or 2
//	server certs revoke [-dir certs] N...
//	                    revoke agency N's certificate in the directory's
//	                    CRL, crl.pem (signed by its ca.key, the next CRL
//	                    number); say where it wrote it; exit 0, 1 or 2
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/cli"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/health"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

const configPath = "config.ini"

// The draw waits, after its sorteo line and before answering any agency,
// until the reader of the central's stdout (Docker's log driver, where it
// is a pipe) has taken the line, then, where that reader is Docker's,
// drawLogSettle more for the engine to stamp it, at most drawLogLimit in
// all: the merged log of compose then shows the draw before any agency's
// winners. A terminal or a file needs no wait (see logging.AfterWrite);
// another pipe's reader (a supervisor, a test harness) is taken to be the
// one that stamps, and the draw waits only for it to read. 25 ms left one
// disorder in 20 lotteries (TestComposeDrawLoggedBeforeWinners, a clean
// CI run): the engine stamps the line a few ms after the pipe is read,
// rarely 25 ms later; 50 ms is paid once per lottery, in Docker only.
const (
	drawLogSettle = 50 * time.Millisecond
	drawLogLimit  = time.Second
)

// dockerEnv is the file Docker's engine puts at the root of every
// container's file system, FROM scratch ones included; initStdout is the
// container's first process's stdout, the pipe Docker's log driver reads.
const (
	dockerEnv  = "/.dockerenv"
	initStdout = "/proc/1/fd/1"
)

// drawLogSettleFor is the settle of the draw's wait (see drawLogSettle):
// drawLogSettle where stdout is the pipe of Docker's log driver, that is
// in a container (marker exists) as its first process (pid 1, as in every
// compose file here) or with the first process's stdout (initOut, where
// it can be read); none elsewhere.
func drawLogSettleFor(stdout *os.File, marker, initOut string, pid int) time.Duration {
	if _, err := os.Stat(marker); err != nil {
		return 0
	}
	if pid == 1 {
		return drawLogSettle
	}
	own, err := stdout.Stat()
	if err != nil {
		return 0
	}
	if docker, err := os.Stat(initOut); err == nil && os.SameFile(own, docker) {
		return drawLogSettle
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	defer cli.CPUProfile("SERVER_CPU_PROFILE", os.Stderr)()
	top, code, done := cli.ParseTop("server", configPath, "serve", serverHelp, args, os.Stdout, os.Stderr)
	if done {
		return code
	}
	configFlag, name, rest := &top.Config, top.Command, top.Args
	if name == "certs" {
		return certsWithConfig(*configFlag, rest)
	}
	cmd, ok := commands[name]
	if !ok {
		return cli.BadUsage(os.Stderr, "server", fmt.Sprintf("unknown command %q", name))
	}
	fs := flag.NewFlagSet("server "+name, flag.ContinueOnError)
	fs.StringVar(configFlag, "config", *configFlag, cli.ConfigUsage(configPath))
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if code, done := cli.Parse(fs, withSettings(cmd.help), rest, os.Stdout, os.Stderr); done {
		return code
	}
	cfg, err := loadConfig(*configFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		return cli.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, cfg, fs)
}

// certsWithConfig is `server certs`, whose flags certsCommand parses: -h lists
// them and the settings; -config may come after certs too.
func certsWithConfig(configFlag string, args []string) int {
	if isHelp(args) {
		return certsHelp(os.Stdout)
	}
	path, args, ok := takeConfig(args)
	if !ok {
		return cli.BadUsage(os.Stderr, "server certs", "flag needs an argument: -config")
	}
	if path == "" {
		path = configFlag
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		return cli.ExitUsage
	}
	return certsCommand(args, cfg.Agencies, os.Stdout, os.Stderr)
}

// loadConfig refuses a misspelt SERVER_* variable, which would leave
// its key's default in place, then loads the configuration file (-config
// PATH, else config.ini in the working directory) and the environment.
func loadConfig(configFlag string) (config.Server, error) {
	if err := config.CheckEnviron(os.Environ()); err != nil {
		return config.Server{}, err
	}
	path, err := cli.ConfigPath(configFlag, configPath)
	if err != nil {
		return config.Server{}, err
	}
	return config.LoadServer(path, os.LookupEnv)
}

// verifyCommand checks a store without a central: the configured one
// (the database at STORAGE_URL, or the file at STORAGE_FILEPATH), the file
// store at PATH, or an export with -export PATH. It returns the exit code;
// the verify line has named any problem.
func verifyCommand(ctx context.Context, cfg config.Server, args []string) int {
	log := logging.NewIn(os.Stdout, cfg.LogLevel, cfg.Zone())
	var err error
	switch {
	case len(args) == 0 && cfg.StorageURL != "":
		err = app.VerifyDatabase(ctx, cfg.StorageURL, cfg.StorageURLRedacted(), cfg.Agencies, log)
	case len(args) == 0:
		err = app.Verify(ctx, cfg.StoragePath, cfg.Agencies, log)
	case len(args) == 1 && args[0] != "-export":
		err = app.Verify(ctx, args[0], cfg.Agencies, log)
	case len(args) == 2 && args[0] == "-export":
		err = app.VerifyExport(ctx, args[1], cfg.Agencies, log)
	default:
		fmt.Fprintln(os.Stderr, "usage: server verify [PATH | -export PATH]")
		return 2
	}
	if err != nil {
		return 1
	}
	return 0
}

// serve runs the central until ctx is done, and returns the exit code.
func serve(ctx context.Context, cfg config.Server) int {
	log := logging.NewIn(os.Stdout, cfg.LogLevel, cfg.Zone())
	log.Info("config", append([]any{logging.Success}, cfg.LogAttrs()...)...)
	setMemoryLimit(cfg, containerMemory(cgroupMemory), log)
	m := app.NewMain(cfg, log)
	m.AfterDrawLogged = logging.AfterWrite(os.Stdout, drawLogSettleFor(os.Stdout, dockerEnv, initStdout, os.Getpid()), drawLogLimit)
	defer reloadOnHangup(ctx, m)()
	err := m.Run(ctx)
	closeErr := m.Close() // logs each close, what failed, and what the shutdown abandoned
	if errors.Is(err, app.ErrLedgerFailed) {
		return 1 // logged once, by the storage
	}
	if errors.Is(err, app.ErrShutdownAbandoned) || errors.Is(closeErr, app.ErrShutdownAbandoned) {
		return 1 // SERVER_SHUTDOWN_GRACE passed: logged once, by Close
	}
	if err != nil && ctx.Err() == nil {
		log.Error("server", logging.Fail, "error", err)
		return 1
	}
	log.Info("exit", logging.Success)
	return 0
}

// reloadOnHangup has SIGHUP read SERVER_TLS_REVOKED again
// (app.Main.ReloadRevocation) rather than end the central, until ctx is
// done or the returned stop is called.
func reloadOnHangup(ctx context.Context, m *app.Main) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			select {
			case <-hup:
				m.ReloadRevocation()
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
	}
}

// healthcheck asks the central whether it serves, and returns the exit
// code. The probe dials where the central listens: SERVER_IP, unless
// that is every address (see config.Server.ProbeAddress). Its one line
// names the address and the SERVER_IP it came from, which is what an
// operator reading `docker inspect` has to fix.
func healthcheck(ctx context.Context, cfg config.Server) int {
	probeTLS, err := probeTLS(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: healthcheck: %v\n", err)
		return 1
	}
	if _, err := health.Check(ctx, cfg.ProbeAddress(), 2*time.Second, probeTLS); err != nil {
		fmt.Fprintf(os.Stderr, "server: %v (SERVER_IP=%q)\n", err, cfg.IP)
		return 1
	}
	fmt.Printf("action: healthcheck | result: success | address: %s\n", cfg.ProbeAddress())
	return 0
}

// probeTLS is the health check's TLS configuration where the central
// requires mutual TLS: the probe's certificate (SERVER_TLS_PROBE_CERT and
// _KEY), trusting the lottery CA, and the central's certificate checked
// for the host it dials. Nil in plaintext.
func probeTLS(cfg config.Server) (*tls.Config, error) {
	if !cfg.TLS() {
		return nil, nil
	}
	if cfg.TLSProbeCert == "" {
		return nil, errors.New("the central requires mutual TLS: set SERVER_TLS_PROBE_CERT and SERVER_TLS_PROBE_KEY to the probe's certificate (server certs writes probe.crt and probe.key)")
	}
	host, _, err := net.SplitHostPort(cfg.ProbeAddress())
	if err != nil {
		return nil, err
	}
	return mtls.Client(cfg.TLSClientCA, cfg.TLSProbeCert, cfg.TLSProbeKey, host)
}
