package netguard

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// The defaults of Budget (SERVER_REFUSAL_RATE, SERVER_REFUSAL_BURST): a
// source may be refused 100 times at once and 10 times a second after
// that before its connections are closed at accept. A normal run refuses
// nothing, and a session that succeeds costs nothing, so agencies that
// share an address (behind one NAT) are throttled only where something
// at that address keeps failing.
const (
	DefaultRefusalRate  = 10
	DefaultRefusalBurst = 100
)

// MaxSources bounds the sources Refusals keeps apart. Past it, every new
// source shares one entry (logged as source "other"), with one budget and
// one summary, until a sweep forgets the quiet ones: memory stays bounded
// however many addresses a flood comes from.
const MaxSources = 16384

// LinesPerEpisode is how many fail lines of one source an episode logs in
// full (the first ones): the rest are counted in its summary line.
const LinesPerEpisode = 5

// ReasonOverBudget is the reason of a connection closed at accept because
// its source has spent its budget.
const ReasonOverBudget = "over_budget"

// otherSource names the entry that sources beyond MaxSources share.
const otherSource = "other"

// Budget is a token bucket per source: each refusal that costs (a failed
// TLS handshake, a peer refused before Hello) spends a token, a source
// earns Rate tokens a second back up to Burst, and a connection from a
// source left with less than one token is closed at accept, before any
// cryptography or log line. A refusal may spend down to -Burst: refusals
// already in flight when the budget ran out are paid for afterwards.
type Budget struct {
	Rate  float64 // tokens a second; 0 or less: no budget, every connection is served
	Burst int     // the most a source holds, and its start
}

// Refusals is the central's per-source record of refusals: the budget
// (Allow, Refuse), and the collapse of their fail lines, so that a source
// refused in a loop writes its first LinesPerEpisode lines, then one
// summary line every SummaryEvery while it goes on (Run):
//
//	action: refusals | result: fail | source: 10.0.0.7 | count: 31208 | reasons: over_budget=31000,tls=208
//
// A source is an IPv4 address or an IPv6 /64 (what one host usually
// holds). An episode ends at the first SummaryEvery without a refusal.
type Refusals struct {
	budget Budget
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	sources map[string]*source
}

// source is what Refusals keeps of one source.
type source struct {
	tokens float64
	at     time.Time      // when tokens was right
	lines  int            // fail lines logged in full this episode
	counts map[string]int // refusals not logged since the last summary, by reason
	active bool           // refused since the last sweep
}

// NewRefusals returns a record of refusals with budget b, whose summary
// lines go to log.
func NewRefusals(b Budget, log *slog.Logger) *Refusals {
	return &Refusals{budget: b, log: log, now: time.Now, sources: make(map[string]*source)}
}

// Allow reports whether a connection from addr may be served: false when
// its source has less than one token left. Such a connection is counted
// in the source's summary (ReasonOverBudget) and says nothing itself.
func (r *Refusals) Allow(addr net.Addr) bool {
	if r.budget.Rate <= 0 {
		return true
	}
	key := SourceOf(addr)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sources[key]
	if s == nil && len(r.sources) >= MaxSources {
		s = r.sources[otherSource]
	}
	if s == nil || s.refill(r.now(), r.budget) >= 1 {
		return true // an unknown source holds a full bucket
	}
	s.count(ReasonOverBudget)
	return false
}

// Refuse records a refusal of addr's for reason, spending one of its
// source's tokens where cost, and reports whether its fail line is to be
// logged: the first LinesPerEpisode of an episode are, the others are
// counted in the source's next summary.
func (r *Refusals) Refuse(addr net.Addr, reason string, cost bool) (say bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.lookup(SourceOf(addr), now)
	if cost && r.budget.Rate > 0 {
		s.refill(now, r.budget)
		s.tokens = max(s.tokens-1, -float64(r.budget.Burst))
	}
	if s.lines < LinesPerEpisode {
		s.lines++
		s.active = true
		return true
	}
	s.count(reason)
	return false
}

// lookup returns key's entry, made with a full bucket where there is none,
// or the shared one past MaxSources. r.mu is held.
func (r *Refusals) lookup(key string, now time.Time) *source {
	if s := r.sources[key]; s != nil {
		return s
	}
	if len(r.sources) >= MaxSources {
		key = otherSource
		if s := r.sources[key]; s != nil {
			return s
		}
	}
	s := &source{tokens: float64(r.budget.Burst), at: now}
	r.sources[key] = s
	return s
}

// refill adds the tokens earned since s.at, up to b.Burst, and returns
// them.
func (s *source) refill(now time.Time, b Budget) float64 {
	if d := now.Sub(s.at); d > 0 {
		s.tokens = min(s.tokens+d.Seconds()*b.Rate, float64(b.Burst))
		s.at = now
	}
	return s.tokens
}

// count counts a refusal not logged in full.
func (s *source) count(reason string) {
	if s.counts == nil {
		s.counts = make(map[string]int)
	}
	s.counts[reason]++
	s.active = true
}

// Run sweeps every SummaryEvery until ctx is done, then once more, so
// that no count is left unsaid.
func (r *Refusals) Run(ctx context.Context) {
	t := time.NewTicker(SummaryEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.Sweep()
		case <-ctx.Done():
			r.Sweep()
			return
		}
	}
}

// Sweep logs the summary of each source refused since the last sweep
// beyond its lines in full, ends the episodes of the sources that were
// not, and forgets those whose bucket is full again: such a source is as
// one never seen.
func (r *Refusals) Sweep() {
	type summary struct {
		key     string
		count   int
		reasons string
	}
	var out []summary
	now := r.now()
	r.mu.Lock()
	for key, s := range r.sources {
		if len(s.counts) > 0 {
			n, reasons := s.summary()
			out = append(out, summary{key, n, reasons})
			s.counts = nil
		}
		if !s.active {
			s.lines = 0
		}
		s.active = false
		if s.lines == 0 && (r.budget.Rate <= 0 || s.refill(now, r.budget) >= float64(r.budget.Burst)) {
			delete(r.sources, key)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b summary) int { return strings.Compare(a.key, b.key) })
	for _, l := range out {
		r.log.Error("refusals", logging.Fail, "source", l.key, "count", l.count, "reasons", l.reasons)
	}
}

// summary returns how many refusals s counted and them by reason, as
// "over_budget=31000,tls=208".
func (s *source) summary() (int, string) {
	reasons := make([]string, 0, len(s.counts))
	n := 0
	for reason, c := range s.counts {
		reasons = append(reasons, fmt.Sprintf("%s=%d", reason, c))
		n += c
	}
	slices.Sort(reasons)
	return n, strings.Join(reasons, ",")
}

// SourceOf is the source of a peer's address: its IP (an IPv4-mapped
// IPv6 address as IPv4), an IPv6 address's /64, or the address as it
// reads where it is not an IP's.
func SourceOf(addr net.Addr) string {
	if addr == nil {
		return otherSource
	}
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		ip = ap.Addr()
	}
	if !ip.IsValid() {
		return addr.String()
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
