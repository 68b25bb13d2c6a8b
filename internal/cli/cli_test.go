package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/config"
)

// TestParse checks the three outcomes of Parse: help on stdout and 0,
// a bad flag on stderr and ExitUsage, and flags that let the command run.
func TestParse(t *testing.T) {
	c := Command{Synopsis: "prog [-x N]", About: "Does things.", SettingsIntro: "from the file.",
		Settings: config.ServerSettings()}
	cases := []struct {
		args             []string
		code             int
		done             bool
		stdout, stderr   string // substrings; "" wants nothing written there
		noStdout, noErrs bool
	}{
		{args: []string{"-h"}, code: 0, done: true, stdout: "usage: prog [-x N]\n\nDoes things.\n\nFlags:\n  -x int", noErrs: true},
		{args: []string{"--help"}, code: 0, done: true, stdout: "Settings: from the file.\n  SERVER_PORT  default 12345", noErrs: true},
		{args: []string{"-y"}, code: ExitUsage, done: true, stderr: "flag provided but not defined: -y\nrun prog -h", noStdout: true},
		{args: []string{"-x", "3", "rest"}, code: 0, done: false, noStdout: true, noErrs: true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("prog", flag.ContinueOnError)
			fs.Int("x", 0, "a number")
			var stdout, stderr bytes.Buffer
			code, done := Parse(fs, c, tc.args, &stdout, &stderr)
			if code != tc.code || done != tc.done {
				t.Errorf("Parse = %d, %v; want %d, %v", code, done, tc.code, tc.done)
			}
			if !strings.Contains(stdout.String(), tc.stdout) || tc.noStdout && stdout.Len() > 0 {
				t.Errorf("stdout %q, want it to hold %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) || tc.noErrs && stderr.Len() > 0 {
				t.Errorf("stderr %q, want it to hold %q", stderr.String(), tc.stderr)
			}
		})
	}
}

// TestConfigPath checks that the default file may be missing and a file
// -config names may not.
func TestConfigPath(t *testing.T) {
	if got, err := ConfigPath("", "config.ini"); got != "config.ini" || err != nil {
		t.Errorf("ConfigPath without -config = %q, %v; want config.ini", got, err)
	}
	missing := filepath.Join(t.TempDir(), "none.ini")
	if _, err := ConfigPath(missing, "config.ini"); err == nil || !strings.Contains(err.Error(), "-config") {
		t.Errorf("ConfigPath(%s) = %v, want an error naming -config", missing, err)
	}
	there := filepath.Join(t.TempDir(), "central.ini")
	if err := os.WriteFile(there, []byte("[DEFAULT]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ConfigPath(there, "config.ini"); got != there || err != nil {
		t.Errorf("ConfigPath(%s) = %q, %v; want it", there, got, err)
	}
}
