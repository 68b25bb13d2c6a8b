package protocol

import (
	"slices"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// TestBatchAllocationsPerFrame: encoding a batch allocates nothing, and
// decoding one into a reused slice allocates as much for one bet as for
// a full frame: nothing per bet on either side of the wire.
func TestBatchAllocationsPerFrame(t *testing.T) {
	bets := slices.Collect(sampledata.Bets(sampledata.Spec{Agency: 1, Bets: 400, Winners: 1, Seed: 7}))
	enc := NewBatchEncoder(65535)
	encode := func(n int) {
		enc.Reset(0)
		for _, b := range bets[:n] {
			if ok, err := enc.Add(b); err != nil || !ok {
				break
			}
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { encode(len(bets)) }); allocs != 0 {
		t.Errorf("encoding a full frame: %v allocations, want none", allocs)
	}
	payload := func(n int) []byte {
		encode(n)
		return slices.Clone(enc.Frame()[HeaderSize:])
	}
	one, full := payload(1), payload(len(bets))
	buf := make([]lottery.Bet, 0, len(bets))
	decodes := func(payload []byte) float64 {
		return testing.AllocsPerRun(100, func() {
			if _, err := DecodeBatch(payload, buf); err != nil {
				t.Fatal(err)
			}
		})
	}
	m, err := DecodeBatch(full, buf)
	if err != nil || len(m.Bets) < 50 {
		t.Fatalf("the full frame holds %d bets (%v), want a frame's worth", len(m.Bets), err)
	}
	if a1, aN := decodes(one), decodes(full); a1 != aN {
		t.Errorf("decoding 1 bet: %v allocations, %d bets: %v; want the same", a1, len(m.Bets), aN)
	}
}
