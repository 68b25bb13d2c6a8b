package logging

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestAfterWrite checks how long the wait takes for each kind of output:
// a pipe whose reader takes the line waits the settle, one whose reader
// does not waits the limit and no more, and a file waits nothing.
func TestAfterWrite(t *testing.T) {
	const (
		settle = 30 * time.Millisecond
		limit  = 300 * time.Millisecond
	)
	line := []byte("2024-08-21 22:11:15 INFO     action: sorteo | result: success | ganadores: 3\n")
	tests := []struct {
		name     string
		output   func(t *testing.T) (w *os.File, read func())
		min, max time.Duration
	}{
		{"file", func(t *testing.T) (*os.File, func()) {
			f, err := os.Create(filepath.Join(t.TempDir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f, func() {}
		}, 0, settle / 2},
		{"pipe read at once", func(t *testing.T) (*os.File, func()) {
			r, w := pipe(t)
			return w, func() { go io.Copy(io.Discard, r) }
		}, settle, limit / 2},
		{"pipe left unread", func(t *testing.T) (*os.File, func()) {
			_, w := pipe(t)
			return w, func() {}
		}, limit, 3 * limit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, read := tt.output(t)
			wait := AfterWrite(w, settle, limit)
			if _, err := w.Write(line); err != nil {
				t.Fatal(err)
			}
			read()
			start := time.Now()
			wait()
			if took := time.Since(start); took < tt.min || took > tt.max {
				t.Errorf("the wait took %v, want %v to %v", took, tt.min, tt.max)
			}
		})
	}
}

// TestUnread checks that unread counts what a pipe's reader has not
// taken.
func TestUnread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("unread bytes of a pipe are known on Linux only")
	}
	r, w := pipe(t)
	for _, step := range []struct {
		write, read, want int
	}{
		{0, 0, 0}, {10, 0, 10}, {5, 0, 15}, {0, 15, 0},
	} {
		if _, err := w.Write(make([]byte, step.write)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, make([]byte, step.read)); err != nil {
			t.Fatal(err)
		}
		if n, err := unread(w); err != nil || n != step.want {
			t.Errorf("after writing %d and reading %d: unread = %d, %v; want %d", step.write, step.read, n, err, step.want)
		}
	}
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close()
		r.Close()
	})
	return r, w
}

// BenchmarkAfterWrite measures the central's wait after its sorteo line
// (its settle and limit) on a pipe whose reader takes each line at once,
// as loadgen's and Docker's readers do: the cost of the ordering per draw.
func BenchmarkAfterWrite(b *testing.B) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	go io.Copy(io.Discard, r)
	wait := AfterWrite(w, 10*time.Millisecond, time.Second)
	line := []byte("2024-08-21 22:11:15 INFO     action: sorteo | result: success | ganadores: 3\n")
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		wait()
	}
}
