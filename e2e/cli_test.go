package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/config"
)

// runBin runs bin with args in dir and env to its end and returns its
// exit status, stdout and stderr.
func runBin(t *testing.T, bin, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	p := startProcess(t, filepath.Base(bin), bin, dir, env, args...)
	code := p.WaitExit(t, exitTimeout)
	return code, p.Log(), p.Stderr()
}

// TestHelp runs -h, -help and --help on every command of both binaries,
// in a directory without a configuration and with a bad value in the
// environment (help needs no valid configuration): each exits 0 and lists,
// on stdout, -config and every key the loader knows with its variable.
func TestHelp(t *testing.T) {
	bad := map[string]string{"SERVER_PORT": "not-a-port", "CLI_SERVER_TIMEOUT": "soon"}
	cases := []struct {
		bin      string
		args     []string
		settings []config.Setting
	}{
		{serverBin, []string{"-h"}, config.ServerSettings()},
		{serverBin, []string{"--help"}, config.ServerSettings()},
		{serverBin, []string{"serve", "-h"}, config.ServerSettings()},
		{serverBin, []string{"healthcheck", "-help"}, config.ServerSettings()},
		{serverBin, []string{"verify", "-h"}, config.ServerSettings()},
		{serverBin, []string{"backup", "--help"}, config.ServerSettings()},
		{serverBin, []string{"export", "-h"}, config.ServerSettings()},
		{serverBin, []string{"certs", "-h"}, config.ServerSettings()},
		{clientBin, []string{"-h"}, config.ClientSettings()},
		{clientBin, []string{"run", "--help"}, config.ClientSettings()},
		{clientBin, []string{"probe", "-h"}, config.ClientSettings()},
	}
	for _, tc := range cases {
		name := filepath.Base(tc.bin) + " " + strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, tc.bin, t.TempDir(), bad, tc.args...)
			if code != 0 {
				t.Fatalf("%s exited %d, want 0; stderr: %s", name, code, stderr)
			}
			if !strings.HasPrefix(stdout, "usage: ") || !strings.Contains(stdout, "-config") {
				t.Errorf("%s: stdout does not start with its usage or lacks -config:\n%s", name, stdout)
			}
			for _, s := range tc.settings {
				if !strings.Contains(stdout, "  "+s.Key) || !strings.Contains(stdout, s.Env) || !strings.Contains(stdout, s.Meaning) {
					t.Errorf("%s: the help lacks the setting %s (%s): %s", name, s.Key, s.Env, s.Meaning)
				}
			}
		})
	}
}

// TestBadUsage checks that an unknown command, a bad flag or a stray
// argument exits 2 with the error and where the help is on stderr, and
// nothing on stdout.
func TestBadUsage(t *testing.T) {
	cases := []struct {
		bin  string
		args []string
	}{
		{serverBin, []string{"bogus"}},
		{serverBin, []string{"-bogus"}},
		{serverBin, []string{"healthcheck", "extra"}},
		{serverBin, []string{"verify", "-export", "a", "b"}},
		{serverBin, []string{"backup"}},
		{serverBin, []string{"certs", "-bogus"}},
		{clientBin, []string{"bogus"}},
		{clientBin, []string{"probe", "-bogus"}},
		{clientBin, []string{"-config", "/nonexistent/config.yaml"}},
	}
	for _, tc := range cases {
		name := filepath.Base(tc.bin) + " " + strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, tc.bin, t.TempDir(), nil, tc.args...)
			if code != 2 || stdout != "" || stderr == "" {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2, nothing, the error", name, code, stdout, stderr)
			}
		})
	}
}

// versionLine is the one line of -version (buildinfo.Info.Line).
var versionLine = regexp.MustCompile(`^(server|client) version \S+ revision ([0-9a-f]{40}|unknown)( modified)? go\S+\n$`)

// TestVersion runs -version on both binaries: one line, exit 0, and the
// revision of the checkout where the build recorded one (a build with
// -buildvcs=false, or of a git worktree, records none: then "unknown").
func TestVersion(t *testing.T) {
	for _, bin := range []string{serverBin, clientBin} {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			code, stdout, stderr := runBin(t, bin, t.TempDir(), nil, "-version")
			m := versionLine.FindStringSubmatch(stdout)
			if code != 0 || m == nil || m[1] != filepath.Base(bin) {
				t.Fatalf("-version: exit %d, stdout %q, stderr %q; want 0 and one line matching %s", code, stdout, stderr, versionLine)
			}
			if m[2] == "unknown" {
				t.Logf("the build recorded no revision: %s", strings.TrimSpace(stdout))
				return
			}
			head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output()
			if err == nil && m[2] != strings.TrimSpace(string(head)) {
				t.Errorf("-version names revision %s, the checkout is at %s", m[2], head)
			}
		})
	}
}
