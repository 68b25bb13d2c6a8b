package protocol

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// benchBets returns n realistic bets of one agency, as an agency's file
// holds them.
func benchBets(b *testing.B, n int) []lottery.Bet {
	b.Helper()
	bets := slices.Collect(sampledata.Bets(sampledata.Spec{Agency: 1, Bets: n, Winners: n / 1000, Seed: 42}))
	if len(bets) != n {
		b.Fatalf("sampledata gave %d bets, want %d", len(bets), n)
	}
	return bets
}

// fillBatch adds bets from bets[*next:] (wrapping around) until the frame
// is full, and returns how many it added.
func fillBatch(b *testing.B, enc *BatchEncoder, bets []lottery.Bet, next *int) int {
	n := 0
	for {
		ok, err := enc.Add(bets[*next])
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			return n
		}
		n++
		*next = (*next + 1) % len(bets)
	}
}

// fullBatches encodes bets into full frames, concatenated, and returns
// them with the number of frames and bets they hold.
func fullBatches(b *testing.B, bets []lottery.Bet, frames int) (stream []byte, betsIn int) {
	b.Helper()
	enc := NewBatchEncoder(0xFFFF)
	next := 0
	var first uint64
	for range frames {
		enc.Reset(first)
		n := fillBatch(b, enc, bets, &next)
		first += uint64(n)
		betsIn += n
		stream = append(stream, enc.Frame()...)
	}
	return stream, betsIn
}

func reportBetsPerSecond(b *testing.B, bets int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(bets)/s, "bets/s")
	}
	b.ReportMetric(float64(bets)/float64(b.N), "bets/op")
}

// BenchmarkEncodeBatch fills a BatchEncoder with realistic bets until the
// 8 KiB frame is full, then takes its Frame: what a client does per batch.
func BenchmarkEncodeBatch(b *testing.B) {
	bets := benchBets(b, 10_000)
	enc := NewBatchEncoder(0xFFFF)
	// One frame's size, for MB/s.
	probe := 0
	enc.Reset(0)
	fillBatch(b, enc, bets, &probe)
	b.SetBytes(int64(len(enc.Frame())))

	b.ReportAllocs()
	b.ResetTimer()
	next, total := 0, 0
	var first uint64
	for range b.N {
		enc.Reset(first)
		n := fillBatch(b, enc, bets, &next)
		if f := enc.Frame(); len(f) > MaxFrameSize {
			b.Fatalf("frame of %d bytes", len(f))
		}
		first += uint64(n)
		total += n
	}
	b.StopTimer()
	reportBetsPerSecond(b, total)
}

// BenchmarkDecodeBatch decodes full 8 KiB batches of realistic bets:
// Decode of one payload (allocating its bets), DecodeBatch into a reused
// slice (as the central does), and Reader.Read from a stream of many
// frames (framing included).
func BenchmarkDecodeBatch(b *testing.B) {
	bets := benchBets(b, 10_000)

	// Each way decodes one payload's bets, into buf where it reuses one.
	decoders := []struct {
		name   string
		decode func(payload []byte, buf []lottery.Bet) ([]lottery.Bet, error)
	}{
		{"Decode", func(payload []byte, _ []lottery.Bet) ([]lottery.Bet, error) {
			m, err := Decode(TypeBatch, payload)
			if err != nil {
				return nil, err
			}
			return m.(Batch).Bets, nil
		}},
		{"DecodeBatchReuse", func(payload []byte, buf []lottery.Bet) ([]lottery.Bet, error) {
			m, err := DecodeBatch(payload, buf)
			return m.Bets, err
		}},
	}
	for _, dec := range decoders {
		b.Run(dec.name, func(b *testing.B) {
			stream, n := fullBatches(b, bets, 1)
			payload := stream[HeaderSize:]
			var buf []lottery.Bet
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				got, err := dec.decode(payload, buf)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != n {
					b.Fatalf("decoded %d bets, want %d", len(got), n)
				}
				buf = got
			}
			b.StopTimer()
			reportBetsPerSecond(b, n*b.N)
		})
	}

	b.Run("Reader", func(b *testing.B) {
		const frames = 64
		stream, _ := fullBatches(b, bets, frames)
		src := bytes.NewReader(stream)
		r := NewReader(src)
		b.SetBytes(int64(len(stream) / frames)) // about one frame per op
		b.ReportAllocs()
		b.ResetTimer()
		total := 0
		for range b.N {
			m, err := r.Read()
			if errors.Is(err, io.EOF) {
				src.Reset(stream) // start the stream again; not counted apart
				m, err = r.Read()
			}
			if err != nil {
				b.Fatal(err)
			}
			total += len(m.(Batch).Bets)
		}
		b.StopTimer()
		reportBetsPerSecond(b, total)
	})
}
