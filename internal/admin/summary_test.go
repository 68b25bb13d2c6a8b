package admin

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// manyAgencies is a drawn lottery of n agencies, every row with every
// field at its widest: agencies 1..n/2 done, the odd ones connected.
func manyAgencies(n int) Status {
	st := drawnStatus()
	st.Expected, st.Agencies = n, make([]Agency, n)
	seen := time.Date(2026, 5, 1, 20, 59, 59, 999999999, time.FixedZone("ART", -3*3600))
	winners := math.MaxInt32
	for i := range st.Agencies {
		st.Agencies[i] = Agency{Agency: i + 1, BetsStored: math.MaxUint64, Batches: math.MaxUint64,
			Done: i < n/2, Connected: i%2 == 0, LastSeen: &seen, Winners: &winners}
	}
	st.Agencies[n-1].LastSeen = nil
	return st
}

// TestStatusBounded: /status and the page list every agency up to
// MaxListedAgencies, and summarise beyond, so that their size stays under
// MaxStatusBytes at lottery.MaxAgencies; the summary's counts are right
// and it names the first agencies the draw waits for.
func TestStatusBounded(t *testing.T) {
	for _, n := range []int{MaxListedAgencies, MaxListedAgencies + 1, lottery.MaxAgencies} {
		h := New(&fakeSource{st: manyAgencies(n)}, prometheus.NewRegistry())
		_, _, body := get(t, h, "/status")
		if len(body) > MaxStatusBytes {
			t.Errorf("%d agencies: /status is %d bytes, want at most %d", n, len(body), MaxStatusBytes)
		}
		if _, _, page := get(t, h, "/"); len(page) > MaxStatusBytes {
			t.Errorf("%d agencies: the page is %d bytes, want at most %d", n, len(page), MaxStatusBytes)
		}
		var got Status
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		if n <= MaxListedAgencies {
			if len(got.Agencies) != n || got.Summary != nil {
				t.Errorf("%d agencies: %d listed, summary %v, want every one listed", n, len(got.Agencies), got.Summary)
			}
			continue
		}
		if strings.Contains(body, `"agencies":`) {
			t.Errorf("%d agencies: /status lists them, want a summary", n)
		}
		sum := got.Summary
		if sum == nil {
			t.Fatalf("%d agencies: no agencies_summary in /status", n)
		}
		if sum.Count != n || sum.Done != n/2 || sum.Connected != (n+1)/2 || sum.NeverSeen != 1 {
			t.Errorf("%d agencies: summary %+v, want count %d, done %d, connected %d, never seen 1", n, *sum, n, n/2, (n+1)/2)
		}
		if len(sum.NotDone) != min(MaxNotDoneListed, n-n/2) || sum.NotDone[0] != n/2+1 {
			t.Errorf("%d agencies: not done %v, want the first %d from %d", n, sum.NotDone, MaxNotDoneListed, n/2+1)
		}
	}
}
