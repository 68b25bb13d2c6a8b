package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// benchBets is a batch of the benchmarks: 200 bets, as agencies send them.
func benchBets(agency, first int) []lottery.Bet {
	out := make([]lottery.Bet, 200)
	for i := range out {
		out[i] = lottery.Bet{FirstName: "María José", LastName: "Fernández", Document: fmt.Sprint(20000000 + agency*100000 + first + i),
			Birthdate: "1987-06-14", Number: (first + i) % 10000}
	}
	return out
}

// fill appends agencies × batches batches of 200 bets, agencies in
// parallel, as the central does.
func fill(b *testing.B, s *Store, agencies, batches int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, agencies)
	for a := 1; a <= agencies; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last lottery.Receipt
			for i := range batches {
				last = s.Append(a, uint64(i*200), benchBets(a, i*200))
			}
			if _, err := last.Wait(context.Background()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkIngest appends batches of 200 bets from 100 agencies at once
// through one store: group commit over PostgreSQL, synchronous_commit on.
func BenchmarkIngest(b *testing.B) {
	const agencies, batches = 100, 50
	for b.Loop() {
		b.StopTimer()
		url := pgtest.Database(b)
		s, err := Open(url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		fill(b, s, agencies, batches)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(agencies*batches*200)*float64(b.N)/b.Elapsed().Seconds(), "bets/s")
}

// BenchmarkDraw holds the draw (LoadBets, HasWon) over 2 M bets in the
// database: what the replica that holds it reads.
func BenchmarkDraw(b *testing.B) {
	s, err := Open(pgtest.Database(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const agencies, batches = 200, 50
	fill(b, s, agencies, batches)
	b.ResetTimer()
	for b.Loop() {
		_, n, err := lottery.Draw(context.Background(), s.LoadBets())
		if err != nil || n != agencies*batches*200 {
			b.Fatalf("Draw: %d bets, %v", n, err)
		}
	}
	b.ReportMetric(float64(agencies*batches*200)*float64(b.N)/b.Elapsed().Seconds(), "bets/s")
}
