package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
)

const certsUsage = `usage: server certs [-dir DIR] [-agencies N] [-name NAME]... [-force]
       server certs revoke [-dir DIR] N...   (see server certs revoke -h)

Writes the lottery's certificates into DIR: ca.crt and ca.key (the CA; its
key stays in DIR, never mounted into a container), central.crt/.key,
agency-N.crt/.key for agencies 1..N, probe.crt/.key. Files already there
are kept; -force issues the central's, the agencies' and the probe's again,
with new keys, but never the CA (a new CA is a new lottery: delete ca.crt
and ca.key by hand). Prints one line per file, made or kept, with its
certificate's serial; exit 0, 1 on an error, 2 on bad usage.

`

// certsCommand is `server certs`: certs.Make with the flags in args.
// agencies is AGENCIES_AMOUNT, the default of -agencies. It prints one line
// per file made or kept on stdout, never key material; on an error, one
// line on stderr.
func certsCommand(args []string, agencies int, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "revoke" {
		return revokeCommand(args[1:], stdout, stderr)
	}
	flags := flag.NewFlagSet("server certs", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, certsUsage)
		flags.PrintDefaults()
	}
	dir := flags.String("dir", "certs", "the directory of the certificates; created 0700 when missing")
	n := flags.Int("agencies", agencies, "agencies 1..N get a certificate; its default is AGENCIES_AMOUNT")
	var names nameList
	flags.Var(&names, "name", "a name the central is reached by, beyond server, localhost and 127.0.0.1: a host name or an IP address; repeat it or separate names with commas")
	force := flags.Bool("force", false, "issue the central's, the agencies' and the probe's certificates again, with new keys (never the CA's)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "server certs: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	opts := certs.Options{Dir: *dir, Agencies: *n, Names: names, Force: *force}
	if err := opts.Check(); err != nil {
		fmt.Fprintf(stderr, "server certs: %v\n", err)
		return 2
	}
	r, err := certs.Make(opts)
	// What was written before an error is reported too: it is there.
	now := time.Now()
	for _, f := range r.Files {
		status := "kept"
		if f.Made {
			status = "made"
		}
		line := fmt.Sprintf("%s %s identity=%s serial=%s not_after=%s", status, filepath.Join(r.Dir, f.Name),
			f.Holder, f.Serial, f.NotAfter.UTC().Format(time.RFC3339))
		if !now.Before(f.NotAfter) {
			line += " expired"
		}
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		fmt.Fprintf(stderr, "server certs: %v\n", err)
		return 1
	}
	return 0
}

// nameList is the -name flag: repeated, or names separated by commas.
type nameList []string

func (l *nameList) String() string { return strings.Join(*l, ",") }

func (l *nameList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if err := certs.CheckName(name); err != nil {
			return err
		}
		*l = append(*l, name)
	}
	return nil
}
