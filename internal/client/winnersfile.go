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

// winnersMode is a winners file's mode: the winners' documents are the
// agency's own, so no other user of its host (and no other agency that
// shares its user, where a directory is shared) reads them by the file's
// mode; the operator reads them as the agency's user or as root (docker cp).
const winnersMode = 0o600

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

// checkWinnersFile refuses, before the first connection, a winners.file
// the agency could not write once it has its winners: the data file itself
// (by path, or by a hard link: os.SameFile), a directory, or a path whose
// directory does not exist or takes no new file (read-only, not a
// directory). It tries the directory with a temporary file of the
// winners' own pattern, removed at once (and by removeStaleTemps, where
// the agency is killed in between).
func checkWinnersFile(path, dataFile string) error {
	if path == "" {
		return nil
	}
	wrap := func(err error) error { return fmt.Errorf("winners.file %s: %w", path, err) }
	if filepath.Clean(path) == filepath.Clean(dataFile) {
		return wrap(errors.New("it is data.file: the winners would overwrite the bets"))
	}
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return wrap(errors.New("it is a directory: want a file path"))
	case err == nil:
		if data, err := os.Stat(dataFile); err == nil && os.SameFile(info, data) {
			return wrap(fmt.Errorf("it is data.file %s (a link to it): the winners would overwrite the bets", dataFile))
		}
	case !errors.Is(err, os.ErrNotExist):
		return wrap(err)
	}
	probe, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
	if err != nil {
		return wrap(fmt.Errorf("cannot be created: %w", err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// writeFileAtomic writes lines to path, one per line, so that path is
// either as it was or holds all of them, even if the process or the
// machine stops at any moment (atomicfile.Write), readable by its owner
// alone (winnersMode).
func writeFileAtomic(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return atomicfile.Write(path, []byte(b.String()), winnersMode, true)
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
