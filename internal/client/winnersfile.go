package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/atomicfile"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// ErrWinnersFile is returned when the agency got its winners but could
// not write them to winners.file. The agency has logged its
// ganadores_guardados fail line by then.
var ErrWinnersFile = errors.New("the winners file could not be written")

// tempPrefix is how the temporary file of winners.file's path begins:
// hidden, and never the real file's name. A temporary file an agency
// killed mid-write leaves behind is removed by its next run
// (removeStaleTemps); an agency only ever writes its own winners.file.
func tempPrefix(path string) string { return atomicfile.TempPrefix(path) }

// saveWinners writes docs to winners.file, when it is set, and logs the
// ganadores_guardados line: success, or fail naming the file.
func (a *Agency) saveWinners(docs []string) error {
	path := a.cfg.WinnersFile
	if path == "" {
		return nil
	}
	if err := writeFileAtomic(path, docs); err != nil {
		a.log.Error("ganadores_guardados", logging.Fail, "file", path, "error", err)
		return fmt.Errorf("%w: %s: %w", ErrWinnersFile, path, err)
	}
	a.log.Info("ganadores_guardados", logging.Success, "file", path, "cant_ganadores", len(docs))
	return nil
}

// writeFileAtomic writes lines to path, one per line, so that path is
// either as it was or holds all of them, even if the process or the
// machine stops at any moment (atomicfile.Write), readable by the
// operator's tools (0644).
func writeFileAtomic(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return atomicfile.Write(path, []byte(b.String()), 0o644, true)
}

// removeStaleTemps removes the temporary files of winners.file that an
// agency killed while writing it left behind. It is best effort: a
// directory it cannot read is the write's failure to report, later.
func (a *Agency) removeStaleTemps() {
	path := a.cfg.WinnersFile
	if path == "" {
		return
	}
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			stale := filepath.Join(dir, e.Name())
			if err := os.Remove(stale); err == nil {
				a.log.Debug("ganadores_guardados", logging.InProgress, "removed", stale)
			}
		}
	}
}
