package e2e

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// winnersOfFile returns the documents of the bets of number winnerNumber
// of an agency's file, in file order: the winners file the agency must
// write (the central answers in storage order, which is file order).
func winnersOfFile(t *testing.T, path string, agency int) string {
	t.Helper()
	var b strings.Builder
	for _, bet := range readAgencyBets(t, path, agency) {
		if bet.Number == winnerNumber {
			b.WriteString(bet.Document + "\n")
		}
	}
	return b.String()
}

// TestAgencyWinnersFile: the agency's winners.file holds the documents of
// the bets of its file that won, in file order, and the agency logs
// ganadores_guardados with their count.
func TestAgencyWinnersFile(t *testing.T) {
	data := genData(t, 1, "3000", "40", 71)
	want := winnersOfFile(t, agencyFile(data, 1), 1)
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "1"})
	path := filepath.Join(t.TempDir(), "ganadores.txt")
	p := startClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{
		"CLI_DATA_FILE": agencyFile(data, 1), "CLI_WINNERS_FILE": path,
	}))
	if code := p.WaitExit(t, clientTimeout); code != 0 {
		t.Fatalf("client-1 exited with %d; log:\n%s", code, p.Log())
	}
	assertCleanLog(t, p.Name(), p.Log())
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("winners file (%v):\n%q\nwant the winners of the agency's file in order:\n%q", err, got, want)
	}
	if n := winnersOf(t, p.Name(), p.Log()); n != 40 {
		t.Errorf("cant_ganadores %d, want 40", n)
	}
	if !hasLine(p, "ganadores_guardados", "success", "file", path, "cant_ganadores", "40") {
		t.Errorf("no ganadores_guardados line for %s with 40 winners; log:\n%s", path, p.Log())
	}
}

// TestAgencyWinnersFileKilled: agencies killed at random moments around
// their end (the central holds their bets and the draw, so a run is
// short: reconnect, verify, ask, write) leave the winners file absent or
// complete, never partial, and no file but the winners file and, at most,
// temporary files of its hidden pattern (.<name>.tmp-*), which the next
// run removes.
func TestAgencyWinnersFileKilled(t *testing.T) {
	data := genData(t, 1, "3000", "1500", 72)
	want := winnersOfFile(t, agencyFile(data, 1), 1)
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "1"})
	dir := t.TempDir()
	path := filepath.Join(dir, "ganadores.txt")
	env := clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1), "CLI_WINNERS_FILE": path})
	run := func() (time.Duration, string) {
		start := time.Now()
		p := startClient(t, "client-1", env)
		if code := p.WaitExit(t, clientTimeout); code != 0 {
			t.Fatalf("client-1 exited with %d; log:\n%s", code, p.Log())
		}
		return time.Since(start), p.Log()
	}
	run() // the upload and the draw
	// The length of a run to kill, as the slowest of three.
	var span time.Duration
	for range 3 {
		d, _ := run()
		span = max(span, d)
	}
	t.Logf("a run after the draw takes up to %v", span)

	const runs = 40
	var absent, complete, temps int
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < runs && time.Now().Before(deadline); i++ {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		p := startClient(t, "client-1", env)
		time.Sleep(rand.N(span + span/2))
		p.Kill()
		got, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			absent++
		case err != nil:
			t.Fatal(err)
		case string(got) != want:
			t.Fatalf("run %d: a partial winners file (%d of %d bytes) after SIGKILL", i, len(got), len(want))
		default:
			complete++
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch {
			case e.Name() == "ganadores.txt":
			case strings.HasPrefix(e.Name(), ".ganadores.txt.tmp-"):
				temps++
			default:
				t.Fatalf("run %d left %s, neither the winners file nor its temporary file", i, e.Name())
			}
		}
	}
	t.Logf("%d runs killed: winners file absent %d, complete %d; temporary files seen %d", absent+complete, absent, complete, temps)
	if complete == 0 || absent == 0 {
		t.Logf("the kills did not land on both sides of the write")
	}
	// A run to its end removes what killed runs left.
	if _, out := run(); !strings.Contains(out, "ganadores_guardados | result: success") {
		t.Fatalf("no ganadores_guardados line; log:\n%s", out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("after a whole run the directory holds %v (%v), want the winners file alone", entries, err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		t.Errorf("winners file after a whole run: %d bytes (%v), want %d", len(got), err, len(want))
	}
}

// TestAgencyProgressBar: an agency whose standard output is a terminal
// shows a progress bar on standard error, cleared before its last log
// lines; one whose output is a pipe writes nothing to standard error.
func TestAgencyProgressBar(t *testing.T) {
	data := genData(t, 1, "20000", "3", 73)
	// Each run's own central, of one agency: the draw waits for no other.
	env := func(t *testing.T) map[string]string {
		srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "1"})
		return clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1), "CLI_BATCH_MAXAMOUNT": "50"})
	}

	t.Run("terminal", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		defer ptmx.Close()
		cmd := exec.Command(clientBin)
		cmd.Dir, cmd.Env = t.TempDir(), harness.Env(env(t))
		cmd.Stdout, cmd.Stderr = tty, tty
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var out bytes.Buffer
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(&out, ptmx) }) // ends with EIO once the client is gone
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Fatalf("client on a terminal: %v", err)
			}
		case <-time.After(clientTimeout):
			cmd.Process.Kill()
			t.Fatal("client on a terminal did not exit")
		}
		wg.Wait()
		text := out.String()
		t.Logf("the terminal's last lines: %q", harness.Tail(text, 7))
		if !strings.Contains(text, " bets/") || !strings.Contains(text, "%") || !strings.Contains(text, "/20000") {
			t.Errorf("no progress bar (a rate in bets/, a percentage, n/20000) on the terminal:\n%q", harness.Tail(text, 10))
		}
		// The bar is cleared before the last lines: they are whole lines
		// of the log, each at the start of its own line.
		tail := harness.Tail(strings.ReplaceAll(text, "\r\n", "\n"), 4)
		for _, action := range []string{"consulta_ganadores", "exit"} {
			if !strings.Contains(tail, "INFO     action: "+action+" | result: success") {
				t.Errorf("the run does not end with its %s line:\n%q", action, tail)
			}
		}
		last := tail[strings.LastIndex(strings.TrimSuffix(tail, "\n"), "\n")+1:]
		if !strings.HasSuffix(last, "action: exit | result: success\n") || strings.Contains(last, "\r") {
			t.Errorf("the last line is not the exit line alone: %q", last)
		}
	})

	t.Run("pipe", func(t *testing.T) {
		p := startClient(t, "client-1", env(t))
		if code := p.WaitExit(t, clientTimeout); code != 0 {
			t.Fatalf("client-1 exited with %d", code)
		}
		if p.Stderr() != "" {
			t.Errorf("stderr of an agency whose output is a pipe: %q, want nothing", harness.Tail(p.Stderr(), 5))
		}
		assertCleanLog(t, p.Name(), p.Log())
		if strings.Contains(p.Log(), "bets/s") || strings.Contains(p.Log(), "\r") {
			t.Errorf("a progress bar in the log of an agency whose output is a pipe")
		}
	})
}
