package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFile writes data to dir/name with mode, atomically: a temporary
// file in dir (created 0600, so a key is never readable by others, not
// even for a moment), fsynced, then put in place and the directory
// fsynced. Unless replace, an existing dir/name is never replaced: the
// temporary file is hard-linked to name, which fails if name exists.
func writeFile(dir, name string, data []byte, mode fs.FileMode, replace bool) (err error) {
	final := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
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
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	if replace {
		err = os.Rename(tmp, final)
	} else {
		err = putNew(tmp, final)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// putNew moves tmp to final unless final exists.
func putNew(tmp, final string) error {
	err := os.Link(tmp, final)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: not replaced", final)
	}
	// A file system without hard links: check, then rename.
	if _, serr := os.Lstat(final); serr == nil {
		return fmt.Errorf("%s exists: not replaced", final)
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return serr
	}
	return os.Rename(tmp, final)
}

// syncDir makes the directory's entries (a rename, a link) durable.
func syncDir(dir string) error {
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
