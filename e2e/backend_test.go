package e2e

import (
	"path/filepath"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// backend is where a test's central keeps its bets: the file store, or a
// database of its own on the shared PostgreSQL test cluster. The suite
// runs its lotteries against both (forEachBackend): one suite, two
// backends.
type backend struct {
	name string
	url  string // STORAGE_URL; empty for the file store
}

// forEachBackend runs f as a subtest per backend. The PostgreSQL one is
// skipped, saying why, where PostgreSQL is not installed.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("file", func(t *testing.T) { f(t, backend{name: "file"}) })
	t.Run("postgres", func(t *testing.T) { f(t, backend{name: "postgres", url: pgtest.Database(t)}) })
}

// env returns env with what the central needs to use b.
func (b backend) env(env map[string]string) map[string]string {
	if b.url == "" {
		return env
	}
	return harness.Merge(env, map[string]string{"STORAGE_URL": b.url})
}

// betsFile returns a bets.csv of what a central working in dir stored:
// the file store's own, or the database's as `server export` writes it.
func (b backend) betsFile(t *testing.T, dir string) string {
	t.Helper()
	if b.url == "" {
		return harness.BetsPath(dir)
	}
	path := filepath.Join(t.TempDir(), "bets.csv")
	p := startProcess(t, "export", serverBin, t.TempDir(), b.env(nil), "export", path)
	if code := p.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("server export exited %d:\n%s", code, p.Log())
	}
	return path
}
