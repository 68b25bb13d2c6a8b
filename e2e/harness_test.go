package e2e

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// Paths set up by TestMain.
var (
	repoRoot   string // the module's root: the directory that holds go.mod
	serverBin  string
	clientBin  string
	gendataBin string
)

// Deadlines. They are generous: the binaries are fast, but a loaded CI
// machine running -race tests in parallel is not.
const (
	clientTimeout = 45 * time.Second // a client runs a whole lottery
	exitTimeout   = harness.ExitTimeout
	pollInterval  = harness.PollInterval
)

// winnerNumber is the number that wins the draw (lottery.LotteryWinnerNumber).
const winnerNumber = 7574

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "quiniela-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer func() {
		if err := pgtest.StopShared(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		}
	}()
	if err := harness.Build(root, dir, "./cmd/server", "./cmd/client", "./cmd/gendata"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	serverBin = filepath.Join(dir, "server")
	clientBin = filepath.Join(dir, "client")
	gendataBin = filepath.Join(dir, "gendata")
	return m.Run()
}

// startProcess starts bin in dir with args and with env as its whole
// environment besides PATH, HOME and TMPDIR (harness.Env).
func startProcess(t testing.TB, name, bin, dir string, env map[string]string, args ...string) *harness.Process {
	t.Helper()
	return harness.StartT(t, harness.Spec{Name: name, Bin: bin, Dir: dir, Env: harness.Env(env), Args: args})
}

// startServer starts a central in a fresh working directory (see
// harness.StartCentral).
func startServer(t testing.TB, env map[string]string) *harness.Central {
	t.Helper()
	return harness.StartCentral(t, serverBin, env)
}

// clientEnv is the environment of agency id talking to addr.
func clientEnv(id int, addr string, extra map[string]string) map[string]string {
	env := map[string]string{
		"CLI_ID":             strconv.Itoa(id),
		"CLI_SERVER_ADDRESS": addr,
		"CLI_LOG_LEVEL":      "INFO",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startClient starts an agency in a fresh working directory.
func startClient(t testing.TB, name string, env map[string]string) *harness.Process {
	t.Helper()
	return startProcess(t, name, clientBin, t.TempDir(), env)
}

// startAgencies starts agencies 1..n against addr, each with its file
// agency-N.csv in data.
func startAgencies(t testing.TB, addr, data string, n int) []*harness.Process {
	t.Helper()
	clients := make([]*harness.Process, n)
	for i := range clients {
		id := i + 1
		clients[i] = startClient(t, "client-"+strconv.Itoa(id),
			clientEnv(id, addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, id)}))
	}
	return clients
}

// assertAgenciesWon waits for every agency to exit and checks that each
// exited 0 with its own count of winners and logged no failure.
func assertAgenciesWon(t testing.TB, clients []*harness.Process, winners []int) {
	t.Helper()
	for i, c := range clients {
		if code := c.WaitExit(t, clientTimeout); code != 0 {
			t.Errorf("%s exited with %d, want 0", c.Name(), code)
		}
		if got := winnersOf(t, c.Name(), c.Log()); got != winners[i] {
			t.Errorf("%s: cant_ganadores %d, want its own %d", c.Name(), got, winners[i])
		}
		assertCleanLog(t, c.Name(), c.Log())
	}
}

// sum is the sum of ns.
func sum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}

// runClient runs an agency to its end and returns its exit code and log.
func runClient(t testing.TB, name string, env map[string]string) (int, string) {
	t.Helper()
	p := startClient(t, name, env)
	code := p.WaitExit(t, clientTimeout)
	return code, p.Log()
}

// eventually polls cond until it holds, failing the test with what when
// it does not within timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// hasLine reports whether p's log has a line of action and result whose
// fields include kv (key, value, key, value ...).
func hasLine(p *harness.Process, action, result string, kv ...string) bool {
	lines := harness.Filter(p.Lines(), action, result)
	for i := 0; i+1 < len(kv); i += 2 {
		lines = harness.With(lines, kv[i], kv[i+1])
	}
	return len(lines) > 0
}

// assertCleanLog fails the test when a log line has a result other than
// success, fail or in_progress, or when any line is a failure.
func assertCleanLog(t testing.TB, name, out string) {
	t.Helper()
	for _, l := range harness.ParseLog(out) {
		switch l.Result {
		case "success", "in_progress":
		case "fail":
			t.Errorf("%s logged a failure: %s", name, l.Raw)
		default:
			t.Errorf("%s logged a line without a valid result: %s", name, l.Raw)
		}
	}
	if !strings.Contains(out, "action: ") {
		t.Errorf("%s logged nothing", name)
	}
}

// winnersOf returns the cant_ganadores of a client's consulta_ganadores
// line, failing the test unless there is exactly one such line.
func winnersOf(t testing.TB, name, out string) int {
	t.Helper()
	lines := harness.Filter(harness.ParseLog(out), "consulta_ganadores", "success")
	if len(lines) != 1 {
		t.Fatalf("%s: %d consulta_ganadores success lines, want 1; log tail:\n%s", name, len(lines), harness.Tail(out, 20))
	}
	n, err := strconv.Atoi(lines[0].Fields["cant_ganadores"])
	if err != nil {
		t.Fatalf("%s: bad cant_ganadores in %q", name, lines[0].Raw)
	}
	return n
}

// extractDataset writes the course dataset's agency-N.csv files into a
// temporary directory and returns it, skipping the test where the dataset
// is absent.
func extractDataset(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range harness.Dataset(t) {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// genData writes agency-{1..agencies}.csv with cmd/gendata into a
// temporary directory and returns it.
func genData(t testing.TB, agencies int, bets, winners string, seed int) string {
	t.Helper()
	dir := t.TempDir()
	p := startProcess(t, "gendata", gendataBin, dir, nil,
		"-dir", dir, "-agencies", strconv.Itoa(agencies), "-bets", bets, "-winners", winners, "-seed", strconv.Itoa(seed))
	if code := p.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("gendata exited with %d: %s%s", code, p.Log(), p.Stderr())
	}
	return dir
}

// agencyFile is the path of agency id's file in dir.
func agencyFile(dir string, id int) string {
	return filepath.Join(dir, "agency-"+strconv.Itoa(id)+".csv")
}

// bet is one bet as stored: agency,first_name,last_name,document,birthdate,number.
type bet struct {
	Agency                                   int
	FirstName, LastName, Document, Birthdate string
	Number                                   int
}

// key is the bet's identity in a multiset: every field.
func (b bet) key() string {
	return strings.Join([]string{strconv.Itoa(b.Agency), b.FirstName, b.LastName, b.Document, b.Birthdate, strconv.Itoa(b.Number)}, "\x1f")
}

// readAgencyBets reads an agency's file (first_name,last_name,document,
// birthdate,number per line, LF or CRLF) as bets of agency.
func readAgencyBets(t testing.TB, path string, agency int) []bet {
	t.Helper()
	return readCSV(t, path, 5, func(rec []string) (bet, error) {
		n, err := strconv.Atoi(strings.TrimSpace(rec[4]))
		return bet{Agency: agency, FirstName: rec[0], LastName: rec[1], Document: rec[2], Birthdate: rec[3], Number: n}, err
	})
}

// readStoredBets reads the central's bets.csv.
func readStoredBets(t testing.TB, path string) []bet {
	t.Helper()
	return readCSV(t, path, 6, func(rec []string) (bet, error) {
		a, err := strconv.Atoi(rec[0])
		if err != nil {
			return bet{}, err
		}
		n, err := strconv.Atoi(rec[5])
		return bet{Agency: a, FirstName: rec[1], LastName: rec[2], Document: rec[3], Birthdate: rec[4], Number: n}, err
	})
}

func readCSV(t testing.TB, path string, fields int, conv func([]string) (bet, error)) []bet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = fields
	var bets []bet
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return bets
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := conv(rec)
		if err != nil {
			line, _ := r.FieldPos(0)
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		bets = append(bets, b)
	}
}

// multiset counts bets by every field.
func multiset(bets []bet) map[string]int {
	m := make(map[string]int, len(bets))
	for _, b := range bets {
		m[b.key()]++
	}
	return m
}

// diffMultisets describes up to limit differences between want and got.
func diffMultisets(want, got map[string]int, limit int) []string {
	var diffs []string
	add := func(s string) {
		if len(diffs) < limit {
			diffs = append(diffs, s)
		}
	}
	n := 0
	for k, w := range want {
		if g := got[k]; g != w {
			n++
			add(fmt.Sprintf("%q: want %d, stored %d", strings.ReplaceAll(k, "\x1f", ","), w, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			n++
			add(fmt.Sprintf("%q: want 0, stored %d", strings.ReplaceAll(k, "\x1f", ","), g))
		}
	}
	if n > len(diffs) {
		diffs = append(diffs, fmt.Sprintf("... %d differences in all", n))
	}
	return diffs
}

// countLines counts the lines of the file at path.
func countLines(t testing.TB, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}
