// External test package: sampledata imports lottery.
package lottery_test

import (
	"slices"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// benchBets returns n realistic bets: Spanish names, some accented, 8-digit
// documents, real birthdates.
func benchBets(b *testing.B, n, winners int) []lottery.Bet {
	b.Helper()
	bets := slices.Collect(sampledata.Bets(sampledata.Spec{Agency: 1, Bets: n, Winners: winners, Seed: 7}))
	if len(bets) != n {
		b.Fatalf("sampledata gave %d bets, want %d", len(bets), n)
	}
	return bets
}

func reportBetsPerSecond(b *testing.B, bets int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(bets)/s, "bets/s")
	}
}

var sinkErr error

// BenchmarkValidate runs Validator.Validate on one realistic bet per op,
// cycling over 4096 different bets so that accented and plain names mix
// as they do in the agencies' files.
func BenchmarkValidate(b *testing.B) {
	bets := benchBets(b, 4096, 4)
	v := lottery.NewValidator(time.Now()) // as the central does, once per batch
	b.ReportAllocs()
	b.ResetTimer()
	var err error
	for i := range b.N {
		if err = v.Validate(bets[i&4095]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sinkErr = err
	reportBetsPerSecond(b, b.N)
}

var sinkWinners int

// BenchmarkHasWon runs lottery.HasWon on one bet per op.
func BenchmarkHasWon(b *testing.B) {
	bets := benchBets(b, 4096, 41)
	want := 0
	for _, bet := range bets {
		if bet.Number == lottery.LotteryWinnerNumber {
			want++
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	winners := 0
	for i := range b.N {
		if lottery.HasWon(bets[i&4095]) {
			winners++
		}
	}
	b.StopTimer()
	sinkWinners = winners
	if b.N >= len(bets) && b.N%len(bets) == 0 && winners != want*(b.N/len(bets)) {
		b.Fatalf("%d winners, want %d", winners, want*(b.N/len(bets)))
	}
	reportBetsPerSecond(b, b.N)
}

var sinkRows []byte

// BenchmarkAppendRows renders a batch of 200 realistic bets as the
// central does for each batch it stores (lottery.AppendRows into a new
// buffer), cycling over 4096 bets.
func BenchmarkAppendRows(b *testing.B) {
	const batch = 200
	bets := benchBets(b, 4096, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at := i * batch % (len(bets) - batch)
		sinkRows = lottery.AppendRows(nil, 3, bets[at:at+batch])
	}
	b.StopTimer()
	reportBetsPerSecond(b, b.N*batch)
}
