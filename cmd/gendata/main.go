// Command gendata writes deterministic sample bet files for the agencies,
// DIR/agency-I.csv for I in 1..AGENCIES, in the format the agencies upload:
// first_name,last_name,document,birthdate,number per line, no header.
//
// Usage:
//
//	gendata [-dir .data] [-agencies 5] [-bets 1000] [-winners 2,3,3,2,0] [-seed 1] [-missing-only]
//
// -bets and -winners take one value for every agency or a comma-separated
// list with one value per agency, such as -bets 26936,25518,16014,9238,991.
// When -winners is not given, its default list is repeated or cut to fit
// the number of agencies. Winners beyond an agency's bets are clamped.
//
// It prints one log line per file on stdout, in the operators' format,
//
//	action: gendata | result: success | file: .data/agency-1.csv | bets: 1000 | winners: 2
//
// or "| skipped: exists" in place of the counts for a file that
// -missing-only keeps. Bad flags print one line on stderr and exit with
// status 2; a failure to write a file logs a result: fail line on stderr and
// exits with status 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// defaultWinners is the winners of each agency when -winners is not given,
// repeated for agencies beyond its length.
var defaultWinners = []int{2, 3, 3, 2, 0}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, flags, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		flags.SetOutput(stderr)
		flags.Usage()
		return 0
	}
	if err != nil {
		return usageError(stderr, err)
	}
	return writeFiles(opts, stdout, stderr)
}

// options are gendata's flags, checked and expanded to one value an agency.
type options struct {
	dir         string
	bets        []int
	winners     []int
	seed        int64
	missingOnly bool
}

// parseFlags parses args and expands -bets and -winners to one value an
// agency. Its errors are the user's: run prints them as usage errors.
func parseFlags(args []string) (options, *flag.FlagSet, error) {
	var opts options
	flags := flag.NewFlagSet("gendata", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.StringVar(&opts.dir, "dir", ".data", "directory to write agency-I.csv files into")
	agencies := flags.Int("agencies", 5, "number of agencies")
	betsList := flags.String("bets", "1000", "bets per agency: one value, or a comma-separated list, one per agency")
	winnersList := flags.String("winners", "2,3,3,2,0", "winners per agency: one value, or a comma-separated list, one per agency")
	flags.Int64Var(&opts.seed, "seed", 1, "seed of the pseudo-random data")
	flags.BoolVar(&opts.missingOnly, "missing-only", false, "only write files that do not exist yet")
	if err := flags.Parse(args); err != nil {
		return opts, flags, err
	}
	if flags.NArg() > 0 {
		return opts, flags, fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if *agencies < 1 {
		return opts, flags, fmt.Errorf("-agencies %d: need at least 1", *agencies)
	}
	var err error
	if opts.bets, err = sampledata.PerAgency(*betsList, *agencies); err != nil {
		return opts, flags, fmt.Errorf("-bets: %w", err)
	}
	opts.winners = make([]int, *agencies)
	if !isSet(flags, "winners") {
		for i := range opts.winners {
			opts.winners[i] = defaultWinners[i%len(defaultWinners)]
		}
	} else if opts.winners, err = sampledata.PerAgency(*winnersList, *agencies); err != nil {
		return opts, flags, fmt.Errorf("-winners: %w", err)
	}
	return opts, flags, nil
}

// writeFiles writes the agencies' files, logging one line a file, and
// returns the exit status: 1 at the first file it cannot write.
func writeFiles(opts options, stdout, stderr io.Writer) int {
	for i := range opts.bets {
		agency := i + 1
		path := filepath.Join(opts.dir, "agency-"+strconv.Itoa(agency)+".csv")
		if opts.missingOnly {
			_, err := os.Stat(path)
			if err == nil {
				logLine(stdout, "gendata", "success", "file", path, "skipped", "exists")
				continue
			}
			if !errors.Is(err, fs.ErrNotExist) {
				logLine(stderr, "gendata", "fail", "file", path, "error", err.Error())
				return 1
			}
		}
		spec := sampledata.Spec{Agency: agency, Bets: opts.bets[i], Winners: opts.winners[i], Seed: opts.seed}.Clamped()
		if err := sampledata.WriteFile(path, spec); err != nil {
			logLine(stderr, "gendata", "fail", "file", path, "error", err.Error())
			return 1
		}
		logLine(stdout, "gendata", "success", "file", path,
			"bets", strconv.Itoa(spec.Bets), "winners", strconv.Itoa(spec.Winners))
	}
	return 0
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "gendata: %s (see gendata -h)\n", oneLine(err.Error()))
	return 2
}

func isSet(flags *flag.FlagSet, name string) bool {
	set := false
	flags.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// logLine writes one line in the project's log format,
// "action: A | result: R | key: value | ...". A '|' or newline in a value
// is replaced so that the line keeps its shape.
func logLine(w io.Writer, action, result string, kv ...string) {
	var b strings.Builder
	b.WriteString("action: " + oneLine(action) + " | result: " + oneLine(result))
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(" | " + oneLine(kv[i]) + ": " + oneLine(kv[i+1]))
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}

var oneLineReplacer = strings.NewReplacer("|", "/", "\n", " ", "\r", " ")

func oneLine(s string) string {
	return oneLineReplacer.Replace(s)
}
