package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/cli"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// settingsIntro says where the central's settings come from, in every
// command's help.
const settingsIntro = `config.ini's [DEFAULT] section (the file -config
names, else config.ini in the working directory, which may be missing);
the environment variable of the same name overrides each key. Every
command reads and checks them all; a bad value stops it with exit 2.
Relative paths are relative to the working directory, not to the file.`

// settingsNote names what the central reads beyond its keys.
const settingsNote = `Also read: GOMEMLIMIT, the soft memory limit (default 52 MiB, plus 48 KiB
per agency with mutual TLS).`

// command is one command of the central: its help, the flags beyond
// -config, and what it runs with the configuration and its arguments.
type command struct {
	help  cli.Command
	flags func(fs *flag.FlagSet) // adds the command's own flags; nil: none
	run   func(ctx context.Context, cfg config.Server, fs *flag.FlagSet) int
}

// withSettings returns c with the central's settings section.
func withSettings(c cli.Command) cli.Command {
	c.SettingsIntro, c.Settings, c.SettingsNote = settingsIntro, config.ServerSettings(), settingsNote
	return c
}

// serverHelp is the help of `server` itself.
var serverHelp = withSettings(cli.Command{
	Synopsis: "server [-config PATH] [-version] [COMMAND [ARGS]]",
	About: `The central of the national lottery: it takes the agencies' bets, holds
the draw once every agency notified (or at DRAW_DEADLINE) and answers each
agency its winners.

Commands (run server COMMAND -h for each one's flags):
  serve                       serve agencies until SIGINT or SIGTERM (the default)
  healthcheck                 ask the running central whether it serves
  verify [PATH | -export PATH]
                              check a store without a central
  backup DIR                  copy the store, live or not, and check the copy
  export PATH                 write the stored bets in the course's bets.csv format
  certs [-dir DIR] [-agencies N] [-name NAME]... [-force]
                              write the lottery's certificates for mutual TLS`,
})

// commands are the central's commands by name.
var commands = map[string]command{
	"serve": {help: cli.Command{Synopsis: "server [-config PATH] serve",
		About: `Serve agencies until SIGINT or SIGTERM; exit 0 after a graceful shutdown,
1 where SERVER_SHUTDOWN_GRACE passed first or the storage failed.`},
		run: noArgs(serve)},
	"healthcheck": {help: cli.Command{Synopsis: "server [-config PATH] healthcheck",
		About: `Ask the central at the address it listens on (SERVER_IP and SERVER_PORT;
127.0.0.1 when SERVER_IP is every address) whether it serves, over mutual
TLS with the probe's certificate where the central requires it. Print
"action: healthcheck | result: success | address: HOST:PORT" and exit 0,
or one line on stderr naming the address and exit 1.`},
		run: noArgs(healthcheck)},
	"verify": {help: cli.Command{Synopsis: "server [-config PATH] verify [PATH | -export PATH]",
		About: `Check a store without a central: the configured one (STORAGE_URL, else
STORAGE_FILEPATH), the file store at PATH, or an export (-export PATH).
Every hash and link, then the draw held again; print each agency's digest
and winners and the draw's digest; exit 0, or 1 naming the problem.`},
		flags: func(fs *flag.FlagSet) {
			fs.String("export", "", "check the export (server export) at this `path` instead of a store")
		},
		run: verifyFlags},
	"backup": {help: cli.Command{Synopsis: "server [-config PATH] backup DIR",
		About: `Copy the store of STORAGE_FILEPATH, while the central runs or not, into
DIR (bets.csv and its journal, never over another copy), then check the
copy as verify does; exit 0 once it checks, or 1.`},
		run: oneArg("backup DIR", app.Backup)},
	"export": {help: cli.Command{Synopsis: "server [-config PATH] export PATH",
		About: `Write the bets the configured store holds to PATH, in the course's
bets.csv format, whole or not at all, never over an existing file; exit 0
or 1.`},
		run: oneArg("export PATH", app.Export)},
}

// noArgs runs op, which takes no argument, and returns its exit status.
func noArgs(op func(context.Context, config.Server) int) func(context.Context, config.Server, *flag.FlagSet) int {
	return func(ctx context.Context, cfg config.Server, fs *flag.FlagSet) int {
		if fs.NArg() > 0 {
			return cli.BadUsage(os.Stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		}
		return op(ctx, cfg)
	}
}

// oneArg runs op, which takes one path (backup DIR, export PATH), and
// returns its exit status.
func oneArg(synopsis string, op func(context.Context, config.Server, string, *slog.Logger) error) func(context.Context, config.Server, *flag.FlagSet) int {
	return func(ctx context.Context, cfg config.Server, fs *flag.FlagSet) int {
		if fs.NArg() != 1 {
			return cli.BadUsage(os.Stderr, fs.Name(), "usage: server "+synopsis)
		}
		if op(ctx, cfg, fs.Arg(0), logging.NewIn(os.Stdout, cfg.LogLevel, cfg.Zone())) != nil {
			return 1 // logged, naming the problem
		}
		return 0
	}
}

// verifyFlags is verify with its -export flag or PATH argument.
func verifyFlags(ctx context.Context, cfg config.Server, fs *flag.FlagSet) int {
	export := fs.Lookup("export").Value.String()
	switch {
	case fs.NArg() > 1, fs.NArg() == 1 && export != "":
		return cli.BadUsage(os.Stderr, fs.Name(), "usage: server verify [PATH | -export PATH]")
	case export != "":
		return verifyCommand(ctx, cfg, []string{"-export", export})
	}
	return verifyCommand(ctx, cfg, fs.Args())
}

// isHelp reports whether args ask for help before any `--`.
func isHelp(args []string) bool {
	end := slices.Index(args, "--")
	if end < 0 {
		end = len(args)
	}
	return slices.ContainsFunc(args[:end], func(a string) bool {
		return a == "-h" || a == "-help" || a == "--help" || a == "--h"
	})
}

// certsHelp is `server certs -h`: the usage and flags of certsCommand,
// then the central's settings, on w.
func certsHelp(w io.Writer) int {
	certsCommand([]string{"-h"}, config.DefaultServer().Agencies, io.Discard, w)
	fmt.Fprintln(w, "\n  -config path\n    \tthe configuration file (before or after certs)")
	fmt.Fprintln(w)
	cli.WriteSettings(w, withSettings(cli.Command{}))
	return 0
}

// takeConfig removes -config PATH (or -config=PATH) from certs' args,
// whose flags certsCommand parses, and returns its value.
func takeConfig(args []string) (string, []string, bool) {
	var rest []string
	path := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return path, append(rest, args[i:]...), true
		case a == "-config" || a == "--config":
			if i+1 >= len(args) {
				return "", nil, false
			}
			path, i = args[i+1], i+1
		case strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config="):
			_, path, _ = strings.Cut(a, "=")
		default:
			rest = append(rest, a)
		}
	}
	return path, rest, true
}
