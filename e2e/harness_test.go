package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/loadgen"
	"github.com/loteria-nacional/quiniela/internal/logging"
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
	startTimeout  = 10 * time.Second // a server logs that it listens
	clientTimeout = 45 * time.Second // a client runs a whole lottery
	exitTimeout   = 5 * time.Second  // a process exits after SIGTERM
	pollInterval  = 10 * time.Millisecond
)

// winnerNumber is the number that wins the draw (lottery.LotteryWinnerNumber).
const winnerNumber = 7574

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	root, err := findRepoRoot()
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
	if err := buildBinaries(root, dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	serverBin = filepath.Join(dir, "server")
	clientBin = filepath.Join(dir, "client")
	gendataBin = filepath.Join(dir, "gendata")
	return m.Run()
}

// findRepoRoot walks up from the working directory (e2e/ under go test)
// to the directory that holds go.mod.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// buildBinaries builds the three commands once, static, into dir.
func buildBinaries(root, dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go tool not found: %w", err)
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", dir+string(os.PathSeparator),
		"./cmd/server", "./cmd/client", "./cmd/gendata")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use: a process writes
// it while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running binary.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer // the log: both binaries log to stdout
	stderr *syncBuffer
	done   chan struct{} // closed once the process has exited and its output is read

	// Set before done is closed.
	exitCode int // -1 when killed by a signal
	waitErr  error
}

// Log returns what the process wrote to stdout so far.
func (p *proc) Log() string { return p.stdout.String() }

// Stderr returns what the process wrote to stderr so far.
func (p *proc) Stderr() string { return p.stderr.String() }

// Lines returns the parsed log lines written so far.
func (p *proc) Lines() []logLine { return parseLog(p.Log()) }

// Signal sends sig to the process.
func (p *proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Exited reports whether the process has exited.
func (p *proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code; ok is false when it is still running.
func (p *proc) Wait(timeout time.Duration) (code int, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitCode, true
	case <-timer.C:
		return 0, false
	}
}

// waitExit waits up to timeout for the process to exit and returns its
// exit code, failing the test when it does not.
func (p *proc) waitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()
	code, ok := p.Wait(timeout)
	if !ok {
		t.Fatalf("%s did not exit within %v; log tail:\n%s", p.name, timeout, tail(p.Log(), 20))
	}
	return code
}

// processEnv is a minimal environment plus env: nothing of the test's own
// environment (a CLI_ID or SERVER_PORT set by whoever runs the tests)
// leaks into the binaries.
func processEnv(env map[string]string) []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// startProcess starts bin in dir with env and args. The process is killed,
// if still running, when the test ends; when the test failed, the tail of
// its output is logged.
func startProcess(t testing.TB, name, bin, dir string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = processEnv(env)
	p := &proc{name: name, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.stdout
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := cmd.Wait()
		p.waitErr = err
		p.exitCode = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s (exit %d, %v) stdout tail:\n%s\n--- %s stderr:\n%s",
				name, p.exitCode, p.waitErr, tail(p.Log(), 40), name, tail(p.Stderr(), 10))
		}
	})
	return p
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// server is a running central.
type server struct {
	*proc
	Addr string // host:port it listens on
	Dir  string // its working directory, where bets.csv is
}

// BetsPath is the path of the central's bets.csv (STORAGE_FILEPATH's
// default, ./bets.csv, in its working directory).
func (s *server) BetsPath() string { return filepath.Join(s.Dir, "bets.csv") }

// stop sends the central SIGTERM and waits for it to exit 0. Once it has
// exited, its log is complete: a line it wrote before some event the test
// saw (a client's answer) may otherwise still be in the pipe between the
// processes, not yet in Log.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal server: %v", err)
	}
	if code := s.waitExit(t, exitTimeout); code != 0 {
		t.Errorf("server exited with %d after SIGTERM, want 0", code)
	}
}

// listening reports whether p's log says it listens.
func listening(p *proc) bool {
	_, ok := listeningAddr(p.Log())
	return ok
}

// listeningAddr returns the address a central's log says it listens on.
func listeningAddr(out string) (string, bool) {
	for _, l := range filter(parseLog(out), "accept_connections", logging.ResultInProgress) {
		if addr, ok := l.Fields["address"]; ok {
			return addr, true
		}
	}
	return "", false
}

// startServer starts a central in a fresh working directory, on
// 127.0.0.1 and a free port unless env says otherwise, and waits until it
// logs the address it listens on.
//
// A central that cannot bind because the machine has run out of free
// ports (other test suites sharing it can leave tens of thousands of
// sockets in TIME_WAIT) is started again, a few times: that is the
// machine's state, not the central's fault.
func startServer(t testing.TB, env map[string]string) *server {
	t.Helper()
	full := map[string]string{"SERVER_PORT": "0", "SERVER_IP": "127.0.0.1"}
	for k, v := range env {
		full[k] = v
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		p := startProcess(t, "server", serverBin, dir, full)
		deadline := time.Now().Add(startTimeout)
		for {
			if addr, ok := listeningAddr(p.Log()); ok {
				return &server{proc: p, Addr: addr, Dir: dir}
			}
			if p.Exited() {
				if strings.Contains(p.Log(), "address already in use") && attempt < attempts {
					t.Logf("server could not bind (attempt %d of %d), starting it again: %s",
						attempt, attempts, strings.TrimSpace(tail(p.Log(), 2)))
					time.Sleep(time.Duration(attempt) * 100 * time.Millisecond) // back off, not an assertion
					break
				}
				t.Fatalf("server exited with %d before listening; stdout:\n%s\nstderr:\n%s", p.exitCode, p.Log(), p.Stderr())
			}
			if time.Now().After(deadline) {
				t.Fatalf("server did not log accept_connections within %v; stdout:\n%s", startTimeout, p.Log())
			}
			time.Sleep(pollInterval)
		}
	}
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
func startClient(t testing.TB, name string, env map[string]string) *proc {
	t.Helper()
	return startProcess(t, name, clientBin, t.TempDir(), env)
}

// runClient runs an agency to its end and returns its exit code and log.
func runClient(t testing.TB, name string, env map[string]string) (int, string) {
	t.Helper()
	p := startClient(t, name, env)
	code := p.waitExit(t, clientTimeout)
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

// logLine is one log line that has an action, parsed by logging.Parse.
type logLine struct {
	logging.Line
	Pos int    // the line's index in the whole output, 0-based
	Raw string // the line as logged
}

func (l logLine) String() string { return l.Raw }

// parseLog returns the lines of out that have an action, in order.
func parseLog(out string) []logLine {
	var lines []logLine
	for i, raw := range strings.Split(out, "\n") {
		if l, ok := logging.Parse(raw); ok {
			lines = append(lines, logLine{Line: l, Pos: i, Raw: raw})
		}
	}
	return lines
}

// filter returns the lines of action with result; an empty action or
// result matches any.
func filter(lines []logLine, action, result string) []logLine {
	var out []logLine
	for _, l := range lines {
		if (action == "" || l.Action == action) && (result == "" || l.Result == result) {
			out = append(out, l)
		}
	}
	return out
}

// with returns the lines whose field key is value.
func with(lines []logLine, key, value string) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.Fields[key] == value {
			out = append(out, l)
		}
	}
	return out
}

// hasLine reports whether p's log has a line of action and result whose
// fields include kv (key, value, key, value ...).
func hasLine(p *proc, action, result string, kv ...string) bool {
	lines := filter(p.Lines(), action, result)
	for i := 0; i+1 < len(kv); i += 2 {
		lines = with(lines, kv[i], kv[i+1])
	}
	return len(lines) > 0
}

// assertCleanLog fails the test when a log line has a result other than
// success, fail or in_progress, or when any line is a failure.
func assertCleanLog(t testing.TB, name, out string) {
	t.Helper()
	for _, l := range parseLog(out) {
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
	lines := filter(parseLog(out), "consulta_ganadores", "success")
	if len(lines) != 1 {
		t.Fatalf("%s: %d consulta_ganadores success lines, want 1; log tail:\n%s", name, len(lines), tail(out, 20))
	}
	n, err := strconv.Atoi(lines[0].Fields["cant_ganadores"])
	if err != nil {
		t.Fatalf("%s: bad cant_ganadores in %q", name, lines[0].Raw)
	}
	return n
}

// datasetPath is where the course dataset lives, relative to the repository.
func datasetPath() string {
	return filepath.Join(repoRoot, "..", "shared", "data", "dataset.zip")
}

// extractDataset extracts the course dataset's agency-N.csv files into a
// temporary directory and returns it, skipping the test where the dataset
// is absent.
func extractDataset(t testing.TB) string {
	t.Helper()
	zr, err := zip.OpenReader(datasetPath())
	if err != nil {
		t.Skipf("course dataset ../shared/data/dataset.zip not found: %v", err)
	}
	defer zr.Close()
	dir := t.TempDir()
	n := 0
	for _, f := range zr.File {
		name := filepath.Base(f.Name) // never outside dir
		if f.FileInfo().IsDir() || !strings.HasSuffix(name, ".csv") {
			continue
		}
		if err := loadgen.ExtractFile(f, filepath.Join(dir, name)); err != nil {
			t.Fatalf("extract %s: %v", f.Name, err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no .csv file in %s", datasetPath())
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
	if code := p.waitExit(t, clientTimeout); code != 0 {
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

// freeAddr returns a 127.0.0.1 address on which nothing listens.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
