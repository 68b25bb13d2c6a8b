package e2e

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

// clientExitTimeout is how soon an agency must exit after SIGTERM (the
// contract's 2 seconds).
const clientExitTimeout = 2 * time.Second

// assertServerClosed checks the log of a central stopped by SIGTERM: the
// listener and the storage closed, once each, and the exit line.
func assertServerClosed(t *testing.T, srv *server) {
	t.Helper()
	lines := srv.Lines()
	closes := filter(lines, "close", "success")
	for _, res := range []string{"listener", "storage"} {
		if n := len(with(closes, "resource", res)); n != 1 {
			t.Errorf("server logged the close of its %s %d times, want 1", res, n)
		}
	}
	exit := filter(lines, "exit", "success")
	if len(exit) != 1 {
		t.Fatalf("server logged %d exit success lines, want 1", len(exit))
	}
	// The storage closes last: after the listener and every connection.
	storage := with(closes, "resource", "storage")
	if len(storage) == 1 {
		for _, l := range closes {
			if l.Pos > storage[0].Pos {
				t.Errorf("server closed something after its storage: %s", l.Raw)
			}
		}
	}
}

func TestServerSIGTERM(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		srv := startServer(t, nil)
		if err := srv.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if code := srv.waitExit(t, exitTimeout); code != 0 {
			t.Errorf("server exited with %d after SIGTERM, want 0", code)
		}
		t.Logf("server exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		assertServerClosed(t, srv)
		assertCleanLog(t, "server", srv.Log())
	})

	t.Run("clients_waiting_for_draw", func(t *testing.T) {
		data := genData(t, 3, "300", "1,1,1", 21)
		srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "3"})
		var clients []*proc
		for id := 1; id <= 2; id++ {
			clients = append(clients, startClient(t, "client-"+strconv.Itoa(id),
				clientEnv(id, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, id)})))
		}
		// Both agencies have notified and asked for their winners.
		eventually(t, clientTimeout, "agencies 1 and 2 to notify", func() bool {
			lines := filter(srv.Lines(), "notificacion", "success")
			return len(with(lines, "agencia", "1")) == 1 && len(with(lines, "agencia", "2")) == 1
		})
		for _, c := range clients {
			eventually(t, clientTimeout, c.name+" to log its notification", func() bool {
				return hasLine(c, "notificacion", "success")
			})
		}

		if err := srv.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if code := srv.waitExit(t, exitTimeout); code != 0 {
			t.Errorf("server exited with %d after SIGTERM, want 0", code)
		}
		t.Logf("server exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		assertServerClosed(t, srv)
		closes := with(filter(srv.Lines(), "close", "success"), "resource", "connection")
		for id := 1; id <= 2; id++ {
			if len(with(closes, "agencia", strconv.Itoa(id))) == 0 {
				t.Errorf("server did not log the close of agency %d's connection", id)
			}
		}
		if len(filter(srv.Lines(), "sorteo", "")) != 0 {
			t.Errorf("server held a draw with 2 of 3 agencies")
		}
		assertCleanLog(t, "server", srv.Log())

		// The agencies, left without a central, keep trying to reach it
		// until they are stopped; then they exit 0 at once.
		for _, c := range clients {
			if c.Exited() {
				t.Errorf("%s exited (code %d) when the central stopped; it should retry", c.name, c.exitCode)
				continue
			}
			if err := c.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range clients {
			if code := c.waitExit(t, clientExitTimeout); code != 0 {
				t.Errorf("%s exited with %d after SIGTERM, want 0", c.name, code)
			}
			if hasLine(c, "consulta_ganadores", "success") {
				t.Errorf("%s got winners without a draw", c.name)
			}
			assertCleanLog(t, c.name, c.Log())
		}
	})
}

func TestClientSIGTERM(t *testing.T) {
	t.Run("connecting", func(t *testing.T) {
		addr := freeAddr(t)
		c := startClient(t, "client-1", clientEnv(1, addr, map[string]string{
			"CLI_DATA_FILE": agencyFile(genData(t, 1, "10", "0", 31), 1),
		}))
		// It has failed to connect at least once and is retrying.
		eventually(t, 10*time.Second, "the client to retry its connection", func() bool {
			return hasLine(c, "reconectar", "in_progress")
		})
		if err := c.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if code := c.waitExit(t, clientExitTimeout); code != 0 {
			t.Errorf("client exited with %d after SIGTERM, want 0", code)
		}
		t.Logf("client exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		assertCleanLog(t, c.name, c.Log())
	})

	t.Run("waiting_for_draw", func(t *testing.T) {
		data := genData(t, 1, "300", "1", 32)
		srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "2"})
		c := startClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
		eventually(t, clientTimeout, "agency 1 to notify", func() bool {
			return hasLine(c, "notificacion", "success") &&
				len(with(filter(srv.Lines(), "notificacion", "success"), "agencia", "1")) == 1
		})
		closesBefore := len(filter(c.Lines(), "close", ""))

		if err := c.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if code := c.waitExit(t, clientExitTimeout); code != 0 {
			t.Errorf("client exited with %d after SIGTERM, want 0", code)
		}
		t.Logf("client exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		closes := filter(c.Lines(), "close", "success")
		if len(closes) <= closesBefore || len(with(closes[closesBefore:], "resource", "connection")) == 0 {
			t.Errorf("client did not log the close of its connection after SIGTERM")
		}
		if hasLine(c, "consulta_ganadores", "success") {
			t.Errorf("client got winners without a draw")
		}
		assertCleanLog(t, c.name, c.Log())

		// The central notices the agency is gone and closes its side.
		eventually(t, 10*time.Second, "the server to close agency 1's connection", func() bool {
			return hasLine(srv.proc, "close", "success", "resource", "connection", "agencia", "1")
		})
		assertCleanLog(t, "server", srv.Log())
	})
}
