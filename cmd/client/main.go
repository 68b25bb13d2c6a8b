// Command client is an agency of the national lottery ("agencia de
// quiniela"). It reads config.yaml from its working directory, or the
// file -config PATH names (CLI_* environment variables override it),
// uploads its bets from data.file (or
// the one bet of NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO),
// notifies the central, logs its winners (and writes them to winners.file,
// when set) and exits 0. When the central's DRAW_DEADLINE closed sales
// before the agency notified, it logs how many of its bets the draw took
// and how many it did not (action: corte_sorteo), logs and writes its
// winners among those it took, and exits 3 (exitCutOff). When the central's
// digest of the agency's bets is not the agency's own, it logs
// action: verificacion | result: fail and exits 1; any other failure is
// one fail line and exit 1; a bad configuration or usage, exit 2, as
// for the Compose default address (server:12345) whose name does not
// resolve for 5 s outside Compose (client.ErrComposeAddress). On
// SIGINT or SIGTERM it closes what it holds and exits 0. When its standard
// output is a terminal, it shows a bar of the bets acknowledged on
// standard error.
//
// -h on it or any command lists its flags and every setting (commands.go);
// -version prints the build's version and revision.
//
//	client [run]  run the agency
//	client probe  ask the central at server.address whether it serves (at
//	              any of its addresses, when it has several); print
//	              action: test_server | result: success (or fail)
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/loteria-nacional/quiniela/internal/cli"
	"github.com/loteria-nacional/quiniela/internal/client"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/health"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

const configPath = "config.yaml"

// exitCutOff is the status of an agency that sales closed on before it
// notified (DRAW_DEADLINE): it reported its winners among the bets the
// draw took, but some of its bets may have taken no part. Its own status,
// so that an operator or a script tells it from a complete run (0) and
// from a failure (1) without reading the log.
const exitCutOff = 3

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	defer cli.CPUProfile("CLI_CPU_PROFILE", os.Stderr)()
	top, code, done := cli.ParseTop("client", configPath, "run", clientHelp, args, os.Stdout, os.Stderr)
	if done {
		return code
	}
	configFlag, name, rest := &top.Config, top.Command, top.Args
	if name != "run" && name != "probe" {
		return cli.BadUsage(os.Stderr, "client", fmt.Sprintf("unknown command %q", name))
	}
	if code, done := parseCommand(name, configFlag, rest); done {
		return code
	}
	path, err := cli.ConfigPath(*configFlag, configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return cli.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if name == "probe" {
		return probe(ctx, path)
	}
	return agency(ctx, path)
}

// gcPercent is the agency's GOGC unless the environment sets one. An
// agency allocates little but the bets it keeps between its count pass
// and its upload (a few MB at most: client.keepBets); at the default 100
// the collector runs while they grow and scans them each time, about a
// sixth of a course agency's CPU (BENCHMARKS.md, round 2).
const gcPercent = 400

// agency is `client run`: the agency's whole run, configured from the
// file at path and the environment; it returns the exit status.
func agency(ctx context.Context, path string) int {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 2
	}
	single, err := client.SingleBetFromEnv(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 2
	}
	// A terminal gets a progress bar on stderr; a container or a
	// redirected output, the log lines alone.
	var out io.Writer = os.Stdout
	var opts []client.Option
	var bar *progress
	if isTerminal(os.Stdout) {
		total := int64(1)
		if single == nil {
			total = countBets(cfg.DataFile)
		}
		bar = newProgress(total, os.Stderr, os.Stdout)
		out, opts = bar, append(opts, client.WithObserver(bar))
	}
	log := logging.NewIn(out, cfg.LogLevel, cfg.Zone())
	log.Info("config", append([]any{logging.Success}, cfg.LogAttrs()...)...)

	opts = append(opts, client.WithSingleBet(single))
	res, err := client.New(cfg, log, opts...).Run(ctx)
	if bar != nil {
		bar.finish() // before the last lines, whatever ended the run
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		log.Info("shutdown", logging.Success, "reason", "signal")
		return 0
	case errors.Is(err, client.ErrComposeAddress):
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 2 // a configuration that names no central outside Compose
	case errors.Is(err, client.ErrVerification), errors.Is(err, client.ErrWinnersFile):
		return 1 // the agency logged its verificacion or ganadores_guardados line: one fail line, not two
	default:
		log.Error("agencia", logging.Fail, "error", err)
		return 1
	}
	if res.CutOff {
		log.Info("exit", logging.Success, "status", exitCutOff, "corte_sorteo", true)
		return exitCutOff
	}
	log.Info("exit", logging.Success)
	return 0
}

// loadConfig refuses a misspelt CLI_* variable, which would leave its
// key's default in place, then loads the file at path and the
// environment.
func loadConfig(path string) (config.Client, error) {
	if err := config.CheckEnviron(os.Environ()); err != nil {
		return config.Client{}, err
	}
	return config.LoadClient(path, os.LookupEnv)
}

// probe prints the one line that validar-servidor.sh looks for.
func probe(ctx context.Context, path string) int {
	cfg, err := config.LoadClient(path, os.LookupEnv)
	if err == nil || errors.As(err, new(*config.KeyError)) {
		// The probe needs only server.address, and the tls.* keys where
		// the central requires mutual TLS; other keys may be unset.
		var tlsCfg *tls.Config
		if tlsCfg, err = probeTLS(cfg); err == nil {
			err = probeAny(ctx, cfg, tlsCfg)
		}
	}
	if err != nil {
		fmt.Println("action: test_server | result: fail")
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	fmt.Println("action: test_server | result: success")
	return 0
}

// probeAny asks each address of server.address in turn whether the
// central serves there: one replica that does is enough, as the agency
// fails over to it. When none does, the error names why for each.
func probeAny(ctx context.Context, cfg config.Client, tlsCfg *tls.Config) error {
	var failed error
	for _, addr := range cfg.Addresses() {
		addrTLS := tlsCfg
		if host, _, err := net.SplitHostPort(addr); err == nil && tlsCfg != nil && host != tlsCfg.ServerName {
			addrTLS = tlsCfg.Clone()
			addrTLS.ServerName = host // each replica's certificate is for its own name
		}
		_, err := health.Check(ctx, addr, cfg.ServerTimeout, addrTLS)
		switch {
		case err == nil:
			return nil
		case failed == nil:
			failed = err
		default:
			failed = fmt.Errorf("%w; %w", failed, err)
		}
	}
	return failed
}

// probeTLS is the probe's TLS configuration: the agency's own, where
// config.yaml or CLI_TLS_* set it, for the first address's host; nil
// (plaintext) otherwise.
func probeTLS(cfg config.Client) (*tls.Config, error) {
	if !cfg.TLS() {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(cfg.Addresses()[0])
	if err != nil {
		return nil, err
	}
	return mtls.Client(cfg.TLSCA, cfg.TLSCert, cfg.TLSKey, host)
}
