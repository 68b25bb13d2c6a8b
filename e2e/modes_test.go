package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestSingleBetMode sends the one bet of NOMBRE, APELLIDO, DOCUMENTO,
// NACIMIENTO and NUMERO to a central that waits for that one agency.
func TestSingleBetMode(t *testing.T) {
	const dni, numero = "30904465", "7574"
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "1"})
	code, out := runClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{
		"NOMBRE":     "Santiago Lionel",
		"APELLIDO":   "Lorca",
		"DOCUMENTO":  dni,
		"NACIMIENTO": "1999-03-17",
		"NUMERO":     numero,
	}))
	if code != 0 {
		t.Errorf("client exited with %d, want 0", code)
	}
	lines := harness.ParseLog(out)
	if n := len(harness.With(harness.With(harness.Filter(lines, "apuesta_enviada", "success"), "dni", dni), "numero", numero)); n != 1 {
		t.Errorf("client logged %d apuesta_enviada | result: success | dni: %s | numero: %s lines, want 1", n, dni, numero)
	}
	if got := winnersOf(t, "client-1", out); got != 1 {
		t.Errorf("client: cant_ganadores %d, want 1", got)
	}
	assertCleanLog(t, "client-1", out)

	srv.Stop(t)
	stored := harness.With(harness.With(harness.Filter(srv.Lines(), "apuesta_almacenada", "success"), "dni", dni), "numero", numero)
	if len(stored) != 1 {
		t.Errorf("server logged %d apuesta_almacenada | result: success | dni: %s | numero: %s lines, want 1", len(stored), dni, numero)
	}
	assertCleanLog(t, "server", srv.Log())

	bets := readStoredBets(t, srv.BetsPath())
	want := bet{Agency: 1, FirstName: "Santiago Lionel", LastName: "Lorca", Document: dni, Birthdate: "1999-03-17", Number: winnerNumber}
	if len(bets) != 1 || bets[0] != want {
		t.Errorf("bets.csv holds %+v, want just %+v", bets, want)
	}
}

// TestMalformedLine feeds an agency a file whose third line is not a bet.
func TestMalformedLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agency-1.csv")
	content := "Juan,Pérez,30904465,1990-05-17,1234\r\n" +
		"María,Gómez,28123456,1985-12-01,7574\r\n" +
		"Ana,López,not-a-document,1970-01-01,42\r\n" +
		"Luis,Díaz,33111222,1992-02-29,9999\r\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "2"})
	code, out := runClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": file}))
	if code == 0 {
		t.Errorf("client exited 0 with a malformed line in its file")
	}
	named := false
	for _, l := range harness.Filter(harness.ParseLog(out), "", "fail") {
		if strings.Contains(l.Raw, file) && strings.Contains(l.Raw, "line 3") {
			named = true
		}
	}
	if !named {
		t.Errorf("client's log has no fail line naming %s and line 3; log:\n%s", file, out)
	}
	if lines := harness.Filter(harness.ParseLog(out), "notificacion", ""); len(lines) > 0 {
		t.Errorf("client notified the central despite the malformed line: %v", lines)
	}

	// Once the central has closed the agency's connection, it has seen
	// all it will: no notification may be among it.
	eventually(t, clientTimeout, "the server to close agency 1's connection", func() bool {
		return hasLine(srv.Process, "close", "success", "resource", "connection", "agencia", "1")
	})
	if lines := harness.With(harness.Filter(srv.Lines(), "notificacion", ""), "agencia", "1"); len(lines) > 0 {
		t.Errorf("server logged a notificacion for agency 1: %v", lines)
	}
	if len(harness.Filter(srv.Lines(), "sorteo", "")) > 0 {
		t.Errorf("server held a draw")
	}
	assertCleanLog(t, "server", srv.Log())
}

// TestConfigErrors checks that a value that does not parse stops each
// binary at start-up with one line naming its key.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, bin, key string
		env            map[string]string
	}{
		{"server", serverBin, "SERVER_PORT", map[string]string{"SERVER_PORT": "abc", "SERVER_IP": "127.0.0.1"}},
		{"client", clientBin, "CLI_BATCH_MAXAMOUNT", map[string]string{"CLI_ID": "1", "CLI_SERVER_ADDRESS": "127.0.0.1:1", "CLI_BATCH_MAXAMOUNT": "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, tc.name, tc.bin, t.TempDir(), tc.env)
			code := p.WaitExit(t, exitTimeout)
			if code == 0 {
				t.Errorf("%s exited 0 with %s=%s", tc.name, tc.key, tc.env[tc.key])
			}
			stderr := p.Stderr()
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.key) {
				t.Errorf("stderr is %q, want one line naming %s", stderr, tc.key)
			}
			if strings.Contains(p.Log(), "accept_connections") {
				t.Errorf("%s started to listen despite the bad value", tc.name)
			}
		})
	}
}
