package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// Verify checks the store at path without a central: every row against
// its record's hash, every record against the chain, and then the draw,
// held again over the stored bets with LoadBets and HasWon and compared
// with the one recorded. It logs each agency's bets, digest and winners
// and a summary with the draw's digest, which must equal the one of the
// central's sorteo line. agencies is the configured number, used only
// before the draw (after it, the recorded draw says which agencies it
// covered). It returns the first problem, which it has logged as the
// verify fail line: `server verify` then only exits 1.
func Verify(ctx context.Context, path string, agencies int, log *slog.Logger) error {
	res, winners, snap, err := audit(ctx, path, agencies)
	if err != nil {
		log.Error("verify", logging.Fail, "file", path, "error", err)
		return err
	}
	defer snap.Close()
	for a := 1; a <= res.Agencies; a++ {
		h := snap.Holdings[a]
		if h.Digest == (lottery.Digest{}) {
			h.Digest = lottery.EmptyDigest
		}
		log.Info("verify_agencia", logging.Success, "agencia", a, "apuestas", h.Bets, "notificada", h.Done,
			"digest", h.Digest.String(), "ganadores", len(winners[a]))
	}
	state := "pending"
	if snap.Drawn != nil {
		state = "recorded"
	}
	log.Info("verify", logging.Success, "file", path, "records", snap.Records, "bets", res.Bets,
		"agencias", res.Agencies, "ganadores", res.Winners, "sorteo", state, "digest", res.Digest.String(),
		"torn_csv_bytes", snap.TornBytes[0], "torn_journal_bytes", snap.TornBytes[1])
	return nil
}

// audit opens the store read-only and holds the draw over it again.
func audit(ctx context.Context, path string, agencies int) (lottery.Result, map[int][]string, *storage.Snapshot, error) {
	snap, err := storage.Inspect(path)
	if err != nil {
		return lottery.Result{}, nil, nil, err
	}
	if snap.Drawn != nil {
		agencies = snap.Drawn.Agencies
	}
	for a := range snap.Holdings {
		agencies = max(agencies, a)
	}
	digests := make([]lottery.Digest, agencies)
	for a := range digests {
		digests[a] = lottery.EmptyDigest
		if h, ok := snap.Holdings[a+1]; ok {
			digests[a] = h.Digest
		}
	}
	res, winners, err := lottery.Decide(ctx, snap.LoadBets(), digests)
	if err == nil && res.Bets != uint64(snap.Bets) {
		err = fmt.Errorf("bets.csv yields %d bets, its journal commits %d", res.Bets, snap.Bets)
	}
	if err == nil && snap.Drawn != nil && res != *snap.Drawn {
		err = fmt.Errorf("the stored bets give a draw (%s) other than the recorded one (%s)", res, *snap.Drawn)
	}
	if err != nil {
		snap.Close()
		return lottery.Result{}, nil, nil, err
	}
	return res, winners, snap, nil
}
