package netguard

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// fakeClock is a time that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time        { return c.t }
func (c *fakeClock) add(d time.Duration)   { c.t = c.t.Add(d) }
func tcp(ip string, port int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
func newTestRefusals(b Budget) (*Refusals, *fakeClock, *harness.Buffer) {
	log := &harness.Buffer{}
	clock := &fakeClock{t: time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC)}
	r := NewRefusals(b, logging.New(log, logging.LevelWarning-4))
	r.now = clock.now
	return r, clock, log
}

// summaryLines returns the refusals summary lines of log.
func summaryLines(log string) []harness.Line {
	return harness.Filter(harness.ParseLog(log), "refusals", logging.ResultFail)
}

// TestBudgetSpentAndEarned: a source refused Burst times is closed at
// accept, another source is not; it earns a token back every 1/Rate, and
// its whole budget after Burst/Rate.
func TestBudgetSpentAndEarned(t *testing.T) {
	r, clock, _ := newTestRefusals(Budget{Rate: 10, Burst: 20})
	flooder, agency := tcp("10.0.0.7", 40000), tcp("10.0.0.8", 40001)
	for i := range 20 {
		if !r.Allow(flooder) {
			t.Fatalf("connection %d refused with %d tokens spent of 20", i+1, i)
		}
		r.Refuse(flooder, "tls", true)
	}
	if r.Allow(tcp("10.0.0.7", 40002)) {
		t.Error("a source that spent its burst was allowed, from another port too")
	}
	if !r.Allow(agency) {
		t.Error("another source was refused: the budget is per source")
	}
	clock.add(100 * time.Millisecond) // one token
	if !r.Allow(flooder) {
		t.Error("a source refused after earning one token back")
	}
	r.Refuse(flooder, "tls", true)
	if r.Allow(flooder) {
		t.Error("a source allowed after spending its one token")
	}
	clock.add(2 * time.Second) // the whole burst
	for i := range 20 {
		r.Refuse(flooder, "tls", true)
		if i < 19 && !r.Allow(flooder) {
			t.Fatalf("refused after %d refusals of a refilled burst of 20", i+1)
		}
	}
}

// TestBudgetWhatCosts: refusals that do not cost (busy) and connections
// that succeed (never refused) spend nothing, and a budget of rate 0 is
// off.
func TestBudgetWhatCosts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		budget  Budget
		cost    bool
		allowed bool // after 1,000 refusals
	}{
		{"refusals that cost", Budget{Rate: 1, Burst: 10}, true, false},
		{"refusals that do not cost", Budget{Rate: 1, Burst: 10}, false, true},
		{"no budget", Budget{Rate: 0, Burst: 10}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newTestRefusals(tc.budget)
			src := tcp("192.0.2.1", 1)
			for range 1000 {
				r.Refuse(src, "busy", tc.cost)
			}
			if got := r.Allow(src); got != tc.allowed {
				t.Errorf("Allow after 1,000 refusals = %v, want %v", got, tc.allowed)
			}
		})
	}
}

// TestBudgetDebt: refusals that come while a source is over budget (the
// handshakes it had in flight) are paid for: it waits for them too.
func TestBudgetDebt(t *testing.T) {
	r, clock, _ := newTestRefusals(Budget{Rate: 10, Burst: 10})
	src := tcp("192.0.2.1", 1)
	for range 15 {
		r.Refuse(src, "tls", true) // -5
	}
	clock.add(500 * time.Millisecond) // back to 0
	if r.Allow(src) {
		t.Error("allowed with 0 tokens, after a debt of 5")
	}
	clock.add(100 * time.Millisecond)
	if !r.Allow(src) {
		t.Error("refused with one token")
	}
	for range 1000 {
		r.Refuse(src, "tls", true)
	}
	clock.add(2*time.Second + 100*time.Millisecond) // a debt bounded at -Burst: 2 s back to full, and one token more
	if !r.Allow(src) {
		t.Error("still refused after 2*Burst/Rate: the debt is bounded at -Burst")
	}
}

// TestRefusalLinesCollapsed: a source refused in a loop logs its first
// LinesPerEpisode lines, then one summary per sweep with the count and
// the reasons, over budget included; the summaries add up to every
// refusal not logged in full. A quiet sweep ends the episode, and the
// next refusal is logged in full again; sources are kept apart.
func TestRefusalLinesCollapsed(t *testing.T) {
	r, clock, log := newTestRefusals(Budget{Rate: 10, Burst: 100})
	flooder, other := tcp("10.0.0.7", 1), tcp("2001:db8::1", 1)
	said, total := 0, 0
	for i := range 1000 {
		if i == 500 {
			clock.add(SummaryEvery)
			r.Sweep()
		}
		if !r.Allow(flooder) {
			total++
			continue
		}
		total++
		if r.Refuse(flooder, "tls", true) {
			said++
		}
	}
	if !r.Refuse(other, "forbidden", true) {
		t.Error("another source's first refusal was not to be logged")
	}
	r.Sweep()
	if said != LinesPerEpisode {
		t.Errorf("%d lines to be logged in full, want %d", said, LinesPerEpisode)
	}
	lines := summaryLines(log.String())
	if len(lines) != 2 {
		t.Fatalf("%d summary lines, want 2 (one a sweep):\n%s", len(lines), log)
	}
	counted := 0
	for _, l := range lines {
		if l.Fields["source"] != "10.0.0.7" {
			t.Errorf("summary of source %q, want 10.0.0.7", l.Fields["source"])
		}
		var n int
		fmt.Sscan(l.Fields["count"], &n)
		counted += n
	}
	if counted+said != total {
		t.Errorf("summaries count %d and %d lines were said: %d, want every one of %d refusals", counted, said, counted+said, total)
	}
	if reasons := lines[1].Fields["reasons"]; reasons == "" || !strings.Contains(reasons, "over_budget=") || !strings.Contains(reasons, "tls=") {
		t.Errorf("second summary's reasons %q, want over_budget and tls", reasons)
	}
	clock.add(SummaryEvery)
	r.Sweep() // quiet: the episode ends
	r.Sweep()
	if !r.Refuse(flooder, "tls", true) {
		t.Error("the first refusal of a new episode was not to be logged")
	}
}

// TestRefusalsForgetAndBound: a source whose bucket is full again and
// whose episode ended is forgotten; past MaxSources, new sources share
// one entry, whose budget holds them all.
func TestRefusalsForgetAndBound(t *testing.T) {
	r, clock, log := newTestRefusals(Budget{Rate: 10, Burst: 1})
	for i := range MaxSources + 10 {
		r.Refuse(tcp(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), 1), "tls", true)
	}
	if n := len(r.sources); n != MaxSources+1 {
		t.Fatalf("%d sources kept, want %d and the shared one", n, MaxSources)
	}
	if r.Allow(tcp("172.16.0.1", 1)) {
		t.Error("a new source past MaxSources was allowed while the shared entry is over budget")
	}
	clock.add(SummaryEvery)
	r.Sweep() // ends the episodes
	r.Sweep() // forgets them
	if n := len(r.sources); n != 0 {
		t.Errorf("%d sources kept after two quiet sweeps with full buckets, want 0", n)
	}
	if !r.Allow(tcp("172.16.0.1", 1)) {
		t.Error("a source refused once everything was forgotten")
	}
	if lines := summaryLines(log.String()); len(lines) != 1 || lines[0].Fields["source"] != otherSource {
		t.Errorf("summary lines %v, want one for the shared entry", lines)
	}
}

// TestSourceOf: an IPv4 address, an IPv4-mapped one, an IPv6 /64, and an
// address that is not an IP's.
func TestSourceOf(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{tcp("10.0.0.7", 5), "10.0.0.7"},
		{tcp("::ffff:10.0.0.7", 5), "10.0.0.7"},
		{tcp("2001:db8:1:2:3:4:5:6", 5), "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "@sock", Net: "unix"}, "@sock"},
		{nil, otherSource},
	} {
		if got := SourceOf(tc.addr); got != tc.want {
			t.Errorf("SourceOf(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestRefusalsRunSaysTheRest: Run's last sweep, when its context ends,
// says what was counted.
func TestRefusalsRunSaysTheRest(t *testing.T) {
	r, _, log := newTestRefusals(Budget{Rate: 10, Burst: 100})
	for range LinesPerEpisode + 3 {
		r.Refuse(tcp("10.0.0.7", 1), "timeout", true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Run(ctx)
	if lines := summaryLines(log.String()); len(lines) != 1 || lines[0].Fields["count"] != "3" || lines[0].Fields["reasons"] != "timeout=3" {
		t.Errorf("summary lines %v, want one with count 3, reasons timeout=3", lines)
	}
}
