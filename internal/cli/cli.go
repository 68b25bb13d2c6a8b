// Package cli is the command-line conventions that bin/server and
// bin/client share: -h, -help and --help print a command's usage, what it
// does, its flags and every setting it reads, on standard output, and
// exit 0; a bad flag or argument prints the error and the usage on
// standard error and exits 2 (ExitUsage); -config PATH names the
// configuration file. The settings come from internal/config's own
// tables (config.ServerSettings, config.ClientSettings), so the help
// cannot drift from what the loader reads.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/buildinfo"
	"github.com/loteria-nacional/quiniela/internal/config"
)

// ExitUsage is the status of a bad flag, argument or configuration, as
// both binaries have always used it.
const ExitUsage = 2

// Command is what a command's help says.
type Command struct {
	Synopsis string // "server verify [-config PATH] [PATH | -export PATH]"
	About    string // what it does, one paragraph or more, each line as printed
	// Settings is the section of the settings it reads: SettingsIntro,
	// then each key, then SettingsNote (other variables it reads).
	SettingsIntro string
	Settings      []config.Setting
	SettingsNote  string
}

// Parse parses args into fs. It reports done with the exit status where
// the command should not run: 0 after printing the help that -h, -help
// or --help asked for on stdout, ExitUsage after a bad flag, its error
// and the usage on stderr.
func Parse(fs *flag.FlagSet, c Command, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // Parse prints what is due itself
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		Help(stdout, fs, c)
		return 0, true
	case err != nil:
		Usage(stderr, fs.Name())
		return ExitUsage, true
	}
	return 0, false
}

// Usage writes the line that follows an error of usage: where the help
// is.
func Usage(w io.Writer, name string) {
	fmt.Fprintf(w, "run %s -h for its usage, flags and settings\n", name)
}

// BadUsage writes msg and where the help is on stderr, and returns
// ExitUsage: the one answer to an unknown command or a wrong argument.
func BadUsage(stderr io.Writer, name, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n", name, msg)
	Usage(stderr, name)
	return ExitUsage
}

// Help writes c's whole help: synopsis, what it does, flags, settings.
func Help(w io.Writer, fs *flag.FlagSet, c Command) {
	fmt.Fprintf(w, "usage: %s\n\n", c.Synopsis)
	if c.About != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimRight(c.About, "\n"))
	}
	if hasFlags(fs) {
		fmt.Fprintln(w, "Flags:")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
		fmt.Fprintln(w)
	}
	WriteSettings(w, c)
}

// WriteSettings writes c's settings section.
func WriteSettings(w io.Writer, c Command) {
	if len(c.Settings) == 0 {
		return
	}
	fmt.Fprintf(w, "Settings: %s\n", c.SettingsIntro)
	config.WriteSettings(w, c.Settings)
	if c.SettingsNote != "" {
		fmt.Fprintf(w, "%s\n", c.SettingsNote)
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	return has
}

// ConfigPath is the configuration file to read: flagValue where -config
// named one, which must then exist (a missing default file only leaves
// the defaults, as it always has); else def, in the working directory.
func ConfigPath(flagValue, def string) (string, error) {
	if flagValue == "" {
		return def, nil
	}
	if _, err := os.Stat(flagValue); err != nil {
		return "", fmt.Errorf("-config: %w", err)
	}
	return flagValue, nil
}

// Top is what a binary's arguments before its command say: the
// configuration file (-config) and the command, with its own arguments.
type Top struct {
	Config  string   // -config's path; empty for the default file
	Command string   // the command named, or the binary's default
	Args    []string // the command's arguments
}

// ParseTop parses a binary's flags before its command (-config,
// -version, -h) and splits off the command, def where none is named. It
// reports done with the exit status where the binary has nothing more to
// do: its help or its version printed, or a bad flag.
func ParseTop(name, defaultConfig, def string, c Command, args []string, stdout, stderr io.Writer) (top Top, code int, done bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&top.Config, "config", "", ConfigUsage(defaultConfig))
	showVersion := fs.Bool("version", false, "print the version and the revision it was built from, and exit")
	if code, done := Parse(fs, c, args, stdout, stderr); done {
		return top, code, true
	}
	if *showVersion {
		fmt.Fprintln(stdout, buildinfo.Read().Line(name))
		return top, 0, true
	}
	top.Command, top.Args = def, fs.Args()
	if len(top.Args) > 0 {
		top.Command, top.Args = top.Args[0], top.Args[1:]
	}
	return top, 0, false
}

// ConfigUsage is -config's usage line, the file read without it being
// defaultConfig in the working directory.
func ConfigUsage(defaultConfig string) string {
	return "read the configuration from this `path` (default " + defaultConfig + " in the working directory)"
}
