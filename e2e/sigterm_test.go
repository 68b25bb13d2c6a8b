package e2e

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// clientExitTimeout is how soon an agency must exit after SIGTERM (the
// contract's 2 seconds).
const clientExitTimeout = 2 * time.Second

// assertServerClosed checks the log of a central stopped by SIGTERM: the
// listener and the storage closed, once each, and the exit line.
func assertServerClosed(t *testing.T, srv *harness.Central) {
	t.Helper()
	lines := srv.Lines()
	closes := harness.Filter(lines, "close", "success")
	for _, res := range []string{"listener", "storage"} {
		if n := len(harness.With(closes, "resource", res)); n != 1 {
			t.Errorf("server logged the close of its %s %d times, want 1", res, n)
		}
	}
	exit := harness.Filter(lines, "exit", "success")
	if len(exit) != 1 {
		t.Fatalf("server logged %d exit success lines, want 1", len(exit))
	}
	// The storage closes last: after the listener and every connection.
	storage := harness.With(closes, "resource", "storage")
	if len(storage) == 1 {
		for _, l := range closes {
			if l.Pos > storage[0].Pos {
				t.Errorf("server closed something after its storage: %s", l.Raw)
			}
		}
	}
}

// terminate sends p SIGTERM and checks that it exits 0 within timeout;
// messages call it who.
func terminate(t *testing.T, who string, p *harness.Process, timeout time.Duration) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := p.WaitExit(t, timeout); code != 0 {
		t.Errorf("%s exited with %d after SIGTERM, want 0", who, code)
	}
	t.Logf("%s exited %v after SIGTERM", who, time.Since(start).Round(time.Millisecond))
}

func TestServerSIGTERM(t *testing.T) { forEachBackend(t, testServerSIGTERM) }

func testServerSIGTERM(t *testing.T, be backend) {
	t.Run("idle", func(t *testing.T) {
		srv := startServer(t, be.env(nil))
		terminate(t, "server", srv.Process, exitTimeout)
		assertServerClosed(t, srv)
		assertCleanLog(t, "server", srv.Log())
	})

	t.Run("clients_waiting_for_draw", func(t *testing.T) {
		data := genData(t, 3, "300", "1,1,1", 21)
		srv := startServer(t, be.env(map[string]string{"AGENCIES_AMOUNT": "3"}))
		var clients []*harness.Process
		for id := 1; id <= 2; id++ {
			clients = append(clients, startClient(t, "client-"+strconv.Itoa(id),
				clientEnv(id, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, id)})))
		}
		// Both agencies have notified and asked for their winners.
		eventually(t, clientTimeout, "agencies 1 and 2 to notify", func() bool {
			lines := harness.Filter(srv.Lines(), "notificacion", "success")
			return len(harness.With(lines, "agencia", "1")) == 1 && len(harness.With(lines, "agencia", "2")) == 1
		})
		for _, c := range clients {
			eventually(t, clientTimeout, c.Name()+" to log its notification", func() bool {
				return hasLine(c, "notificacion", "success")
			})
		}

		terminate(t, "server", srv.Process, exitTimeout)
		assertServerClosed(t, srv)
		closes := harness.With(harness.Filter(srv.Lines(), "close", "success"), "resource", "connection")
		for id := 1; id <= 2; id++ {
			if len(harness.With(closes, "agencia", strconv.Itoa(id))) == 0 {
				t.Errorf("server did not log the close of agency %d's connection", id)
			}
		}
		if len(harness.Filter(srv.Lines(), "sorteo", "")) != 0 {
			t.Errorf("server held a draw with 2 of 3 agencies")
		}
		assertCleanLog(t, "server", srv.Log())

		// The agencies, left without a central, keep trying to reach it
		// until they are stopped; then they exit 0 at once.
		for _, c := range clients {
			if c.Exited() {
				t.Errorf("%s exited (code %d) when the central stopped; it should retry", c.Name(), c.ExitCode())
				continue
			}
			if err := c.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range clients {
			if code := c.WaitExit(t, clientExitTimeout); code != 0 {
				t.Errorf("%s exited with %d after SIGTERM, want 0", c.Name(), code)
			}
			if hasLine(c, "consulta_ganadores", "success") {
				t.Errorf("%s got winners without a draw", c.Name())
			}
			assertCleanLog(t, c.Name(), c.Log())
		}
	})
}

// drawAtStart builds, in a central's directory, a store whose draw is
// held at the next start: agencies 1..3 upload perAgency bets each and
// notify to a central that waits for 4, which is then stopped. It returns
// the central, set to wait for 3 (the start-up then holds the draw), and
// the draw's digest, from the agencies' verified digests.
func drawAtStart(t *testing.T, perAgency string) (*crashServer, string) {
	t.Helper()
	data := genData(t, 3, perAgency, "1,2,1", 22)
	srv := newCrashServer(t, t.TempDir(), map[string]string{"AGENCIES_AMOUNT": "4"})
	srv.start()
	clients := startAgencies(t, srv.addr, data, 3)
	eventually(t, 2*clientTimeout, "agencies 1..3 to notify", func() bool { return notified(clients) == 3 })
	digests := make([]lottery.Digest, len(clients))
	for i, c := range clients {
		if err := c.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := c.WaitExit(t, clientExitTimeout); code != 0 {
			t.Fatalf("%s exited with %d after SIGTERM, want 0", c.Name(), code)
		}
		lines := harness.Filter(c.Lines(), "verificacion", "success")
		if len(lines) != 1 {
			t.Fatalf("%s: %d verificacion lines, want 1", c.Name(), len(lines))
		}
		d, err := lottery.ParseDigest(lines[0].Fields["digest"])
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		digests[i] = d
	}
	terminate(t, "server", srv.cur(), exitTimeout)
	srv.env["AGENCIES_AMOUNT"] = "3"
	return srv, lottery.DrawDigest(digests).String()
}

// TestServerSIGTERMDuringDraw: a central that holds the draw at start-up
// (every agency had notified when it stopped) and gets SIGTERM meanwhile
// stops the draw and exits 0 within 2 s, without ever listening or
// logging a draw; the next start holds the draw, whose digest is that of
// the agencies' verified digests.
func TestServerSIGTERMDuringDraw(t *testing.T) {
	const perAgency = 1_500_000 // the draw takes a few hundred ms here
	srv, digest := drawAtStart(t, strconv.Itoa(perAgency))

	p := srv.launch()
	// The store is open: recovery's line is its last. The draw runs now.
	eventually(t, harness.StartTimeout, "the central to open its store", func() bool {
		return len(harness.Filter(p.Lines(), "recovery", "success")) > 0
	})
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := p.WaitExit(t, exitTimeout); code != 0 {
		t.Errorf("server exited with %d after SIGTERM during the draw, want 0", code)
	}
	took := time.Since(start)
	t.Logf("server exited %v after SIGTERM during the draw", took.Round(time.Millisecond))
	if took > clientExitTimeout {
		t.Errorf("server exited %v after SIGTERM, want within %v", took.Round(time.Millisecond), clientExitTimeout)
	}
	lines := p.Lines()
	recovery := harness.Filter(lines, "recovery", "success")[0]
	if recovery.Fields["notified"] != "3" || recovery.Fields["drawn"] != "false" {
		t.Fatalf("the store is not one whose draw is due at start: %s", recovery.Raw)
	}
	for _, action := range []string{"sorteo", "accept_connections"} {
		if l := harness.Filter(lines, action, ""); len(l) != 0 {
			t.Errorf("a central stopped during its draw logged %s (SIGTERM came after the draw?): %v", action, l)
		}
	}
	if len(harness.Filter(lines, "exit", "success")) != 1 {
		t.Errorf("server logged no exit success line")
	}
	assertCleanLog(t, p.Name(), p.Log())

	// The next start holds the draw, then listens.
	next := srv.start()
	draws := harness.Filter(next.Lines(), "sorteo", "success")
	if len(draws) != 1 {
		t.Fatalf("the next start logged %d sorteo lines, want 1; log:\n%s", len(draws), next.Log())
	}
	want := map[string]string{"bets": strconv.Itoa(3 * perAgency), "ganadores": "4", "digest": digest}
	for k, v := range want {
		if got := draws[0].Fields[k]; got != v {
			t.Errorf("sorteo %s: %s, want %s", k, got, v)
		}
	}
	terminate(t, "server", next, exitTimeout)
	assertCleanLog(t, next.Name(), next.Log())
}

func TestClientSIGTERM(t *testing.T) {
	t.Run("connecting", func(t *testing.T) {
		addr := harness.MustFreeAddr(t)
		c := startClient(t, "client-1", clientEnv(1, addr, map[string]string{
			"CLI_DATA_FILE": agencyFile(genData(t, 1, "10", "0", 31), 1),
		}))
		// It has failed to connect at least once and is retrying.
		eventually(t, 10*time.Second, "the client to retry its connection", func() bool {
			return hasLine(c, "central_inalcanzable", "in_progress")
		})
		terminate(t, "client", c, clientExitTimeout)
		assertCleanLog(t, c.Name(), c.Log())
	})

	t.Run("waiting_for_draw", func(t *testing.T) {
		data := genData(t, 1, "300", "1", 32)
		srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "2"})
		c := startClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
		eventually(t, clientTimeout, "agency 1 to notify", func() bool {
			return hasLine(c, "notificacion", "success") &&
				len(harness.With(harness.Filter(srv.Lines(), "notificacion", "success"), "agencia", "1")) == 1
		})
		closesBefore := len(harness.Filter(c.Lines(), "close", ""))

		terminate(t, "client", c, clientExitTimeout)
		closes := harness.Filter(c.Lines(), "close", "success")
		if len(closes) <= closesBefore || len(harness.With(closes[closesBefore:], "resource", "connection")) == 0 {
			t.Errorf("client did not log the close of its connection after SIGTERM")
		}
		if hasLine(c, "consulta_ganadores", "success") {
			t.Errorf("client got winners without a draw")
		}
		assertCleanLog(t, c.Name(), c.Log())

		// The central notices the agency is gone and closes its side.
		eventually(t, 10*time.Second, "the server to close agency 1's connection", func() bool {
			return hasLine(srv.Process, "close", "success", "resource", "connection", "agencia", "1")
		})
		assertCleanLog(t, "server", srv.Log())
	})
}
