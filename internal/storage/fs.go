package storage

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/loteria-nacional/quiniela/internal/atomicfile"
)

// File is what the store needs of a file. It is an interface so that tests
// can stand a fake in for the disk and decide what a power loss keeps.
type File interface {
	io.ReaderAt
	// Write appends p at the end of the file.
	Write(p []byte) (int, error)
	// WriteAt writes p at off, within the file: the journal's commit
	// slots are overwritten in place.
	WriteAt(p []byte, off int64) (int, error)
	// Sync puts what was written on stable storage.
	Sync() error
	// Truncate cuts the file to size bytes; Write appends after them.
	Truncate(size int64) error
	// Size returns the file's size.
	Size() (int64, error)
	Close() error
}

// FS opens the store's files.
type FS interface {
	// OpenFile opens the named file for reading and appending, creating
	// it when it does not exist.
	OpenFile(name string) (File, error)
	// Exists reports whether the named file exists.
	Exists(name string) (bool, error)
	// Lock takes the named lock file exclusively, or fails at once when
	// another process holds it. Closing the result releases it.
	Lock(name string) (io.Closer, error)
	// WriteFile creates the named file, which must not exist, with data,
	// and puts it on stable storage.
	WriteFile(name string, data []byte) error
	// Rename replaces newname with oldname, atomically, and puts the
	// change on stable storage.
	Rename(oldname, newname string) error
	// Remove removes the named file and puts the change on stable
	// storage.
	Remove(name string) error
}

// OSFS is the operating system's file system.
type OSFS struct{}

// OpenFile implements FS. A file it creates is made durable by syncing its
// directory too, so that a crash cannot lose the file itself.
func (o OSFS) OpenFile(name string) (File, error) {
	existed, err := o.Exists(name)
	if err != nil {
		return nil, err
	}
	// Not O_APPEND, under which WriteAt is refused: Write appends
	// because the offset is kept at the end (see osFile).
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	if !existed {
		if err := atomicfile.SyncDir(filepath.Dir(name)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return osFile{f}, nil
}

// Exists implements FS.
func (OSFS) Exists(name string) (bool, error) {
	_, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Lock implements FS with flock(2) where the system has it.
func (OSFS) Lock(name string) (io.Closer, error) { return lockFile(name) }

// WriteFile implements FS: atomically, so that a crash leaves no half
// of it (atomicfile.Write).
func (OSFS) WriteFile(name string, data []byte) error {
	return atomicfile.Write(name, data, 0o644, false)
}

// Rename implements FS.
func (OSFS) Rename(oldname, newname string) error {
	if err := os.Rename(oldname, newname); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(newname))
}

// Remove implements FS.
func (OSFS) Remove(name string) error {
	if err := os.Remove(name); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(name))
}

// osFile is a store's file: its offset stays at the end (WriteAt does
// not move it), so that Write appends.
type osFile struct{ *os.File }

// Truncate implements File, keeping the offset at the new end.
func (f osFile) Truncate(size int64) error {
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	_, err := f.Seek(size, io.SeekStart)
	return err
}

func (f osFile) Size() (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}
