package storage

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

var discardLog = slog.New(slog.DiscardHandler)

// benchBatch returns n realistic bets of agency.
func benchBatch(b *testing.B, agency, n int) []lottery.Bet {
	b.Helper()
	bets := slices.Collect(sampledata.Bets(sampledata.Spec{Agency: agency, Bets: n, Winners: 1, Seed: 3}))
	if len(bets) != n {
		b.Fatalf("sampledata gave %d bets, want %d", len(bets), n)
	}
	return bets
}

func rowsSize(bets []lottery.Bet) int64 {
	var buf []byte
	for _, bet := range bets {
		buf = betcsv.AppendStoreRow(buf, bet)
	}
	return int64(len(buf))
}

func reportBetsPerSecond(b *testing.B, bets int64) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(bets)/s, "bets/s")
	}
}

// countingFS is the OS file system, counting the store's fsyncs and
// writes of its journal (one journal write per group commit).
type countingFS struct {
	OSFS
	syncs, journalWrites atomic.Int64
}

func (c *countingFS) OpenFile(name string) (File, error) {
	f, err := c.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, fs: c, journal: filepath.Ext(name) == JournalSuffix}, nil
}

type countingFile struct {
	File
	fs      *countingFS
	journal bool
}

func (f *countingFile) Sync() error {
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

func (f *countingFile) Write(p []byte) (int, error) {
	if f.journal {
		f.fs.journalWrites.Add(1)
	}
	return f.File.Write(p)
}

func openBench(b *testing.B, dir string, opts Options) *Store {
	b.Helper()
	opts.Logger = discardLog
	s, err := Open(filepath.Join(dir, "bets.csv"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

// BenchmarkStoreBets stores a batch of 150 bets of one agency per op,
// waiting for each: with one caller every batch pays its own pair of
// fsyncs (sync), or none (nosync).
func BenchmarkStoreBets(b *testing.B) {
	const batch = 150
	for _, noSync := range []bool{false, true} {
		name := "sync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			bets := benchBatch(b, 1, batch)
			s := openBench(b, b.TempDir(), Options{NoSync: noSync})
			b.SetBytes(rowsSize(bets))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.StoreBets(bets); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportBetsPerSecond(b, int64(batch)*int64(b.N))
			if got := storedBets(s, 1); got != uint64(batch)*uint64(b.N) {
				b.Fatalf("committed %d, want %d", got, batch*b.N)
			}
		})
	}
}

// BenchmarkAppendConcurrent has g goroutines, one agency each, submit
// batches of 150 bets to a lottery.Central over the store, at their own
// positions, and wait for each: the central's own path. The
// writer gathers the waiting requests into one group commit: with g
// callers a group holds up to g batches for one pair of fsyncs.
// Reported: fsyncs/op (2 without group commit), fsyncs-avoided/op, and
// batches/commit (ops per journal write, one per group).
func BenchmarkAppendConcurrent(b *testing.B) {
	const batch = 150
	for _, c := range []struct {
		noSync bool
		g      int
	}{{false, 1}, {false, 8}, {false, 64}, {false, 256}, {true, 1}, {true, 64}} {
		name := fmt.Sprintf("sync/g=%d", c.g)
		if c.noSync {
			name = fmt.Sprintf("nosync/g=%d", c.g)
		}
		b.Run(name, func(b *testing.B) {
			bets := benchBatch(b, 1, batch)
			fsys := &countingFS{}
			s := openBench(b, b.TempDir(), Options{FS: fsys, NoSync: c.noSync})
			central, err := lottery.NewCentral(context.Background(), s, c.g, nopEvents{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(rowsSize(bets))
			b.ReportAllocs()
			syncs0, writes0 := fsys.syncs.Load(), fsys.journalWrites.Load()
			b.ResetTimer()
			var ops atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, c.g)
			for g := range c.g {
				agency := g + 1
				bets := slices.Clone(bets) // Submit sets each bet's agency
				wg.Go(func() {
					var first uint64
					for ops.Add(1) <= int64(b.N) {
						committed, stored, err := central.Submit(agency, first, bets).Wait(context.Background())
						if err != nil {
							errs <- err
							return
						}
						if stored != batch || committed != first+batch {
							errs <- fmt.Errorf("agency %d: stored %d committed %d, want %d and %d", agency, stored, committed, batch, first+batch)
							return
						}
						first = committed
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			syncs := fsys.syncs.Load() - syncs0
			commits := fsys.journalWrites.Load() - writes0
			reportBetsPerSecond(b, int64(batch)*int64(b.N))
			b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/op")
			if !c.noSync {
				b.ReportMetric(float64(2*int64(b.N)-syncs)/float64(b.N), "fsyncs-avoided/op")
			}
			if commits > 0 {
				b.ReportMetric(float64(b.N)/float64(commits), "batches/commit")
			}
		})
	}
}

// bigStore is a store of rows bets, 10 agencies, built once per benchmark
// with NoSync (not timed).
type bigStore struct {
	s       *Store
	size    int64 // bytes of bets.csv
	rows    int
	winners map[int]int // per agency
}

func buildBigStore(b *testing.B, rows int) *bigStore {
	b.Helper()
	const agencies, chunk = 10, 10_000
	s := openBench(b, b.TempDir(), Options{NoSync: true})
	bs := &bigStore{s: s, rows: rows, winners: make(map[int]int)}
	buf := make([]lottery.Bet, 0, chunk)
	for a := 1; a <= agencies; a++ {
		spec := sampledata.Spec{Agency: a, Bets: rows / agencies, Winners: rows / agencies / 2000, Seed: 11}
		if a == agencies {
			spec.Bets += rows % agencies
		}
		bs.winners[a] = spec.Clamped().Winners
		for bet := range sampledata.Bets(spec) {
			if buf = append(buf, bet); len(buf) == chunk {
				if err := s.StoreBets(buf); err != nil {
					b.Fatal(err)
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 {
			if err := s.StoreBets(buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	s.mu.Lock()
	bs.size = s.size
	s.mu.Unlock()
	return bs
}

const bigRows = 1_000_000

// BenchmarkLoadBets reads every row of a 1,000,000-row bets.csv per op
// with LoadBets and evaluates each with lottery.HasWon: the draw's scan.
func BenchmarkLoadBets(b *testing.B) {
	bs := buildBigStore(b, bigRows) // once: the parent of a sub-benchmark runs once
	b.Run(fmt.Sprintf("rows=%d", bs.rows), func(b *testing.B) {
		b.SetBytes(bs.size)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			n, winners := 0, 0
			for bet, err := range bs.s.LoadBets() {
				if err != nil {
					b.Fatal(err)
				}
				n++
				if lottery.HasWon(bet) {
					winners++
				}
			}
			if n != bs.rows {
				b.Fatalf("loaded %d bets, want %d", n, bs.rows)
			}
			want := 0
			for _, w := range bs.winners {
				want += w
			}
			if winners != want {
				b.Fatalf("%d winners, want %d", winners, want)
			}
		}
		b.StopTimer()
		reportBetsPerSecond(b, int64(bs.rows)*int64(b.N))
	})
}

// BenchmarkDraw runs lottery.Draw(store.LoadBets()) over a 1,000,000-row
// bets.csv per op.
func BenchmarkDraw(b *testing.B) {
	bs := buildBigStore(b, bigRows)
	b.Run(fmt.Sprintf("rows=%d", bs.rows), func(b *testing.B) {
		b.SetBytes(bs.size)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			winners, _, err := lottery.Draw(context.Background(), bs.s.LoadBets())
			if err != nil {
				b.Fatal(err)
			}
			for a, w := range bs.winners {
				if len(winners[a]) != w {
					b.Fatalf("agency %d: %d winners, want %d", a, len(winners[a]), w)
				}
			}
		}
		b.StopTimer()
		reportBetsPerSecond(b, int64(bs.rows)*int64(b.N))
	})
}
