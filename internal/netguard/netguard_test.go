package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// flakyListener is a real listener whose first fails Accepts return err,
// as accept4 does when the process is out of descriptors.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// Close closes the listener: its Accept then fails as a closed one does.
func (l *flakyListener) Close() error {
	l.mu.Lock()
	l.fails = 0
	l.mu.Unlock()
	return l.Listener.Close()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// acceptErr is an Accept error as package net returns it.
func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// timeoutErr is a net.Error that times out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// acceptLines returns the accept fail lines of log.
func acceptLines(log string) []harness.Line {
	return harness.Filter(harness.ParseLog(log), "accept", logging.ResultFail)
}

// dialAndAccept dials ln's address and returns what lis.Accept returns.
func dialAndAccept(t *testing.T, ln, lis net.Listener) (net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return lis.Accept()
}

// TestBackoffOutlivesTemporaryErrors: an Accept that fails for a reason
// that passes is retried until a connection comes, and the episode is
// one line with its count and the error; an error that does not pass is
// returned at once, and says nothing.
func TestBackoffOutlivesTemporaryErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"EMFILE", acceptErr(syscall.EMFILE), "too many open files"},
		{"ENFILE", acceptErr(syscall.ENFILE), "too many open files in system"},
		{"ECONNABORTED", acceptErr(syscall.ECONNABORTED), "connection abort"},
		{"timeout", timeoutErr{}, "i/o timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const fails = 5
			log := &harness.Buffer{}
			ln := listen(t)
			lis := Backoff(&flakyListener{Listener: ln, fails: fails, err: tc.err}, logging.New(log, logging.LevelWarning-4))
			c, err := dialAndAccept(t, ln, lis)
			if err != nil {
				t.Fatalf("Accept after %d %v: %v, want a connection", fails, tc.err, err)
			}
			c.Close()
			lines := acceptLines(log.String())
			if len(lines) != 1 {
				t.Fatalf("%d accept fail lines, want one for the episode:\n%s", len(lines), log)
			}
			if f := lines[0].Fields; f["count"] != fmt.Sprint(fails) || !strings.Contains(f["error"], tc.want) || f["address"] != ln.Addr().String() {
				t.Errorf("episode line %q, want count %d, error %q and the address", lines[0], fails, tc.want)
			}
		})
	}
	t.Run("not temporary", func(t *testing.T) {
		log := &harness.Buffer{}
		ln := listen(t)
		errBad := errors.New("listener broken")
		lis := Backoff(&flakyListener{Listener: ln, fails: 1, err: errBad}, logging.New(log, logging.LevelWarning-4))
		if _, err := lis.Accept(); !errors.Is(err, errBad) {
			t.Errorf("Accept: %v, want %v at once", err, errBad)
		}
		if log.String() != "" {
			t.Errorf("an error that ends the listener logged %q: its server says it", log)
		}
	})
}

// TestBackoffSummarisesLongEpisodes: an episode longer than SummaryEvery
// is said every SummaryEvery with the count since the last line, and its
// rest when it ends: the counts add up to every error.
func TestBackoffSummarisesLongEpisodes(t *testing.T) {
	const fails = 4
	log := &harness.Buffer{}
	ln := listen(t)
	lis := Backoff(&flakyListener{Listener: ln, fails: fails, err: acceptErr(syscall.EMFILE)}, logging.New(log, logging.LevelWarning-4)).(*backoffListener)
	clock := time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC)
	lis.now = func() time.Time { // each error 6 s after the previous
		clock = clock.Add(6 * time.Second)
		return clock
	}
	if _, err := dialAndAccept(t, ln, lis); err != nil {
		t.Fatal(err)
	}
	// Errors at 6, 12, 18 and 24 s: the third is 12 s after the first,
	// said with 3; the fourth when the episode ends.
	var counts []string
	for _, l := range acceptLines(log.String()) {
		counts = append(counts, l.Fields["count"])
	}
	if strings.Join(counts, ",") != "3,1" {
		t.Errorf("episode lines' counts %v, want [3 1]:\n%s", counts, log)
	}
}

// TestBackoffCloseSaysTheEpisode: a listener closed during an episode
// says it, and its Accept returns the listener's closed error.
func TestBackoffCloseSaysTheEpisode(t *testing.T) {
	log := &harness.Buffer{}
	ln := listen(t)
	lis := Backoff(&flakyListener{Listener: ln, fails: 1 << 30, err: acceptErr(syscall.EMFILE)}, logging.New(log, logging.LevelWarning-4))
	accepted := make(chan error, 1)
	go func() {
		_, err := lis.Accept()
		accepted <- err
	}()
	waitFor(t, func() bool { return lis.(*backoffListener).counted() > 0 })
	lis.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if lines := acceptLines(log.String()); len(lines) == 0 {
		t.Errorf("Close during an episode logged nothing:\n%s", log)
	}
}

// counted returns the errors of the episode not yet said.
func (l *backoffListener) counted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met within 10 s")
		case <-time.After(time.Millisecond):
		}
	}
}

// TestLimitCloseEndsAWait: an Accept waiting for a slot returns when the
// listener closes, and a slot frees when its connection closes.
func TestLimitCloseEndsAWait(t *testing.T) {
	ln := listen(t)
	lis := Limit(ln, 1)
	c, err := dialAndAccept(t, ln, lis)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // a second Close frees nothing more
	held, err := dialAndAccept(t, ln, lis)
	if err != nil {
		t.Fatalf("Accept once the only connection closed: %v", err)
	}
	defer held.Close()
	accepted := make(chan error, 1)
	go func() {
		_, err := lis.Accept() // waits: the one slot is held
		accepted <- err
	}()
	lis.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Errorf("a waiting Accept after Close: %v, want net.ErrClosed", err)
	}
}

// TestCheckFileLimit: a limit that cannot hold what the central needs is
// refused with every number; one that can is returned.
func TestCheckFileLimit(t *testing.T) {
	need := Need{Connections: 4096, Admin: 64, Own: OwnFiles}
	for _, tc := range []struct {
		name    string
		lim     Files
		wantErr []string
	}{
		{"ulimit -n 256", Files{Soft: 256, Hard: 256}, []string{"4224", "4096", "64", "256"}},
		{"one short", Files{Soft: 4223, Hard: 8192}, []string{"4224", "4223", "8192"}},
		{"enough", Files{Soft: 4224, Hard: 4224}, nil},
		{"docker's default", Files{Soft: 1048575, Hard: 1048576}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim, err := CheckFileLimit(func() (Files, error) { return tc.lim, nil }, need)
			if tc.wantErr == nil {
				if err != nil || lim != tc.lim {
					t.Errorf("CheckFileLimit = %v, %v, want %v", lim, err, tc.lim)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckFileLimit(%v) accepted it, want it refused", tc.lim)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
		})
	}
	errGet := errors.New("getrlimit failed")
	if _, err := CheckFileLimit(func() (Files, error) { return Files{}, errGet }, need); !errors.Is(err, errGet) {
		t.Errorf("CheckFileLimit with a failing getter: %v, want %v", err, errGet)
	}
}

// TestFileLimitRaisedByGo: Go raised the soft limit near the hard one at
// start, so nothing of the central's needs raising it.
func TestFileLimitRaisedByGo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checked where the central is deployed: Linux")
	}
	lim, err := FileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if lim.Soft+1 < lim.Hard {
		t.Errorf("soft limit %d, hard %d: Go raises the soft one to the hard one less one at start", lim.Soft, lim.Hard)
	}
}
