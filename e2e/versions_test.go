package e2e

import (
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// releaseProtocol2 is the last release of protocol version 2: before
// Declare and Waiting (version 3).
const releaseProtocol2 = "8cd20b8"

// TestAgencyOfProtocol2 runs an agency of the release of protocol 2 and
// an agency of this one against this central: both get their own
// winners; only the new one declares its total.
func TestAgencyOfProtocol2(t *testing.T) {
	old := releaseCommand(t, releaseProtocol2, "client")
	data := genData(t, 2, "300", "2,1", 43)
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "2"})
	c1 := startProcess(t, "client-1-protocol-2", old, t.TempDir(),
		clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)}))
	c2 := startClient(t, "client-2", clientEnv(2, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 2)}))
	assertAgenciesWon(t, []*harness.Process{c1, c2}, []int{2, 1})
	if l := harness.Filter(c2.Lines(), "version", ""); len(l) != 0 {
		t.Errorf("the new agency fell back against a new central: %v", l)
	}
	srv.Stop(t)
	declared := harness.Filter(srv.Lines(), "declaracion", "success")
	if len(harness.With(declared, "agencia", "1")) != 0 || len(harness.With(declared, "agencia", "2")) == 0 {
		t.Errorf("declaracion lines %v, want agency 2's only", declared)
	}
	assertCleanLog(t, "server", srv.Log())
}

// TestCentralOfProtocol2 runs agencies of this release against the
// central of the release of protocol 2: each is refused its version 3
// once, says it speaks 2, and completes the lottery.
func TestCentralOfProtocol2(t *testing.T) {
	old := releaseServer(t, releaseProtocol2)
	data := genData(t, 2, "300", "0,2", 44)
	p := startProcess(t, "central-protocol-2", old, t.TempDir(), releaseEnv(t, 2))
	addr, ok := harness.WaitListening(t, p, harness.StartTimeout, pollInterval)
	if !ok {
		t.Fatalf("the release of protocol 2 did not listen; log:\n%s%s", p.Log(), p.Stderr())
	}
	clients := startAgencies(t, addr, data, 2)
	assertAgenciesWon(t, clients, []int{0, 2})
	for _, c := range clients {
		v := harness.Filter(c.Lines(), "version", "in_progress")
		if len(v) != 1 || v[0].Fields["version"] != "2" {
			t.Errorf("%s: version lines %v, want one saying it speaks 2", c.Name(), v)
		}
	}
	if n := strings.Count(p.Log(), "action: declaracion"); n != 0 {
		t.Errorf("the central of protocol 2 logged %d declaracion lines", n)
	}
}
