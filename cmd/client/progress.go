package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/loteria-nacional/quiniela/internal/client"
)

// progress is the bar of bets acknowledged an agency shows on standard
// error when its standard output is a terminal. It is the agency's
// client.Observer (and client.Resumer), and the writer of its log: a log
// line clears the bar first, and the bar is drawn again at the next ack,
// so a line never lands in the middle of it.
type progress struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	log  io.Writer
	done bool // the bar is cleared for good
}

// newProgress returns the bar for total bets, drawn on w; a total below
// 1 (unknown) is a spinner that counts bets.
func newProgress(total int64, w, log io.Writer) *progress {
	bar := progressbar.NewOptions64(max(total, -1),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("apuestas"),
		progressbar.OptionSetItsString("bets"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	return &progress{bar: bar, log: log}
}

// OnResume starts the bar at the bets the central already holds.
func (p *progress) OnResume(held uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.bar.Set64(int64(held))
	}
}

// OnAck adds an acknowledged batch.
func (p *progress) OnAck(bets int, _ time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.bar.Add(bets)
	}
}

// OnDone clears the bar: every bet is acknowledged, the lines that
// follow (notificacion, consulta_ganadores ...) are the run's end.
func (p *progress) OnDone() { p.finish() }

// finish clears the bar for good. It may be called more than once.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.bar.Clear()
		p.bar.Exit()
		p.done = true
	}
}

// Write writes one log line, clearing the bar first.
func (p *progress) Write(line []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.bar.Clear()
	}
	return p.log.Write(line)
}

var (
	_ client.Observer = (*progress)(nil)
	_ client.Resumer  = (*progress)(nil)
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// countBets counts the bets of an agency's file: its lines that are not
// blank, one quick pass before the upload streams the file. It returns
// -1 when the file cannot be read: the bar is then a spinner, and the
// upload reports the file's error.
func countBets(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var n int64
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	if sc.Err() != nil {
		return -1
	}
	return n
}
