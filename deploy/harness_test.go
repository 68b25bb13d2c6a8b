package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// repoRoot is the repository's root directory, found by TestMain.
var repoRoot string

// testPrefix starts the name of every compose project these tests run.
const testPrefix = "tp0test"

// Deadlines of the steps of a test. They are far above what a step takes
// on a laptop: they only keep a broken deployment from hanging the run.
const (
	cmdTimeout   = 3 * time.Minute // one docker or compose command
	buildTimeout = 5 * time.Minute // make docker-image
	exitTimeout  = 2 * time.Minute // clients uploading and waiting for the draw
	logTimeout   = time.Minute     // a log line that must come
)

func TestMain(m *testing.M) {
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
	repoRoot = root
	code := m.Run()
	if dockerSetup.release != nil {
		dockerSetup.release()
	}
	os.Exit(code)
}

// run runs name with args in dir and returns its stdout and stderr
// together.
func run(dir string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no answer within %v: %w", name, strings.Join(args, " "), timeout, err)
	} else if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), err
}

// --- Docker and compose ----------------------------------------------------

var (
	composeOnce sync.Once
	composeCmd  []string // "docker compose" or "docker-compose"; nil if neither
)

// composeCommand returns the compose command this machine has, preferring
// the v2 plugin as the Makefile does.
func composeCommand() []string {
	composeOnce.Do(func() {
		if _, err := run("", 30*time.Second, "docker", "compose", "version"); err == nil {
			composeCmd = []string{"docker", "compose"}
		} else if _, err := run("", 30*time.Second, "docker-compose", "version"); err == nil {
			composeCmd = []string{"docker-compose"}
		}
	})
	return composeCmd
}

var (
	dockerOnce  sync.Once
	dockerSetup struct {
		skip    string // why the docker tests cannot run here
		err     error  // why they fail
		release func() // of the machine-wide lock
	}
)

// requireDocker skips the test where the deployment cannot be tested, and
// otherwise makes sure, once per run, that the images are built and no
// container is in the way.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("docker deployment tests take a minute or two: skipped under -short")
	}
	dockerOnce.Do(setupDocker)
	if dockerSetup.skip != "" {
		t.Skip(dockerSetup.skip)
	}
	if dockerSetup.err != nil {
		t.Fatal(dockerSetup.err)
	}
}

func setupDocker() {
	s := &dockerSetup
	if out, err := run("", 30*time.Second, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		s.skip = fmt.Sprintf("docker deployment tests need a Docker engine, and `docker info` failed: %v: %s",
			err, firstLine(out))
		return
	}
	if composeCommand() == nil {
		s.skip = "docker deployment tests need `docker compose` (v2 plugin) or `docker-compose` (v1.29): neither is installed"
		return
	}
	release, err := lockMachine(5 * time.Minute)
	if err != nil {
		s.skip = fmt.Sprintf("docker deployment tests cannot run now: %v", err)
		return
	}
	s.release = release
	// A run that was killed may have left its project behind; no other
	// run is going on (we hold the lock), so it is safe to remove.
	if err := removeProjects(func(p string) bool { return strings.HasPrefix(p, testPrefix) }); err != nil {
		s.err = fmt.Errorf("removing what earlier runs left: %w", err)
		return
	}
	if msg, err := containersInTheWay(); err != nil {
		s.err = err
		return
	} else if msg != "" {
		s.skip = msg
		return
	}
	if out, err := run(repoRoot, buildTimeout, "make", "docker-image"); err != nil {
		s.err = fmt.Errorf("building the binaries and images: %v\n%s", err, out)
	}
}

// deployedName matches the container names the tests' compose files give:
// server and clientI of the generated files, serverI, db-primary and
// db-standby of docker-compose-replicas.yaml.
var deployedName = regexp.MustCompile(`^(server[0-9]*|client[0-9]+|db-primary|db-standby)$`)

// containersInTheWay describes the containers that have the names the
// tests' compose files give theirs, if there are any.
func containersInTheWay() (string, error) {
	out, err := run("", cmdTimeout, "docker", "ps", "--all", "--format",
		`{{.Names}}	{{.Label "com.docker.compose.project"}}`)
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	var found []string
	for _, line := range nonEmptyLines(out) {
		name, project, _ := strings.Cut(line, "\t")
		if deployedName.MatchString(name) {
			if project == "" {
				project = "none"
			}
			found = append(found, fmt.Sprintf("%s (compose project %s)", name, project))
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	return fmt.Sprintf("docker deployment tests need the container names server, serverI, clientI, db-primary and db-standby, and these exist: %s; "+
		"remove them first (a deployment of make docker-compose-up: make docker-compose-down)",
		strings.Join(found, ", ")), nil
}

// projectResources lists the containers, networks and volumes whose
// compose project label matches.
func projectResources(match func(project string) bool) (containers, networks, volumes []string, err error) {
	lists := []struct {
		dst  *[]string
		args []string
	}{
		{&containers, []string{"ps", "--all", "--filter", "label=com.docker.compose.project", "--format",
			`{{.ID}}	{{.Label "com.docker.compose.project"}}`}},
		{&networks, []string{"network", "ls", "--filter", "label=com.docker.compose.project", "--format",
			`{{.ID}}	{{.Label "com.docker.compose.project"}}`}},
		{&volumes, []string{"volume", "ls", "--filter", "label=com.docker.compose.project", "--format",
			`{{.Name}}	{{.Label "com.docker.compose.project"}}`}},
	}
	for _, l := range lists {
		out, err := run("", cmdTimeout, "docker", l.args...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%v: %s", err, out)
		}
		for _, line := range nonEmptyLines(out) {
			id, project, _ := strings.Cut(line, "\t")
			if match(project) {
				*l.dst = append(*l.dst, id)
			}
		}
	}
	return containers, networks, volumes, nil
}

// removeProjects removes every container, network and volume of the
// compose projects that match.
func removeProjects(match func(project string) bool) error {
	containers, networks, volumes, err := projectResources(match)
	if err != nil {
		return err
	}
	var errs []error
	rm := func(args []string, ids []string) {
		if len(ids) == 0 {
			return
		}
		if out, err := run("", cmdTimeout, "docker", append(args, ids...)...); err != nil {
			errs = append(errs, fmt.Errorf("%v: %s", err, out))
		}
	}
	rm([]string{"rm", "--force", "--volumes"}, containers)
	rm([]string{"network", "rm"}, networks)
	rm([]string{"volume", "rm", "--force"}, volumes)
	return errors.Join(errs...)
}

// --- A deployment ------------------------------------------------------------

// deployment is one compose project of the tests, run from its own
// directory: the generated compose file, copies of the config files, and
// .data.
type deployment struct {
	t       *testing.T
	dir     string
	project string
	files   []string // compose files, relative to dir

	// volumes are the volumes the project's containers had mounted before
	// each down: the central's store is an anonymous volume, which a plain
	// down leaves behind (unlabelled, so removeProjects cannot find it),
	// and teardown removes.
	volumes map[string]bool
}

// newDeployment prepares a deployment of the central and agencies agencies;
// the caller writes dir/.data. Whatever it runs is removed when the test
// ends.
func newDeployment(t *testing.T, agencies int) *deployment {
	t.Helper()
	requireDocker(t)
	dir := t.TempDir()
	for _, f := range []string{"server/config.ini", "client/config.yaml"} {
		copyFile(t, filepath.Join(repoRoot, f), filepath.Join(dir, f))
	}
	if err := os.MkdirAll(filepath.Join(dir, ".data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(repoRoot, cmdTimeout, "./generar-compose.sh",
		filepath.Join(dir, "docker-compose.yaml"), strconv.Itoa(agencies)); err != nil {
		t.Fatalf("generar-compose.sh: %v\n%s", err, out)
	}
	d := &deployment{t: t, dir: dir, project: testPrefix + randomSuffix(t), files: []string{"docker-compose.yaml"}}
	t.Logf("compose project %s in %s", d.project, dir)
	t.Cleanup(d.teardown)
	return d
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// compose runs compose on the deployment's project and files.
func (d *deployment) compose(args ...string) (string, error) {
	cmd := slices.Clone(composeCommand())
	cmd = append(cmd, "-p", d.project)
	for _, f := range d.files {
		cmd = append(cmd, "-f", f)
	}
	cmd = append(cmd, args...)
	if len(args) > 0 && args[0] == "down" {
		d.noteVolumes()
	}
	return run(d.dir, cmdTimeout, cmd[0], cmd[1:]...)
}

// noteVolumes adds the volumes that the project's containers mount to
// d.volumes.
func (d *deployment) noteVolumes() {
	d.t.Helper()
	out, err := run("", cmdTimeout, "docker", "ps", "--all", "--quiet",
		"--filter", "label=com.docker.compose.project="+d.project)
	if err != nil {
		d.t.Errorf("%v\n%s", err, out)
		return
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return
	}
	out, err = run("", cmdTimeout, "docker", append([]string{"inspect", "--format",
		`{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\n"}}{{end}}{{end}}`}, ids...)...)
	if err != nil {
		d.t.Errorf("%v\n%s", err, out)
		return
	}
	if d.volumes == nil {
		d.volumes = make(map[string]bool)
	}
	for _, v := range strings.Fields(out) {
		d.volumes[v] = true
	}
}

// removeNotedVolumes removes the volumes of d.volumes that still exist.
func (d *deployment) removeNotedVolumes() {
	t := d.t
	if len(d.volumes) == 0 {
		return
	}
	out, err := run("", cmdTimeout, "docker", "volume", "ls", "--quiet")
	if err != nil {
		t.Errorf("teardown: %v\n%s", err, out)
		return
	}
	var left []string
	for _, v := range strings.Fields(out) {
		if d.volumes[v] {
			left = append(left, v)
		}
	}
	if len(left) == 0 {
		return
	}
	if out, err := run("", cmdTimeout, "docker", append([]string{"volume", "rm", "--force"}, left...)...); err != nil {
		t.Errorf("teardown: %v\n%s", err, out)
	}
}

// mustCompose runs compose and fails the test if it fails.
func (d *deployment) mustCompose(args ...string) string {
	d.t.Helper()
	out, err := d.compose(args...)
	if err != nil {
		d.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// up starts the deployment (or the services named) in the background.
// It returns once the server is healthy and the clients have started.
func (d *deployment) up(services ...string) {
	d.t.Helper()
	start := time.Now()
	d.mustCompose(append([]string{"up", "-d"}, services...)...)
	d.t.Logf("up -d %s: %v", strings.Join(services, " "), time.Since(start).Round(time.Millisecond))
}

// network is the name of the deployment's private network.
func (d *deployment) network() string { return d.project + "_lottery_net" }

// teardown removes the deployment's containers, network and volumes
// (also the anonymous volumes that earlier plain downs left) and checks
// that nothing of it is left. When the test failed it first logs
// every container's log.
func (d *deployment) teardown() {
	t := d.t
	if t.Failed() {
		if out, err := d.compose("logs", "--no-color"); err == nil {
			t.Logf("compose logs of %s (last lines):\n%s", d.project, lastLines(out, 150))
		}
	}
	if out, err := d.compose("down", "--volumes", "--remove-orphans", "-t", "5"); err != nil {
		t.Errorf("teardown: %v\n%s", err, out)
	}
	d.removeNotedVolumes()
	same := func(p string) bool { return p == d.project }
	containers, networks, volumes, err := projectResources(same)
	if err != nil {
		t.Errorf("teardown: %v", err)
		return
	}
	if len(containers)+len(networks)+len(volumes) > 0 {
		t.Errorf("teardown: compose down left containers %v, networks %v, volumes %v", containers, networks, volumes)
		if err := removeProjects(same); err != nil {
			t.Errorf("teardown: %v", err)
		}
	}
}

// writeFile writes a file of the deployment's directory.
func (d *deployment) writeFile(name, content string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// readFile reads a file of the deployment's directory.
func (d *deployment) readFile(name string) string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		d.t.Fatal(err)
	}
	return string(b)
}

// genData writes the agencies' files with bin/gendata, which make
// docker-image built.
func (d *deployment) genData(args ...string) {
	d.t.Helper()
	args = append([]string{"-dir", filepath.Join(d.dir, ".data")}, args...)
	if out, err := run(repoRoot, cmdTimeout, filepath.Join(repoRoot, "bin", "gendata"), args...); err != nil {
		d.t.Fatalf("%v\n%s", err, out)
	}
}

// --- Containers ----------------------------------------------------------------

// containerState is the part of `docker inspect`'s State the tests read.
type containerState struct {
	Status    string // created, running, exited, ...
	Running   bool
	ExitCode  int
	StartedAt string
	Health    *struct{ Status string }
}

func inspect(t *testing.T, name string) containerState {
	t.Helper()
	out, err := run("", cmdTimeout, "docker", "inspect", "--format", "{{json .State}}", name)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var s containerState
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("docker inspect %s: %v: %s", name, err, out)
	}
	return s
}

// exitCode returns the exit code of a container that has exited.
func exitCode(t *testing.T, name string) int {
	t.Helper()
	s := inspect(t, name)
	if s.Status != "exited" {
		t.Fatalf("%s is %s, want exited", name, s.Status)
	}
	return s.ExitCode
}

// exitedZero waits until every container named has exited, fails the
// test for each that exited other than 0, its line starting with prefix,
// and reports whether all exited 0.
func exitedZero(t *testing.T, prefix string, names ...string) bool {
	t.Helper()
	waitExited(t, exitTimeout, names...)
	ok := true
	for _, c := range names {
		if code := exitCode(t, c); code != 0 {
			t.Errorf("%s%s exited with code %d, want 0", prefix, c, code)
			ok = false
		}
	}
	return ok
}

// waitExited waits until every container named has exited.
func waitExited(t *testing.T, timeout time.Duration, names ...string) {
	t.Helper()
	start := time.Now()
	for {
		var running []string
		for _, n := range names {
			if s := inspect(t, n); s.Status != "exited" && s.Status != "dead" {
				running = append(running, n+" "+s.Status)
			}
		}
		if len(running) == 0 {
			t.Logf("%s exited after %v", strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %v still not exited: %s", timeout, strings.Join(running, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopContainer runs docker stop on one container and returns its exit
// code.
func stopContainer(t *testing.T, name string) int {
	t.Helper()
	start := time.Now()
	if out, err := run("", cmdTimeout, "docker", "stop", "-t", "10", name); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	code := exitCode(t, name)
	t.Logf("docker stop %s: %v, exit code %d", name, time.Since(start).Round(time.Millisecond), code)
	return code
}

// logs returns a container's log lines.
func logs(t *testing.T, name string) []string {
	t.Helper()
	out, err := run("", cmdTimeout, "docker", "logs", name)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return nonEmptyLines(out)
}

// waitLog waits until a container's log satisfies ok, and returns the log.
func waitLog(t *testing.T, name, what string, ok func(lines []string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(logTimeout)
	for {
		lines := logs(t, name)
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s in the log within %v; last lines:\n%s",
				name, what, logTimeout, strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// composeLogs returns `compose logs`, split by container: compose prefixes
// each line with the service's container name ("client1    | ...", or
// "client1-1  | ..." in some versions).
func (d *deployment) composeLogs() map[string][]string {
	d.t.Helper()
	out := d.mustCompose("logs", "--no-color")
	byName := make(map[string][]string)
	for _, line := range nonEmptyLines(out) {
		m := composePrefix.FindStringSubmatch(line)
		if m == nil {
			continue // "Attaching to ..."
		}
		byName[m[1]] = append(byName[m[1]], m[2])
	}
	return byName
}

var composePrefix = regexp.MustCompile(`^(\S+?)(?:[-_][0-9]+)?\s+\| ?(.*)$`)

// --- Log lines -------------------------------------------------------------------

// find returns the indexes of the lines of action (and result, if given).
func find(lines []string, action, result string) []int {
	var idx []int
	for _, l := range harness.Filter(harness.ParseLog(strings.Join(lines, "\n")), action, result) {
		idx = append(idx, l.Pos)
	}
	return idx
}

// field returns a field of the last line of action; ok is false if there
// is no such line or field.
func field(lines []string, action, key string) (string, bool) {
	idx := find(lines, action, "")
	if len(idx) == 0 {
		return "", false
	}
	l, _ := logging.Parse(lines[idx[len(idx)-1]])
	v, ok := l.Fields[key]
	return v, ok
}

// mustField is field that fails the test when the field is missing.
func mustField(t *testing.T, who string, lines []string, action, key string) string {
	t.Helper()
	v, ok := field(lines, action, key)
	if !ok {
		t.Fatalf("%s: no action: %s line with %s; log:\n%s", who, action, key, lastLines(strings.Join(lines, "\n"), 30))
	}
	return v
}

// failLines returns the lines whose result is fail.
func failLines(lines []string) []string {
	var bad []string
	for _, s := range lines {
		if l, ok := logging.Parse(s); (ok && l.Result == "fail") || strings.Contains(s, "result: fail") {
			bad = append(bad, s)
		}
	}
	return bad
}

// assertNoFail fails the test for every fail line of who's log.
func assertNoFail(t *testing.T, who string, lines []string) {
	t.Helper()
	for _, s := range failLines(lines) {
		t.Errorf("%s logged a fail line: %s", who, s)
	}
}

// assertClosedGracefully checks the lines a central logs when it stops on
// SIGTERM: shutdown (logged concurrently with the closing), and close of
// the listener, then of the storage, then exit.
func assertClosedGracefully(t *testing.T, lines []string) {
	t.Helper()
	var order []int // of the lines after shutdown
	for _, want := range []struct{ action, resource string }{
		{"shutdown", ""}, {"close", "listener"}, {"close", "storage"}, {"exit", ""},
	} {
		at := -1
		for _, i := range find(lines, want.action, "") {
			if l, _ := logging.Parse(lines[i]); want.resource == "" || l.Fields["resource"] == want.resource {
				at = i
			}
		}
		if at < 0 {
			t.Errorf("server: no action: %s %s line after the stop; last lines:\n%s",
				want.action, want.resource, strings.Join(lines[max(0, len(lines)-10):], "\n"))
			return
		}
		if want.action != "shutdown" {
			order = append(order, at)
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("server: close listener, close storage, exit logged out of order (lines %v)", order)
	}
}

// --- Files ---------------------------------------------------------------------

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// courseDataset is ../shared/data/dataset.zip relative to the repository's
// root.
func courseDataset() string {
	return filepath.Join(repoRoot, "..", "shared", "data", "dataset.zip")
}

// requireCourseDataset skips the test under -short, as requireDocker
// would, or where the course dataset is absent, and otherwise returns its
// path.
func requireCourseDataset(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("docker deployment tests take a minute or two: skipped under -short")
	}
	zipPath := courseDataset()
	if _, err := os.Stat(zipPath); err != nil {
		t.Skipf("the course dataset is absent (%v): it reaches the project at ../shared/data/dataset.zip", err)
	}
	return zipPath
}

// extractCourseDataset writes agency-1.csv .. agency-5.csv of the course
// dataset into dir and returns their bet counts.
func extractCourseDataset(t *testing.T, zipPath, dir string) []int {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	counts := make([]int, 5)
	for i := range counts {
		name := "agency-" + strconv.Itoa(i+1) + ".csv"
		f, err := zr.Open(name)
		if err != nil {
			t.Fatalf("%s: %v", zipPath, err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", zipPath, name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		counts[i] = bytes.Count(b, []byte("\n"))
	}
	return counts
}

// --- Text ------------------------------------------------------------------------

func nonEmptyLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
