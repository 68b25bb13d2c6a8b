package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/loteria-nacional/quiniela/internal/client"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// ScaleOptions describe a national-scale run.
type ScaleOptions struct {
	Agencies int // agencies, all connected at once
	Bets     int // bets per agency
	Winners  int // winners per agency
	BatchMax int // bets per batch, at most (the 8 kB frame limit applies too)
	// Rate, when positive, is the total bets per second the agencies
	// offer, evenly shared; otherwise each sends as fast as it can.
	Rate float64
}

// ScaleResult is what one national-scale run measured.
type ScaleResult struct {
	Bets       int
	Ingest     time.Duration // from the start to the last agency's done notification
	Throughput float64       // bets per second over Ingest
	AckP50     time.Duration // batch sent to its Ack
	AckP99     time.Duration
	AckMax     time.Duration
	Draw       time.Duration // last done notification to the last agency holding its winners
}

// Scale drives opts.Agencies agencies of the real client code, in this
// process, against the central at addr, and checks every agency gets
// exactly its winners.
func Scale(ctx context.Context, addr string, opts ScaleOptions) (ScaleResult, error) {
	pool := betPool(4096)
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, opts.Agencies*opts.Bets/max(opts.BatchMax, 1)+opts.Agencies)
		lastDone  time.Time
		lastWin   time.Time
	)
	quiet := logging.New(io.Discard, logging.LevelWarning)
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	for id := 1; id <= opts.Agencies; id++ {
		g.Go(func() error {
			cfg := config.DefaultClient()
			cfg.ID, cfg.ServerAddress, cfg.BatchMax = id, addr, opts.BatchMax
			cfg.ServerTimeout, cfg.RetryTimeout = 30*time.Second, 60*time.Second
			a := client.New(cfg, quiet)
			a.Bets = func(skip uint64) iter.Seq2[lottery.Bet, error] {
				return generated(pool, id, opts.Bets, opts.Winners, int(skip))
			}
			if opts.Rate > 0 {
				// Agencies start out of step, as real ones would: a
				// random phase within one batch's interval.
				perAgency := opts.Rate / float64(opts.Agencies)
				interval := time.Duration(float64(opts.BatchMax) / perAgency * float64(time.Second))
				a.Pace = pacer(perAgency, start.Add(rand.N(interval+1)))
			}
			local := make([]time.Duration, 0, opts.Bets/max(opts.BatchMax, 1)+1)
			a.OnAck = func(_ int, d time.Duration) { local = append(local, d) }
			a.OnDone = func() {
				now := time.Now()
				mu.Lock()
				if now.After(lastDone) {
					lastDone = now
				}
				mu.Unlock()
			}
			res, err := a.Run(ctx)
			if err != nil {
				return fmt.Errorf("agency %d: %w", id, err)
			}
			now := time.Now()
			if len(res.Winners) != opts.Winners {
				return fmt.Errorf("agency %d got %d winners, want %d", id, len(res.Winners), opts.Winners)
			}
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, local...)
			if now.After(lastWin) {
				lastWin = now
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ScaleResult{}, err
	}
	if len(latencies) == 0 {
		return ScaleResult{}, errors.New("no batch was acknowledged")
	}
	slices.Sort(latencies)
	total := opts.Agencies * opts.Bets
	ingest := lastDone.Sub(start)
	return ScaleResult{
		Bets:       total,
		Ingest:     ingest,
		Throughput: float64(total) / ingest.Seconds(),
		AckP50:     Percentile(latencies, 50),
		AckP99:     Percentile(latencies, 99),
		AckMax:     latencies[len(latencies)-1],
		Draw:       lastWin.Sub(lastDone),
	}, nil
}

// betPool returns n realistic bets, none a winner, to cycle through: the
// load generator must not spend on making bets the CPU the central needs.
func betPool(n int) []lottery.Bet {
	pool := make([]lottery.Bet, 0, n)
	for b := range sampledata.Bets(sampledata.Spec{Agency: 1, Bets: n, Seed: 99}) {
		pool = append(pool, b)
	}
	return pool
}

// generated yields agency's bets from number skip on: bets of the pool,
// of which the first `winners` play the winning number.
func generated(pool []lottery.Bet, agency, bets, winners, skip int) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		// Winners are spread over the stream: bet i wins when i%stride==0.
		stride := bets
		if winners > 0 {
			stride = bets / winners
		}
		for i := skip; i < bets; i++ {
			b := pool[(i+agency)%len(pool)]
			b.Agency = agency
			if winners > 0 && i%stride == 0 && i/stride < winners {
				b.Number = lottery.LotteryWinnerNumber
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// pacer returns a Pace function that keeps one agency at rate bets per
// second on average since start: it sleeps until the bets sent so far are
// due.
func pacer(rate float64, start time.Time) func(int) {
	sent := 0
	return func(n int) {
		due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		time.Sleep(time.Until(due))
		sent += n
	}
}
