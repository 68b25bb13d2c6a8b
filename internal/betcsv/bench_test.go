package betcsv_test

import (
	"bytes"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// BenchmarkReadAgencyFile reads an agency's file of 10,000 realistic bets
// (Spanish names, some accented, CRLF line ends as in the course dataset)
// per op, as the agency does on its hot path: split, normalize, validate.
func BenchmarkReadAgencyFile(b *testing.B) {
	const n = 10000
	var file []byte
	for bet := range sampledata.Bets(sampledata.Spec{Agency: 1, Bets: n, Winners: 4, Seed: 7}) {
		file = betcsv.AppendAgencyRow(file, bet)
		file = append(file[:len(file)-1], '\r', '\n')
	}
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		read := 0
		for _, err := range betcsv.ReadAgencyFile(bytes.NewReader(file), "agency-1.csv", 1) {
			if err != nil {
				b.Fatal(err)
			}
			read++
		}
		if read != n {
			b.Fatalf("read %d bets, want %d", read, n)
		}
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n*b.N)/s, "bets/s")
	}
}
