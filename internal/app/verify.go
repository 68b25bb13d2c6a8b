package app

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"os"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgstore"
	"github.com/loteria-nacional/quiniela/internal/storage"
)

// audit is a store as an auditor reads it, without a central: what it
// claims (each agency's holding, the draw it recorded) and a way to read
// its bets, so that the claims can be checked against the bets.
type audit struct {
	holdings map[int]lottery.Holding // nil: the source claims nothing (an export)
	recorded *lottery.Result         // the draw recorded; nil before it, or in an export
	bets     func() iter.Seq2[lottery.Bet, error]
	close    func() error
	attrs    []any  // what the verify line says of the source, first
	tail     []any  // and last
	state    string // the draw: recorded, pending, or unknown (an export)
}

// Verify checks the file store at path without a central: every row
// against its record's hash, every record against the chain, and then
// the draw, held again over the stored bets with LoadBets and HasWon and
// compared with the one recorded. It logs each agency's bets, digest and
// winners and a summary with the draw's digest, which must equal the one
// of the central's sorteo line. agencies is the configured number, used
// only before the draw (after it, the recorded draw says which agencies
// it covered). It returns the first problem, which it has logged as the
// verify fail line: `server verify` then only exits 1.
func Verify(ctx context.Context, path string, agencies int, log *slog.Logger) error {
	return verify(ctx, func() (*audit, error) { return auditFile(path) }, agencies, log, "file", path)
}

// VerifyDatabase checks the PostgreSQL database at url (redacted, as
// logs show it) as Verify checks a file: each agency's digest recomputed
// from its stored rows against the one the database keeps, and the draw
// held again against the one recorded.
func VerifyDatabase(ctx context.Context, url, redacted string, agencies int, log *slog.Logger) error {
	return verify(ctx, func() (*audit, error) { return auditDatabase(url, redacted) }, agencies, log, "storage", redacted)
}

// VerifyExport checks a bets.csv exported by `server export` (or the
// course's own store_bets): it computes each agency's digest and the
// draw's from the rows alone, so that they can be compared with the
// central's sorteo line and the agencies' verificacion lines by someone
// who holds only the export.
func VerifyExport(ctx context.Context, path string, agencies int, log *slog.Logger) error {
	return verify(ctx, func() (*audit, error) { return auditExport(path) }, agencies, log, "file", path)
}

func verify(ctx context.Context, open func() (*audit, error), agencies int, log *slog.Logger, key, name string) error {
	a, err := open()
	if err == nil {
		defer a.close()
		err = a.check(ctx, agencies, log)
	}
	if err != nil {
		log.Error("verify", logging.Fail, key, name, "error", err)
	}
	return err
}

// check recomputes every digest and the draw from the bets, compares
// them with what the source claims, and logs what it found.
func (a *audit) check(ctx context.Context, agencies int, log *slog.Logger) error {
	if a.recorded != nil {
		agencies = a.recorded.Agencies
	}
	computed, bets, err := agencyDigests(a.bets())
	if err != nil {
		return err
	}
	for ag := range computed {
		agencies = max(agencies, ag)
	}
	for ag := range a.holdings {
		agencies = max(agencies, ag)
	}
	digests, err := a.compare(computed, agencies)
	if err != nil {
		return err
	}
	res, winners, err := lottery.Decide(ctx, a.bets(), digests)
	if err == nil && res.Bets != bets {
		err = fmt.Errorf("the bets were read twice and gave %d and %d", bets, res.Bets)
	}
	if err == nil && a.recorded != nil && res != *a.recorded {
		err = fmt.Errorf("the stored bets give a draw (%s) other than the recorded one (%s)", res, *a.recorded)
	}
	if err != nil {
		return err
	}
	for ag := 1; ag <= res.Agencies; ag++ {
		attrs := []any{logging.Success, "agencia", ag, "apuestas", computed[ag].count()}
		if a.holdings != nil {
			attrs = append(attrs, "notificada", a.holdings[ag].Done)
		}
		log.Info("verify_agencia", append(attrs, "digest", digests[ag-1].String(), "ganadores", len(winners[ag]))...)
	}
	attrs := append([]any{logging.Success}, a.attrs...)
	attrs = append(attrs, "bets", res.Bets, "agencias", res.Agencies, "ganadores", res.Winners,
		"sorteo", a.state, "digest", res.Digest.String())
	log.Info("verify", append(attrs, a.tail...)...)
	return nil
}

// compare returns the digests of agencies 1..agencies computed from the
// rows, and the first agency whose rows do not give what the source
// claims of it.
func (a *audit) compare(computed map[int]*tally, agencies int) ([]lottery.Digest, error) {
	digests := make([]lottery.Digest, agencies)
	for i := range digests {
		c := computed[i+1]
		digests[i] = c.digest()
		h, ok := a.holdings[i+1]
		if a.holdings == nil || !ok {
			continue
		}
		if h.Bets != c.count() {
			return nil, fmt.Errorf("agency %d: %d stored rows, the store says %d bets", i+1, c.count(), h.Bets)
		}
		if h.Bets > 0 && h.Digest != digests[i] {
			return nil, fmt.Errorf("agency %d: its stored rows give digest %s, the store keeps %s", i+1, digests[i], h.Digest)
		}
	}
	return digests, nil
}

// tally is one agency's bets as read: how many, and their digest.
type tally struct {
	bets uint64
	h    *lottery.Hasher
}

func (t *tally) count() uint64 {
	if t == nil {
		return 0
	}
	return t.bets
}

func (t *tally) digest() lottery.Digest {
	if t == nil {
		return lottery.EmptyDigest
	}
	return t.h.Sum()
}

// agencyDigests reads bets once and tallies each agency's.
func agencyDigests(bets iter.Seq2[lottery.Bet, error]) (map[int]*tally, uint64, error) {
	out := make(map[int]*tally)
	var n uint64
	for b, err := range bets {
		if err != nil {
			return nil, n, err
		}
		t := out[b.Agency]
		if t == nil {
			t = &tally{h: lottery.NewHasher()}
			out[b.Agency] = t
		}
		t.h.Add(b.Agency, b)
		t.bets++
		n++
	}
	return out, n, nil
}

// auditFile opens the file store at path read-only (storage.Inspect).
func auditFile(path string) (*audit, error) {
	snap, err := storage.Inspect(path)
	if err != nil {
		return nil, err
	}
	a := &audit{holdings: snap.Holdings, recorded: snap.Drawn, bets: snap.LoadBets, close: snap.Close, state: "pending",
		attrs: []any{"file", path, "records", snap.Records},
		tail:  []any{"torn_csv_bytes", snap.TornBytes[0], "torn_journal_bytes", snap.TornBytes[1]}}
	if snap.Drawn != nil {
		a.state = "recorded"
	}
	return a, nil
}

// auditDatabase opens the PostgreSQL database at url.
func auditDatabase(url, redacted string) (*audit, error) {
	s, err := pgstore.Open(url, pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	a := &audit{holdings: s.Holdings(), bets: s.LoadBets, close: s.Close, state: "pending", attrs: []any{"storage", redacted}}
	if r, ok := s.Recorded(); ok {
		a.recorded, a.state = &r, "recorded"
	}
	return a, nil
}

// auditExport opens a bets.csv without a journal: it claims nothing but
// its rows.
func auditExport(path string) (*audit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	bets := func() iter.Seq2[lottery.Bet, error] {
		if _, err := f.Seek(0, 0); err != nil {
			return func(yield func(lottery.Bet, error) bool) { yield(lottery.Bet{}, err) }
		}
		return betcsv.ReadStoreFile(f)
	}
	return &audit{bets: bets, close: f.Close, state: "unknown", attrs: []any{"file", path}}, nil
}
