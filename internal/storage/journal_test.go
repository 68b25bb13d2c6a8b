package storage

import (
	"crypto/sha256"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// TestDrawRecord: a draw record keeps every field of the result through
// the journal's bytes, and replay restores the same result from it.
func TestDrawRecord(t *testing.T) {
	tests := []lottery.Result{
		{},
		{Agencies: 5, Bets: 1_234_567, Winners: 3, Digest: lottery.Digest{1, 2, 3}, WinnersDigest: lottery.Digest{31: 9}},
		{Agencies: 65535, Bets: 1 << 40, Winners: 1 << 31, Digest: lottery.Digest{0: 0xff}, WinnersDigest: lottery.Digest{0xee}},
	}
	for _, want := range tests {
		st := newJournalState()
		header := appendRecord(nil, record{kind: recordHeader, hash: headerMark})
		if err := st.apply(record{kind: recordHeader, hash: headerMark}, nil, header); err != nil {
			t.Fatalf("header: %v", err)
		}
		rec := drawRecord(want)
		rec.csvEnd, rec.prev = st.size, sha256.Sum256(header)
		raw := appendRecord(nil, rec)
		parsed, fault := parseRecord(raw)
		if fault != recordOK {
			t.Fatalf("%v: parseRecord: fault %d", want, fault)
		}
		if got := parsed.drawResult(); got != want {
			t.Errorf("drawResult: got %v, want %v", got, want)
		}
		if err := st.apply(parsed, nil, raw); err != nil {
			t.Fatalf("%v: apply: %v", want, err)
		}
		if st.drawn == nil || *st.drawn != want {
			t.Errorf("replay restores %v, want %v", st.drawn, want)
		}
	}
}
