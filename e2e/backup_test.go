package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// TestBackupDuringUpload takes `server backup` 20 times, at random
// moments, of a central that agencies upload to: each backup checks (the
// command's verify line) and exits 0, and each copy, restored by copying
// its two files into an empty directory, is a store on which a central
// completes the lottery with the same winners.
func TestBackupDuringUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("a lottery and 20 restores: not in -short")
	}
	winners := []int{2, 1, 0}
	data := genData(t, 3, "20000", "2,1,0", 11)
	env := map[string]string{"AGENCIES_AMOUNT": "3"}
	srv := newCrashServer(t, t.TempDir(), env)
	srv.start()
	slow := map[string]string{"CLI_BATCH_MAXAMOUNT": "2"} // many small batches: a long upload
	clients := make([]*harness.Process, len(winners))
	for i := range clients {
		slow["CLI_DATA_FILE"] = agencyFile(data, i+1)
		clients[i] = startClient(t, "client-"+strconv.Itoa(i+1), clientEnv(i+1, srv.addr, slow))
	}
	rng := rand.New(rand.NewPCG(testSeed(t, "BACKUP_SEED"), 1))
	backups, pending := t.TempDir(), 0
	var dirs []string
	for i := range 20 {
		time.Sleep(randDuration(rng, 0, 20*time.Millisecond))
		dir := filepath.Join(backups, strconv.Itoa(i))
		p := startProcess(t, fmt.Sprint("backup-", i), serverBin, srv.dir, srv.env, "backup", dir)
		if code := p.WaitExit(t, clientTimeout); code != 0 || !hasLine(p, "backup", "success") || !hasLine(p, "verify", "success") {
			t.Fatalf("server backup %d: exit %d; log:\n%s%s", i, code, p.Log(), p.Stderr())
		}
		if hasLine(p, "verify", "success", "sorteo", "pending") {
			pending++
		}
		dirs = append(dirs, dir)
	}
	t.Logf("%d of 20 backups taken before the draw", pending)
	assertAgenciesWon(t, clients, winners)
	for i, dir := range dirs {
		restored := t.TempDir()
		for _, name := range []string{"bets.csv", "bets.csv" + storage.JournalSuffix} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(restored, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		again := newCrashServer(t, restored, env)
		again.start()
		runLottery(t, again, data, winners)
		if err := again.cur().Signal(os.Interrupt); err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		again.cur().WaitExit(t, exitTimeout)
	}
}
