package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// Releases before journal format 3, by the commit that made them.
const (
	releaseFormat1 = "89e957e" // the first release: journal format 1
	releaseFormat2 = "4a59b63" // the release before format 3: journal format 2
)

// releaseTimeout bounds how long an older release may take to refuse a
// store. One that is still running then has taken the store as its own.
const releaseTimeout = 20 * time.Second

// releases caches the builds of older releases for the whole test binary:
// each command's path, or why it could not be built, by commit and
// command.
var releases struct {
	sync.Mutex
	bins, skips map[string]string
}

// releaseServer returns cmd/server of commit, built from the repository's
// own history into the test binary's directory, once. It skips the test
// where the history or the build is unavailable (a shallow clone, no
// network for the modules that release needs).
func releaseServer(t *testing.T, commit string) string {
	t.Helper()
	return releaseCommand(t, commit, "server")
}

// releaseCommand returns cmd/name of commit, built as releaseServer says.
func releaseCommand(t *testing.T, commit, name string) string {
	t.Helper()
	releases.Lock()
	defer releases.Unlock()
	if releases.bins == nil {
		releases.bins, releases.skips = map[string]string{}, map[string]string{}
	}
	key := commit + "/" + name
	if bin, ok := releases.bins[key]; ok {
		return bin
	}
	if why, ok := releases.skips[key]; ok {
		t.Skip(why)
	}
	bin, err := buildRelease(commit, name)
	if err != nil {
		releases.skips[key] = "release " + commit + " cannot be built here: " + err.Error()
		t.Skip(releases.skips[key])
	}
	releases.bins[key] = bin
	return bin
}

// buildRelease extracts commit's tree with git archive and builds its
// cmd/name as the images are built.
func buildRelease(commit, name string) (string, error) {
	dir := filepath.Join(filepath.Dir(serverBin), "release-"+commit)
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	tarball := filepath.Join(dir, "src.tar")
	bin := filepath.Join(dir, name)
	steps := []struct {
		dir  string
		args []string
	}{
		{repoRoot, []string{"git", "archive", "--format=tar", "-o", tarball, commit}},
		{src, []string{"tar", "-xf", tarball}},
		{src, []string{"go", "build", "-trimpath", "-o", bin, "./cmd/" + name}},
	}
	for _, s := range steps {
		cmd := exec.Command(s.args[0], s.args[1:]...)
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{cmd: strings.Join(s.args, " "), err: err, out: strings.TrimSpace(harness.Tail(string(out), 5))}
		}
	}
	return bin, nil
}

type buildError struct {
	cmd, out string
	err      error
}

func (e *buildError) Error() string { return e.cmd + ": " + e.err.Error() + ": " + e.out }

// releaseEnv is the environment an older release is started with: it
// reads its settings from the environment (and from a config.ini in its
// working directory, which it does without).
func releaseEnv(t *testing.T, agencies int) map[string]string {
	addr := harness.MustFreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	return map[string]string{
		"SERVER_IP":        "127.0.0.1",
		"SERVER_PORT":      port,
		"AGENCIES_AMOUNT":  strconv.Itoa(agencies),
		"STORAGE_FILEPATH": "./bets.csv",
	}
}

// finishedStore runs a small lottery of 2 agencies with this release and
// returns its files and the agencies' data.
func finishedStore(t *testing.T) (map[string][]byte, string) {
	t.Helper()
	data := genData(t, 2, "300", "1,2", 49)
	srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "2"})
	srv.start()
	runLottery(t, srv, data, []int{1, 2})
	if err := srv.cur().Terminate(exitTimeout); err != nil {
		t.Fatalf("stop the central: %v", err)
	}
	return readFiles(t, srv.dir), data
}

// TestOlderReleaseRefuses: a release before journal format 3, started on
// a store of format 3, refuses it (it finds bets but no journal it
// knows) and changes neither file; the empty journal of its own format
// that the first release leaves is removed by this release, which then
// holds the store as it was.
func TestOlderReleaseRefuses(t *testing.T) {
	clean, data := finishedStore(t)
	agencyDigests, draw := expectedDigests(t, data, 2)
	legacy := "bets.csv" + storage.LegacyJournalSuffix
	for _, tt := range []struct {
		commit       string
		leavesLegacy bool // it creates an empty bets.csv.journal before refusing
	}{
		{releaseFormat1, true},
		{releaseFormat2, false},
	} {
		t.Run(tt.commit, func(t *testing.T) {
			bin := releaseServer(t, tt.commit)
			dir := t.TempDir()
			writeFiles(t, dir, clean)
			p := startProcess(t, "release-"+tt.commit, bin, dir, releaseEnv(t, 2))
			code, exited := p.Wait(releaseTimeout)
			if !exited {
				p.Kill()
				t.Fatalf("release %s kept running on a format 3 store (killed after %v); log:\n%s", tt.commit, releaseTimeout, p.Log())
			}
			t.Logf("release %s: exit %d: %s", tt.commit, code, strings.TrimSpace(harness.Tail(strings.TrimSpace(p.Log()+p.Stderr()), 1)))
			if code == 0 || !strings.Contains(p.Log(), "bets but no journal") {
				t.Errorf("release %s: exit %d, want it to refuse the store for having bets but no journal; log:\n%s%s", tt.commit, code, p.Log(), p.Stderr())
			}
			if after := readFiles(t, dir); !equalFiles(clean, after) {
				t.Fatalf("release %s changed bets.csv or its journal", tt.commit)
			}
			info, err := os.Stat(filepath.Join(dir, legacy))
			switch {
			case err == nil && info.Size() != 0:
				t.Fatalf("release %s wrote %d bytes to %s", tt.commit, info.Size(), legacy)
			case tt.leavesLegacy && err != nil:
				t.Errorf("release %s left no empty %s (%v): the test does not exercise its removal", tt.commit, legacy, err)
			}
			startAfterRelease(t, dir, err == nil)
			assertVerified(t, runVerify(t, backend{name: "file"}, "verify", harness.BetsPath(dir)), agencyDigests, draw, "recorded")
			if after := readFiles(t, dir); !equalFiles(clean, after) {
				t.Error("this release changed the store the older one refused")
			}
		})
	}
}

// startAfterRelease starts this release on the store in dir and stops
// it. Where an older release left an empty journal of its format
// (legacy), the start removes it, saying so at WARNING.
func startAfterRelease(t *testing.T, dir string, legacy bool) {
	t.Helper()
	name := "bets.csv" + storage.LegacyJournalSuffix
	srv := newCrashServer(t, dir, map[string]string{"AGENCIES_AMOUNT": "2"})
	p := srv.start()
	removed := withFileNamed(harness.Filter(p.Lines(), "recovery", "in_progress"), name)
	switch {
	case legacy && (len(removed) != 1 || removed[0].Level != "WARNING" || removed[0].Fields["removed"] == ""):
		t.Errorf("the start did not log the removal of the empty %s at WARNING; log:\n%s", name, p.Log())
	case !legacy && len(removed) != 0:
		t.Errorf("the start logged a removal of %s, which was not there: %v", name, removed)
	case legacy:
		t.Logf("removed: %s", removed[0].Raw)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
		t.Errorf("%s is still there after this release started", name)
	}
	if err := p.Terminate(exitTimeout); err != nil {
		t.Fatalf("stop the central: %v", err)
	}
	if fails := harness.Filter(p.Lines(), "", "fail"); len(fails) != 0 {
		t.Errorf("the central logged failures: %v", fails)
	}
}

// TestMigrateFormat2Store: a lottery held by the release before journal
// format 3, with this release's agencies, is migrated by this release's
// first start: the same draw, the same digests, every agency answered
// again, and the old journal kept, unchanged, as
// bets.csv.journal.migrated-<time>.
func TestMigrateFormat2Store(t *testing.T) {
	bin := releaseServer(t, releaseFormat2)
	data := genData(t, 3, "400", "2,0,1", 50)
	winners := []int{2, 0, 1}
	agencyDigests, draw := expectedDigests(t, data, 3)
	dir := t.TempDir()
	old := startProcess(t, "release-"+releaseFormat2, bin, dir, releaseEnv(t, 3))
	addr, ok := harness.WaitListening(t, old, harness.StartTimeout, pollInterval)
	if !ok {
		t.Fatalf("release %s could not bind; log:\n%s", releaseFormat2, old.Log())
	}
	runAgencies(t, addr, data, winners)
	if !hasLine(old, "sorteo", "success", "digest", draw.String()) {
		t.Fatalf("release %s did not hold the draw with digest %s; log:\n%s", releaseFormat2, draw, harness.Tail(old.Log(), 10))
	}
	if err := old.Terminate(exitTimeout); err != nil {
		t.Fatalf("stop release %s: %v", releaseFormat2, err)
	}
	legacy := filepath.Join(dir, "bets.csv"+storage.LegacyJournalSuffix)
	oldJournal, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatalf("release %s wrote no %s: %v", releaseFormat2, legacy, err)
	}
	oldBets, err := os.ReadFile(harness.BetsPath(dir))
	if err != nil {
		t.Fatal(err)
	}

	srv := newCrashServer(t, dir, map[string]string{"AGENCIES_AMOUNT": "3"})
	p := srv.start()
	assertMigrated(t, p, dir, oldJournal)
	if !hasLine(p, "sorteo", "success", "digest", draw.String()) {
		t.Errorf("the migrated store does not announce the draw's digest %s:\n%s", draw, p.Log())
	}
	runLottery(t, srv, data, winners)
	if err := p.Terminate(exitTimeout); err != nil {
		t.Fatalf("stop the central: %v", err)
	}
	if fails := harness.Filter(p.Lines(), "", "fail"); len(fails) != 0 {
		t.Errorf("the central logged failures: %v", fails)
	}
	if got, err := os.ReadFile(harness.BetsPath(dir)); err != nil || !bytes.Equal(got, oldBets) {
		t.Errorf("the migration changed bets.csv (%d of %d bytes, %v)", len(got), len(oldBets), err)
	}
	assertVerified(t, runVerify(t, backend{name: "file"}, "verify", harness.BetsPath(dir)), agencyDigests, draw, "recorded")
}

// runAgencies runs agencies 1..len(winners) against addr until each has
// its winners, and checks their counts.
func runAgencies(t *testing.T, addr, data string, winners []int) {
	t.Helper()
	assertAgenciesWon(t, startAgencies(t, addr, data, len(winners)), winners)
}

// assertMigrated checks that the central p migrated the format 2 journal
// in dir, logging it, and kept the old one, byte for byte, beside the
// store under a name no release reads.
func assertMigrated(t *testing.T, p *harness.Process, dir string, oldJournal []byte) {
	t.Helper()
	legacy := "bets.csv" + storage.LegacyJournalSuffix
	lines := harness.Filter(p.Lines(), "migration", "success")
	if len(lines) != 1 || lines[0].Fields["from_format"] != "2" || lines[0].Fields["to_format"] != "3" {
		t.Fatalf("want one migration line from format 2 to 3; log:\n%s", p.Log())
	}
	t.Logf("migrated: %s", lines[0].Raw)
	kept := lines[0].Fields["old_journal"]
	if !strings.HasPrefix(filepath.Base(kept), legacy+".migrated-") {
		t.Errorf("the old journal is kept as %q, want %s.migrated-<time>", kept, legacy)
	}
	if !filepath.IsAbs(kept) {
		kept = filepath.Join(dir, kept)
	}
	if got, err := os.ReadFile(kept); err != nil || !bytes.Equal(got, oldJournal) {
		t.Errorf("%s is not the old journal (%d of %d bytes, %v)", kept, len(got), len(oldJournal), err)
	}
	if _, err := os.Stat(filepath.Join(dir, legacy)); err == nil {
		t.Errorf("%s is still there after the migration: a release before format 3 would read it", legacy)
	}
	if _, err := os.Stat(filepath.Join(dir, journalName)); err != nil {
		t.Errorf("no %s after the migration: %v", journalName, err)
	}
}
