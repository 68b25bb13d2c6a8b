package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
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
	TLS  *TLS // mutual TLS; nil is plaintext
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
	// Welcomed is from the start until every agency has had its first
	// Welcome (its TLS handshake, with TLS, and its Hello done), and
	// WelcomeRate the agencies over it: handshakes a second, with TLS.
	Welcomed    time.Duration
	WelcomeRate float64
	// Winners is from the start until the last agency holds its winners.
	Winners time.Duration
}

// Scale drives opts.Agencies agencies of the real client code, in this
// process, against the central at addr, and checks every agency gets
// exactly its winners.
func Scale(ctx context.Context, addr string, opts ScaleOptions) (ScaleResult, error) {
	run := &scaleRun{
		opts:      opts,
		addr:      addr,
		pool:      betPool(4096),
		quiet:     logging.New(io.Discard, logging.LevelWarning),
		start:     time.Now(),
		latencies: make([]time.Duration, 0, opts.Agencies*opts.Bets/max(opts.BatchMax, 1)+opts.Agencies),
	}
	g, ctx := errgroup.WithContext(ctx)
	for id := 1; id <= opts.Agencies; id++ {
		g.Go(func() error { return run.agency(ctx, id) })
	}
	if err := g.Wait(); err != nil {
		return ScaleResult{}, err
	}
	return run.result()
}

// scaleRun is one national-scale run: what its agencies share.
type scaleRun struct {
	opts  ScaleOptions
	addr  string
	pool  []lottery.Bet
	quiet *slog.Logger
	start time.Time

	mu        sync.Mutex
	latencies []time.Duration // of every agency, once it has its winners
	lastDone  time.Time       // the last done notification
	lastWin   time.Time       // the last agency holding its winners
	lastHello time.Time       // the last agency's first Welcome
}

// addressFor returns agency id's server.address: the central's, or,
// where addr lists several replicas, all of them, starting at replica
// id mod n, so that the agencies are spread evenly and each fails over to
// the others.
func (r *scaleRun) addressFor(id int) string {
	addrs := strings.Split(r.addr, ",")
	i := id % len(addrs)
	return strings.Join(append(addrs[i:], addrs[:i]...), ",")
}

// agency runs agency id to its winners.
func (r *scaleRun) agency(ctx context.Context, id int) error {
	opts := r.opts
	cfg := config.DefaultClient()
	cfg.ID, cfg.ServerAddress, cfg.BatchMax = id, r.addressFor(id), opts.BatchMax
	cfg.ServerTimeout, cfg.RetryTimeout = 30*time.Second, 60*time.Second
	opts.TLS.SetClient(&cfg, id)
	probe := &agencyProbe{run: r, latencies: make([]time.Duration, 0, opts.Bets/max(opts.BatchMax, 1)+1)}
	options := []client.Option{
		client.WithSource(func() iter.Seq2[lottery.Bet, error] {
			return generated(r.pool, id, opts.Bets, opts.Winners)
		}),
		client.WithObserver(probe),
	}
	if opts.Rate > 0 {
		// Agencies start out of step, as real ones would: a random phase
		// within one batch's interval.
		perAgency := opts.Rate / float64(opts.Agencies)
		interval := time.Duration(float64(opts.BatchMax) / perAgency * float64(time.Second))
		options = append(options, client.WithPace(pacer(perAgency, r.start.Add(rand.N(interval+1)))))
	}
	res, err := client.New(cfg, r.quiet, options...).Run(ctx)
	if err != nil {
		return fmt.Errorf("agency %d: %w", id, err)
	}
	now := time.Now()
	if len(res.Winners) != opts.Winners {
		return fmt.Errorf("agency %d got %d winners, want %d", id, len(res.Winners), opts.Winners)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, probe.latencies...)
	r.lastWin = later(r.lastWin, now)
	return nil
}

// result sums up the run once every agency has its winners.
func (r *scaleRun) result() (ScaleResult, error) {
	if len(r.latencies) == 0 {
		return ScaleResult{}, errors.New("no batch was acknowledged")
	}
	slices.Sort(r.latencies)
	total := r.opts.Agencies * r.opts.Bets
	ingest := r.lastDone.Sub(r.start)
	return ScaleResult{
		Bets:        total,
		Ingest:      ingest,
		Throughput:  float64(total) / ingest.Seconds(),
		AckP50:      Percentile(r.latencies, 50),
		AckP99:      Percentile(r.latencies, 99),
		AckMax:      r.latencies[len(r.latencies)-1],
		Draw:        r.lastWin.Sub(r.lastDone),
		Welcomed:    r.lastHello.Sub(r.start),
		WelcomeRate: float64(r.opts.Agencies) / r.lastHello.Sub(r.start).Seconds(),
		Winners:     r.lastWin.Sub(r.start),
	}, nil
}

// agencyProbe is the client.Observer (and client.Resumer) of one agency
// of a run: it keeps the agency's ack latencies, and the run's last done
// notification and last first Welcome.
type agencyProbe struct {
	run       *scaleRun
	latencies []time.Duration // appended to by the agency while it runs, read once Run returns
	welcomed  bool
}

func (p *agencyProbe) OnResume(uint64) {
	if p.welcomed {
		return
	}
	p.welcomed = true
	now := time.Now()
	p.run.mu.Lock()
	defer p.run.mu.Unlock()
	p.run.lastHello = later(p.run.lastHello, now)
}

func (p *agencyProbe) OnAck(_ int, latency time.Duration) {
	p.latencies = append(p.latencies, latency)
}

func (p *agencyProbe) OnDone() {
	now := time.Now()
	p.run.mu.Lock()
	defer p.run.mu.Unlock()
	p.run.lastDone = later(p.run.lastDone, now)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
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

// generated yields agency's bets: bets of the pool, of which the first
// `winners` play the winning number.
func generated(pool []lottery.Bet, agency, bets, winners int) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		// Winners are spread over the stream: bet i wins when i%stride==0.
		stride := bets
		if winners > 0 {
			stride = bets / winners
		}
		for i := range bets {
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

// pacer returns a function for client.WithPace that keeps one agency at
// rate bets per second on average since start: it sleeps until the bets
// sent so far are due.
func pacer(rate float64, start time.Time) func(int) {
	sent := 0
	return func(n int) {
		due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		time.Sleep(time.Until(due))
		sent += n
	}
}
