package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// TestBackupWhileWriting takes backups of a store that three writers
// append to meanwhile: each copy checks as a whole store (Inspect, no torn
// tail), holds a prefix of each agency's bets, and opens as a store that
// takes the next batch.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bets.csv")
	s := openStore(t, path, nil)
	const agencies, batches = 3, 60
	var wg sync.WaitGroup
	for a := 1; a <= agencies; a++ {
		wg.Go(func() {
			for i := range batches {
				if _, err := s.Append(a, uint64(i*10), makeBets(a, i*10, 10)).Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var copies []Copy
	for i := range 20 {
		c, err := Backup(path, filepath.Join(dir, fmt.Sprint("backup-", i)))
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		copies = append(copies, c)
	}
	wg.Wait()
	groups := make(map[uint64]bool)
	for _, c := range copies {
		groups[c.Group] = true
	}
	t.Logf("20 backups of %d different group commits", len(groups))
	for i, c := range copies {
		snap, err := Inspect(c.Path)
		if err != nil {
			t.Fatalf("backup %d does not check: %v", i, err)
		}
		if snap.TornBytes != [2]int64{} || snap.Records != c.Records {
			t.Errorf("backup %d: %d torn bytes, %d records; want none torn and %d", i, snap.TornBytes, snap.Records, c.Records)
		}
		got := make(map[int][]lottery.Bet)
		for b, err := range snap.LoadBets() {
			if err != nil {
				t.Fatal(err)
			}
			got[b.Agency] = append(got[b.Agency], b)
		}
		snap.Close()
		for a, bets := range got {
			if !slices.Equal(bets, makeBets(a, 0, len(bets))) {
				t.Errorf("backup %d: agency %d's %d bets are not the first it sent", i, a, len(bets))
			}
		}
		restored := openStore(t, c.Path, nil)
		n := storedBets(restored, 1)
		mustAppend(t, restored, 1, n, makeBets(1, int(n), 1))
		restored.Close()
	}
	if _, err := Backup(path, filepath.Join(dir, "backup-0")); err == nil {
		t.Error("a backup was written over another")
	}
}
