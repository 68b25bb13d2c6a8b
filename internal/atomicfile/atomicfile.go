// Package atomicfile writes a file so that it is either as it was or
// whole, whatever stops the process or the machine: the one way the
// project writes a file that must never be seen half written (a
// certificate, a key, an agency's winners).
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix is the name a temporary file of path starts with, in
// path's directory: hidden, and never path itself. A process killed
// while it writes may leave one behind; its owner may remove those.
func TempPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// Write writes data to path with mode: a temporary file in the same
// directory (created 0600, so that a key is never readable by others, not
// even for a moment), fsynced, put in place, and the directory fsynced.
// With replace it is renamed over path; without, path must not exist
// (the temporary file is hard-linked to it, which fails if it does).
func Write(path string, data []byte, mode fs.FileMode, replace bool) error {
	return WriteFrom(path, bytes.NewReader(data), mode, replace)
}

// WriteFrom is Write with the file's bytes read from r, for a file too
// large to hold in memory (a backup of bets.csv).
func WriteFrom(path string, r io.Reader, mode fs.FileMode, replace bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix(path)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	err = f.Chmod(mode)
	if err == nil {
		_, err = io.Copy(f, r)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = putNew(tmp, path)
	}
	if err != nil {
		return err
	}
	return SyncDir(dir)
}

// putNew moves tmp to path unless path exists.
func putNew(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: not replaced", path)
	}
	// A file system without hard links: check, then rename.
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("%s exists: not replaced", path)
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return serr
	}
	return os.Rename(tmp, path)
}

// SyncDir makes the entries of dir (a file created, renamed, linked)
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
