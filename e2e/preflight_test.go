package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestMissingDataFile starts an agency whose data file does not exist,
// with no central to talk to: it must fail at once with one line naming
// the file, not retry a connection for retry.timeout (60 s) first.
func TestMissingDataFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.csv")
	p := startClient(t, "client-1", clientEnv(1, harness.MustFreeAddr(t), map[string]string{"CLI_DATA_FILE": missing}))
	if code := p.WaitExit(t, exitTimeout); code == 0 {
		t.Errorf("client exited 0 without its data file")
	}
	fails := harness.Filter(p.Lines(), "", "fail")
	if len(fails) != 1 || !strings.Contains(fails[0].Raw, missing) {
		t.Errorf("client logged %d fail lines %v, want one naming %s", len(fails), fails, missing)
	}
	if len(harness.Filter(p.Lines(), "reconectar", ""))+len(harness.Filter(p.Lines(), "central_inalcanzable", "")) > 0 {
		t.Errorf("client tried to connect before checking its data file")
	}
}
