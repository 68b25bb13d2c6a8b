package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/loteria-nacional/quiniela/internal/cli"
	"github.com/loteria-nacional/quiniela/internal/config"
)

// settingsIntro says where an agency's settings come from, in every
// command's help.
const settingsIntro = `config.yaml (the file -config names, else config.yaml in
the working directory, which may be missing); each key's CLI_* variable
overrides it. A bad value stops the agency with exit 2. Relative paths
(data.file, winners.file, tls.*) are relative to the working directory,
not to the file.`

// settingsNote names what the agency reads beyond its keys.
const settingsNote = `Also read: NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO, all or none:
the single-bet mode, which sends that one bet instead of data.file; GOGC, the
garbage collector's target (default 400 for an agency, which keeps a small
file's bets between its count pass and its upload).`

// withSettings returns c with the agency's settings section.
func withSettings(c cli.Command) cli.Command {
	c.SettingsIntro, c.Settings, c.SettingsNote = settingsIntro, config.ClientSettings(), settingsNote
	return c
}

const exitStatuses = `Exit status: 0 complete (also on SIGINT or SIGTERM); 1 failed, one fail
line says why; 2 bad configuration or usage; 3 cut by the central's
DRAW_DEADLINE, its winners reported for the bets the draw took.`

// clientHelp is the help of `client` itself.
var clientHelp = withSettings(cli.Command{
	Synopsis: "client [-config PATH] [-version] [run | probe]",
	About: `An agency of the national lottery: it uploads its bets to the central,
notifies it, and logs its winners once the draw is held.

Commands (run client COMMAND -h for each one's flags):
  run     upload, notify and report the winners (the default)
  probe   ask the central at server.address whether it serves

` + exitStatuses,
})

// runHelp is the help of `client run`.
var runHelp = withSettings(cli.Command{
	Synopsis: "client [-config PATH] run",
	About: `Upload the agency's bets (data.file, or the single bet of NOMBRE...),
resuming from what the central holds, notify the central, log the winners
and write them to winners.file when set.

` + exitStatuses,
})

// probeHelp is the help of `client probe`.
var probeHelp = withSettings(cli.Command{
	Synopsis: "client [-config PATH] probe",
	About: `Ask the central at server.address (each of its addresses in turn, when
it has several) whether it serves, with the agency's certificate where
tls.* is set. It reads server.address, server.timeout and tls.*; other
keys may be unset. Print "action: test_server | result: success" and exit
0 when one address answers, or "action: test_server | result: fail" with
the reason on stderr and exit 1.`,
})

// parseCommand parses the flags of `client run` or `client probe`
// (-config, which may come before the command too). It reports done with
// the exit status where the command should not run.
func parseCommand(name string, configFlag *string, args []string) (code int, done bool) {
	help := runHelp
	if name == "probe" {
		help = probeHelp
	}
	fs := flag.NewFlagSet("client "+name, flag.ContinueOnError)
	fs.StringVar(configFlag, "config", *configFlag, cli.ConfigUsage(configPath))
	if code, done := cli.Parse(fs, help, args, os.Stdout, os.Stderr); done {
		return code, true
	}
	if fs.NArg() > 0 {
		return cli.BadUsage(os.Stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0))), true
	}
	return 0, false
}
