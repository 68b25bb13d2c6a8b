package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
)

// fakeFS is an in-memory FS that knows which bytes of each file were
// synced, so that a test can simulate a power loss: the disk keeps what
// was synced plus any prefix of what was not.
type fakeFS struct {
	mu     sync.Mutex
	files  map[string]*fakeFile
	locked map[string]bool
	// syncFails, when set, is asked before every Sync, one call at a
	// time (hook); a non-nil answer fails that Sync and leaves the data
	// unsynced.
	syncFails func(name string) error
	hook      sync.Mutex
}

type fakeFile struct {
	fs     *fakeFS
	name   string
	data   []byte // what a reader sees now
	synced int    // data[:synced] is on stable storage, but for overwrites
	// overwrites are the writes into data[:synced] since the last sync,
	// with the bytes they replaced: a power loss keeps each, or not.
	overwrites []overwrite
	closed     bool
}

type overwrite struct {
	off int
	old []byte
}

func newFakeFS() *fakeFS {
	return &fakeFS{files: make(map[string]*fakeFile), locked: make(map[string]bool)}
}

// Lock is an in-process lock; a crash (see crash) drops every lock, as
// the kernel does for a dead process.
func (fs *fakeFS) Lock(name string) (io.Closer, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.locked[name] {
		return nil, fmt.Errorf("%s is locked", name)
	}
	fs.locked[name] = true
	return unlockFunc(func() error {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		delete(fs.locked, name)
		return nil
	}), nil
}

type unlockFunc func() error

func (f unlockFunc) Close() error { return f() }

func (fs *fakeFS) OpenFile(name string) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.files[name]
	if !ok {
		f = &fakeFile{fs: fs, name: name}
		fs.files[name] = f
	}
	// A new handle on the same bytes.
	h := &fakeFile{fs: fs, name: name}
	fs.files[name] = h
	h.data, h.synced, h.overwrites = f.data, f.synced, f.overwrites
	return h, nil
}

func (fs *fakeFS) WriteFile(name string, data []byte) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.files[name]; ok {
		return fmt.Errorf("%s exists", name)
	}
	fs.files[name] = &fakeFile{fs: fs, name: name, data: bytes.Clone(data), synced: len(data)}
	return nil
}

func (fs *fakeFS) Rename(oldname, newname string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.files[oldname]
	if !ok {
		return fmt.Errorf("%s does not exist", oldname)
	}
	delete(fs.files, oldname)
	fs.files[newname] = &fakeFile{fs: fs, name: newname, data: f.data, synced: f.synced}
	return nil
}

func (fs *fakeFS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.files[name]; !ok {
		return fmt.Errorf("%s does not exist", name)
	}
	delete(fs.files, name)
	return nil
}

func (fs *fakeFS) Exists(name string) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, ok := fs.files[name]
	return ok, nil
}

// crash simulates a power loss: every file keeps its synced bytes and a
// random prefix of the rest. Open handles become useless.
func (fs *fakeFS) crash(rng *rand.Rand) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for name, f := range fs.files {
		for i := len(f.overwrites) - 1; i >= 0; i-- {
			o := f.overwrites[i]
			// An overwrite within one 512-byte sector (the journal's
			// commit slots) lands whole or not at all.
			if rng.IntN(2) == 0 && o.off+len(o.old) <= len(f.data) {
				copy(f.data[o.off:], o.old)
			}
		}
		keep := f.synced
		if extra := len(f.data) - f.synced; extra > 0 {
			keep += rng.IntN(extra + 1)
		}
		keep = min(keep, len(f.data))
		fs.files[name] = &fakeFile{fs: fs, name: name, data: bytes.Clone(f.data[:keep]), synced: keep}
		f.closed = true
	}
	clear(fs.locked)
}

// contents returns a file's current bytes.
func (fs *fakeFS) contents(name string) []byte {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.files[name]; ok {
		return bytes.Clone(f.data)
	}
	return nil
}

// setContents replaces a file's bytes, all of them synced.
func (fs *fakeFS) setContents(name string, data []byte) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.files[name] = &fakeFile{fs: fs, name: name, data: bytes.Clone(data), synced: len(data)}
}

var errClosedFake = errors.New("fake file closed")

func (f *fakeFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *fakeFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, errClosedFake
	}
	f.data = append(f.data, p...)
	return len(p), nil
}

func (f *fakeFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, errClosedFake
	}
	if int(off)+len(p) > len(f.data) {
		return 0, fmt.Errorf("fake WriteAt past the end of %s", f.name)
	}
	if int(off) < f.synced {
		end := min(int(off)+len(p), f.synced)
		f.overwrites = append(f.overwrites, overwrite{off: int(off), old: bytes.Clone(f.data[off:end])})
	}
	f.data = slices.Clone(f.data) // handles that came before keep theirs
	copy(f.data[off:], p)
	return len(p), nil
}

func (f *fakeFile) Sync() error {
	f.fs.mu.Lock()
	fails := f.fs.syncFails
	f.fs.mu.Unlock()
	if fails != nil {
		f.fs.hook.Lock()
		err := fails(f.name)
		f.fs.hook.Unlock()
		if err != nil {
			return err
		}
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return errClosedFake
	}
	f.synced, f.overwrites = len(f.data), nil
	return nil
}

func (f *fakeFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if size > int64(len(f.data)) {
		return fmt.Errorf("fake truncate grows %s", f.name)
	}
	f.data = f.data[:size]
	f.synced = min(f.synced, int(size))
	f.overwrites = slices.DeleteFunc(f.overwrites, func(o overwrite) bool { return o.off >= int(size) })
	return nil
}

func (f *fakeFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.data)), nil
}

func (f *fakeFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.closed = true
	return nil
}
