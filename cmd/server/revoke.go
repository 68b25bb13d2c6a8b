package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/loteria-nacional/quiniela/internal/certs"
)

const revokeUsage = `usage: server certs revoke [-dir DIR] N...

Revokes agency N's certificate (DIR/agency-N.crt) in the lottery's CRL,
DIR/crl.pem: an X.509 CRL signed by DIR/ca.key, which keeps what the
previous one revoked and takes the next CRL number. Point
SERVER_TLS_REVOKED at it (or at a copy): the central reads it again on
SIGHUP and when the file changes, refuses the agency's next connection
and closes the one it has open. Prints one line per agency and where it
wrote the CRL; exit 0, 1 on an error, 2 on bad usage.

`

// revokeCommand is `server certs revoke`: certs.Revoke with the flags
// and agencies in args.
func revokeCommand(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("server certs revoke", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, revokeUsage)
		flags.PrintDefaults()
	}
	dir := flags.String("dir", "certs", "the directory of the certificates, with the CA's key")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var agencies []int
	for _, a := range flags.Args() {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "server certs revoke: %q is not an agency number\n", a)
			return 2
		}
		agencies = append(agencies, n)
	}
	if len(agencies) == 0 {
		fmt.Fprint(stderr, "server certs revoke: which agency? ")
		flags.Usage()
		return 2
	}
	r, err := certs.Revoke(*dir, agencies, time.Time{})
	if err != nil {
		fmt.Fprintf(stderr, "server certs revoke: %v\n", err)
		return 1
	}
	for _, a := range r.Revoked {
		status := "revoked"
		if a.Already {
			status = "already_revoked"
		}
		fmt.Fprintf(stdout, "%s identity=%s serial=%s\n", status, a.Identity, a.Serial)
	}
	fmt.Fprintf(stdout, "wrote %s crl_number=%v revoked=%d next_update=%s\n", r.Path, r.Number, r.Total, r.NextUpdate.UTC().Format(time.RFC3339))
	return 0
}
