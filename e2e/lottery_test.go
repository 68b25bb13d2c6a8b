package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// scriptRun is one run of scripts/lottery.sh: what it printed, and its
// exit status.
type scriptRun struct {
	stdout, stderr string
	code           int
}

// runLotteryScript runs scripts/lottery.sh with args and env (besides a
// minimal environment), the test's binaries as BIN_DIR and its run
// directories under a temporary TMPDIR.
func runLotteryScript(t *testing.T, env map[string]string, args ...string) scriptRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(repoRoot, "scripts", "lottery.sh")}, args...)...)
	cmd.Env = harness.Env(harness.Merge(map[string]string{"BIN_DIR": filepath.Dir(serverBin), "TMPDIR": t.TempDir()}, env))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("scripts/lottery.sh: %v", err)
	}
	return scriptRun{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// readmeSample returns the lines of the README's fenced block right
// after the comment <!-- sample: name -->.
func readmeSample(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "<!-- sample: "+name+" -->\n```\n")
	if ok {
		rest, _, ok = strings.Cut(rest, "```\n")
	}
	if !ok {
		t.Fatalf("README.md: no block after <!-- sample: %s -->", name)
	}
	return strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
}

// The parts of the script's lines that change from run to run.
var (
	runDirPattern  = regexp.MustCompile(`\S*/lottery-run-[A-Za-z0-9]+`)
	portPattern    = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	pidPattern     = regexp.MustCompile(`\b(PID|kill) [0-9]+`)
	absPathPattern = regexp.MustCompile(`(^|\s)/\S+`)
)

// shape masks what changes between runs in a line of the script's
// output: its run directory, the port, the central's PID, other absolute
// paths (certificates, agency files).
func shape(line string) string {
	line = runDirPattern.ReplaceAllString(line, "<run>")
	line = portPattern.ReplaceAllString(line, "127.0.0.1:<port>")
	line = pidPattern.ReplaceAllString(line, "$1 <pid>")
	return absPathPattern.ReplaceAllString(line, "$1<path>")
}

// assertLikeSample checks that out has the lines of the README's sample
// name, in order, each with the same text once masked (shape).
func assertLikeSample(t *testing.T, name, out string) {
	t.Helper()
	want := readmeSample(t, name)
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = shape(want[i])
		}
		if i < len(got) {
			g = shape(got[i])
		}
		if w != g {
			t.Errorf("line %d: the script prints %q, README.md's sample %q says %q", i+1, g, name, w)
		}
	}
}

// TestLotteryScript runs scripts/lottery.sh (make lottery) over mutual TLS
// on 5 generated agency files with the course's winners (DATA=dir), and
// checks what it prints against README.md's samples; then with KEEP=1:
// the central's admin endpoint answers after the script has ended, a
// second KEEP=1 refuses to start, and `stop` (make lottery-stop) stops it.
func TestLotteryScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("scripts/lottery.sh needs bash")
	}
	data := genData(t, 5, "300", "2,3,3,2,0", 21)
	env := map[string]string{"DATA": data, "CERTS": filepath.Join(t.TempDir(), "certs"),
		"KEEP_FILE": filepath.Join(t.TempDir(), "kept")}

	t.Run("make lottery", func(t *testing.T) {
		r := runLotteryScript(t, env)
		if r.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
		}
		assertLikeSample(t, "make lottery", r.stdout)
		for i, want := range []string{"agency 1: 2 winners", "agency 2: 3 winners", "agency 3: 3 winners", "agency 4: 2 winners", "agency 5: 0 winners"} {
			if !strings.Contains(r.stdout, want+"\n") {
				t.Errorf("agency %d: no line %q in:\n%s", i+1, want, r.stdout)
			}
		}
		run := runDirPattern.FindString(r.stdout)
		if n := winnerLines(t, filepath.Join(run, "winners", "agency-2.txt")); n != 3 {
			t.Errorf("winners/agency-2.txt holds %d documents, want 3", n)
		}
	})

	t.Run("KEEP=1", func(t *testing.T) {
		keep := harness.Merge(env, map[string]string{"KEEP": "1"})
		r := runLotteryScript(t, keep)
		t.Cleanup(func() { runLotteryScript(t, env, "stop") })
		if r.code != 0 {
			t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
		}
		assertLikeSample(t, "make lottery KEEP=1", r.stdout)
		admin := "http://" + portPattern.FindString(r.stdout)
		if code := httpStatus(admin + "/status"); code != http.StatusOK {
			t.Fatalf("the kept central's /status answered %d after the script ended, want 200", code)
		}
		if again := runLotteryScript(t, keep); again.code != 1 || !strings.Contains(again.stderr, "make lottery-stop first") {
			t.Errorf("a second KEEP=1 while the first central runs: exit %d, %q; want 1, saying to stop it", again.code, again.stderr)
		}
		stop := runLotteryScript(t, env, "stop")
		if stop.code != 0 || !strings.HasPrefix(stop.stdout, "stopped the central (PID ") {
			t.Fatalf("stop: exit %d, %q %q", stop.code, stop.stdout, stop.stderr)
		}
		if code := httpStatus(admin + "/healthz"); code != 0 {
			t.Errorf("the central answered %d after stop, want it gone", code)
		}
		if again := runLotteryScript(t, env, "stop"); again.code != 0 || again.stdout != "no central kept up by make lottery KEEP=1\n" {
			t.Errorf("stop with nothing kept: exit %d, %q", again.code, again.stdout)
		}
	})
}

// httpStatus is the status of a GET of url, 0 when nothing answers.
func httpStatus(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// winnerLines counts the documents of a winners file.
func winnerLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(slices.DeleteFunc(strings.Split(string(data), "\n"), func(s string) bool { return s == "" }))
}
