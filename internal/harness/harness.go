// Package harness starts the real binaries of the lottery for the tests
// and the load generator: it finds the repository, builds the commands
// once, starts a central or an agency as a process with its own working
// directory, configuration and environment, keeps its log, parses it with
// logging.Parse, waits for a line, and stops or kills the process.
//
// Functions that take a TB fail the test on error and tear the process
// down with t.Cleanup; the others return errors, for the load generator,
// which is a command and not a test.
package harness

import (
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// TB is the part of testing.TB the harness uses; *testing.T and
// *testing.B satisfy it. It is an interface of its own so that the load
// generator, a command, does not link the testing package.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	TempDir() string
}

// RepoRoot walks up from the working directory (a package's directory
// under go test) to the directory that holds go.mod.
func RepoRoot() (string, error) {
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

// Build builds the commands pkgs (such as "./cmd/server") of the module at
// root into dir, static and without file paths, as the images are built.
func Build(root, dir string, pkgs ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go tool not found: %w", err)
	}
	args := append([]string{"build", "-trimpath", "-o", dir + string(os.PathSeparator)}, pkgs...)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// FreeAddr returns a 127.0.0.1 address on which nothing listens now.
// Another process may take it before the caller does: where a central
// can listen on port 0 and log its address, StartCentral does that
// instead.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

// MustFreeAddr is FreeAddr for a test: it fails the test on error.
func MustFreeAddr(t TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatalf("free address: %v", err)
	}
	return addr
}

// Env is a minimal environment plus env, sorted by key: nothing of the
// caller's own environment (a CLI_ID or SERVER_PORT set by whoever runs
// the tests) leaks into a process.
func Env(env map[string]string) []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// Merge returns a copy of base with every key of over set to its value.
func Merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}
