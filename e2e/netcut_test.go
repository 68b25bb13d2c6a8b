package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
)

// This file holds the network-cut test: a toxiproxy (github.com/Shopify/
// toxiproxy/v2, run inside the test process) stands between the agencies
// and the central and breaks their connections in the ways a network
// does. The central and the agencies are the real binaries.

// netcutClientTimeout is the agencies' CLI_SERVER_TIMEOUT under network
// cuts: short, so that a stalled connection is noticed within the test.
// It is shorter than the central's hold of a winners query (5 s), which
// an agency waiting for the draw outwaits anyway (client.winnersWait).
const netcutClientTimeout = 2 * time.Second

// cut is one kind of network fault: the toxics that make it, and how long
// they stay.
type cut struct {
	name string
	// toxics returns the toxics' JSON, as the toxiproxy API takes them.
	toxics func(rng *rand.Rand, id int) []string
	// hold is how long the toxics stay before they are removed.
	hold func(rng *rand.Rand) time.Duration
}

func toxicJSON(name, typ, stream string, toxicity float64, attrs string) string {
	return fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":%g,"attributes":%s}`, name, typ, stream, toxicity, attrs)
}

var cuts = []cut{
	{
		// The next chunk an agency sends, in the middle of a batch, is
		// dropped and the connection closed (with RST on connections
		// opened while the toxic is there): the central reads a
		// truncated frame, the agency a closed connection.
		name: "reset_peer",
		toxics: func(rng *rand.Rand, id int) []string {
			return []string{toxicJSON(fmt.Sprintf("reset_%d", id), "reset_peer", "upstream",
				0.5+rng.Float64()/2, fmt.Sprintf(`{"timeout":%d}`, rng.IntN(20)))}
		},
		hold: func(rng *rand.Rand) time.Duration { return randDuration(rng, 2*time.Millisecond, 50*time.Millisecond) },
	},
	{
		// The agency → central direction ends after a random number
		// of bytes: a batch cut at any byte, the central never sees the
		// rest.
		name: "limit_data_upstream",
		toxics: func(rng *rand.Rand, id int) []string {
			return []string{toxicJSON(fmt.Sprintf("limit_up_%d", id), "limit_data", "upstream",
				1, fmt.Sprintf(`{"bytes":%d}`, 1+rng.IntN(20000)))}
		},
		hold: func(rng *rand.Rand) time.Duration {
			return randDuration(rng, 10*time.Millisecond, 100*time.Millisecond)
		},
	},
	{
		// The central → agency direction ends after a random number of
		// bytes: the central has stored batches whose Acks never reach
		// the agency (and may cut an Ack in half). A Welcome is 46 bytes
		// and an Ack 13: the limit lets the Welcome and some Acks through.
		name: "limit_data_downstream",
		toxics: func(rng *rand.Rand, id int) []string {
			return []string{toxicJSON(fmt.Sprintf("limit_down_%d", id), "limit_data", "downstream",
				1, fmt.Sprintf(`{"bytes":%d}`, 46+rng.IntN(13*40)))}
		},
		hold: func(rng *rand.Rand) time.Duration {
			return randDuration(rng, 10*time.Millisecond, 100*time.Millisecond)
		},
	},
	{
		// Nothing gets through, in one direction or the other, and the
		// connection stays open: the agency notices only by its own
		// timeout (CLI_SERVER_TIMEOUT). Removing the toxic closes the
		// connections it held.
		name: "timeout",
		toxics: func(rng *rand.Rand, id int) []string {
			stream := []string{"upstream", "downstream"}[rng.IntN(2)]
			return []string{toxicJSON(fmt.Sprintf("timeout_%d", id), "timeout", stream, 1, `{"timeout":0}`)}
		},
		hold: func(rng *rand.Rand) time.Duration {
			return randDuration(rng, netcutClientTimeout+200*time.Millisecond, netcutClientTimeout+time.Second)
		},
	},
	{
		// Both directions in tiny pieces: every frame arrives in several
		// reads, its length prefix too.
		name: "slicer",
		toxics: func(rng *rand.Rand, id int) []string {
			var out []string
			for _, stream := range []string{"upstream", "downstream"} {
				avg := 1 + rng.IntN(16)
				out = append(out, toxicJSON(fmt.Sprintf("slicer_%s_%d", stream, id), "slicer", stream, 1,
					fmt.Sprintf(`{"average_size":%d,"size_variation":%d,"delay":%d}`, avg, rng.IntN(avg), rng.IntN(200))))
			}
			return out
		},
		hold: func(rng *rand.Rand) time.Duration {
			return randDuration(rng, 50*time.Millisecond, 300*time.Millisecond)
		},
	},
}

// toxiproxyTimeout bounds a change of toxics. Toxiproxy changes them
// while it holds a lock that a connection being torn down also needs; a
// toxic that is forwarding data to such a connection then waits forever
// (Shopify/toxiproxy#558, open in v2.5.0). That has not been seen here,
// but should it happen the test says so instead of hanging.
const toxiproxyTimeout = 20 * time.Second

// toxiproxyCall runs f, a call into toxiproxy, failing the test when it
// returns an error or does not return within toxiproxyTimeout.
func toxiproxyCall(t *testing.T, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("toxiproxy: %s: %v", what, err)
		}
	case <-time.After(toxiproxyTimeout):
		t.Fatalf("toxiproxy: %s did not return within %v (a toxiproxy deadlock, Shopify/toxiproxy#558?)", what, toxiproxyTimeout)
	}
}

// TestNetworkCuts uploads the course dataset from 5 agencies through a
// proxy that, at random moments, resets connections in the middle of a
// batch, cuts either direction after a random number of bytes (so that
// Acks of stored batches are lost), stalls connections, and slices the
// stream into tiny reads and writes. Then the faults stop. Every agency
// ends with its own winners, bets.csv holds every bet exactly once, and
// the central itself counted every bet once.
func TestNetworkCuts(t *testing.T) { forEachBackend(t, testNetworkCuts) }

func testNetworkCuts(t *testing.T, be backend) {
	seed := testSeed(t, "NETCUT_SEED")
	rng := rand.New(rand.NewPCG(seed, 0x6e6574637574))
	data := faultData(t)

	srv := startServer(t, be.env(map[string]string{"AGENCIES_AMOUNT": strconv.Itoa(len(courseBets))}))
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	proxy := toxiproxy.NewProxy(api, "central", "127.0.0.1:0", srv.Addr)
	if err := proxy.Start(); err != nil {
		t.Fatalf("start toxiproxy: %v", err)
	}
	t.Cleanup(func() {
		stopped := make(chan struct{})
		go func() {
			proxy.Stop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(toxiproxyTimeout):
			t.Errorf("toxiproxy did not stop within %v", toxiproxyTimeout)
		}
	})
	proxyAddr := proxy.Listen // the address it listens on, once started
	t.Logf("toxiproxy %s -> central %s", proxyAddr, srv.Addr)

	started := time.Now()
	clients := make([]*harness.Process, len(courseBets))
	for i := range clients {
		id := i + 1
		clients[i] = startClient(t, "client-"+strconv.Itoa(id), faultClientEnv(id, proxyAddr, data, netcutClientTimeout))
	}
	// uploading reports whether some agency has not notified yet, as the
	// central says: it logs a notification once it is durable.
	uploading := func() bool {
		agencies := make(map[string]bool)
		for _, l := range harness.Filter(srv.Lines(), "notificacion", logging.ResultSuccess) {
			agencies[l.Fields["agencia"]] = true
		}
		return len(agencies) < len(clients)
	}

	// Cuts while the agencies upload, one after another, each followed by
	// a short while without faults in which the agencies reconnect and
	// resume; then more, if need be, to make at least 12 (those hit
	// agencies waiting for the draw). The kinds come in rounds, each
	// kind once per round in a random order, so every kind comes early;
	// a stall costs seconds, so there are only a few.
	type done struct {
		name      string
		at, held  time.Duration
		midUpload bool
	}
	var performed []done
	const maxStalls = 2
	stalls := 0
	var round []int
	pick := func() cut {
		for {
			if len(round) == 0 {
				round = rng.Perm(len(cuts))
			}
			c := cuts[round[0]]
			round = round[1:]
			if c.name == "timeout" {
				if stalls == maxStalls {
					continue
				}
				stalls++
			}
			return c
		}
	}
	for i := 0; i < 60 && (i < 12 || uploading()); i++ {
		c := pick()
		mid := uploading()
		at := time.Since(started)
		var names []string
		for _, js := range c.toxics(rng, i) {
			var name string
			toxiproxyCall(t, "add toxic "+js, func() error {
				w, err := proxy.Toxics.AddToxicJson(strings.NewReader(js))
				if err == nil {
					name = w.Name
				}
				return err
			})
			names = append(names, name)
		}
		hold := c.hold(rng)
		time.Sleep(hold)
		for _, name := range names {
			toxiproxyCall(t, "remove toxic "+name, func() error {
				return proxy.Toxics.RemoveToxic(context.Background(), name)
			})
		}
		performed = append(performed, done{c.name, at, hold, mid})
		time.Sleep(randDuration(rng, 10*time.Millisecond, 100*time.Millisecond))
	}
	toxiproxyCall(t, "reset toxics", func() error { // none should be left; make sure
		proxy.Toxics.ResetToxics(context.Background())
		return nil
	})

	stats := finishClients(t, clients, courseWinners)
	elapsed := time.Since(started)
	srv.Stop(t) // its log is complete once it has exited

	kinds, midKinds := make(map[string]int), make(map[string]int)
	mid := 0
	for i, p := range performed {
		note := ""
		if p.midUpload {
			mid++
			midKinds[p.name]++
			note = ", mid-upload"
		}
		kinds[p.name]++
		t.Logf("cut %2d at %v: %s for %v%s", i+1, p.at.Round(time.Millisecond), p.name, p.held.Round(time.Millisecond), note)
	}
	for _, c := range cuts {
		if kinds[c.name] == 0 {
			t.Errorf("no %s cut was made", c.name)
		}
	}
	retries, lost := 0, 0
	for i, st := range stats {
		t.Logf("%s: %d sessions, %d reconectar lines, %d resumed past a lost Ack", clients[i].Name(), st.Sessions, st.Retries, st.LostAcks)
		retries += st.Retries
		lost += st.LostAcks
	}

	// The central's own account: every bet received once, one draw.
	lines := srv.Lines()
	received := make(map[string]int)
	dups := 0
	for _, l := range harness.Filter(lines, "apuesta_recibida", "success") {
		n, err := strconv.Atoi(l.Fields["cantidad"])
		if err != nil {
			t.Fatalf("bad cantidad in %q", l.Raw)
		}
		received[l.Fields["agencia"]] += n
		if d := l.Fields["duplicadas"]; d != "" {
			n, err := strconv.Atoi(d)
			if err != nil {
				t.Fatalf("bad duplicadas in %q", l.Raw)
			}
			dups += n
		}
	}
	for i, want := range courseBets {
		if got := received[strconv.Itoa(i+1)]; got != want {
			t.Errorf("agency %d: the central logged %d bets received, want %d", i+1, got, want)
		}
	}
	if s := harness.Filter(lines, "sorteo", "success"); len(s) != 1 || s[0].Fields["ganadores"] != "10" {
		t.Errorf("the central's draw: %v, want one sorteo line with ganadores: 10", s)
	}
	// The central may refuse what the cuts broke (truncated frames,
	// connections reset under it, alone or, before Hello, in its
	// per-source summary of them) but nothing else: no batch of an agency
	// refused, no notification, no winners query.
	fails := make(map[string]int)
	for _, l := range harness.Filter(lines, "", "fail") {
		if l.Action == "refusals" && onlyBroken(l.Fields["reasons"]) {
			fails["broken before hello, summarised"]++
			continue
		}
		if l.Action != "frame" {
			t.Errorf("the central logged a failure that no cut explains: %s", l.Raw)
			continue
		}
		e := l.Fields["error"]
		switch {
		case strings.Contains(e, "unexpected EOF"):
			e = "truncated frame"
		case strings.Contains(e, "connection reset"):
			e = "connection reset"
		}
		fails[e]++
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fails {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("central: %d frame fail lines: %s", fails[k], k)
	}

	bets := be.betsFile(t, srv.Dir)
	assertStoredBets(t, bets, data, courseBets)
	assertDigests(t, srv.Process, clients, be, srv.Dir, data)
	t.Logf("%d cuts %v, %d of them before every agency had notified %v; %d reconnections, %d resumes past a lost Ack, %d bets received twice and stored once; agencies done in %v",
		len(performed), kinds, mid, midKinds, retries, lost, dups, elapsed.Round(time.Millisecond))
}

// onlyBroken reports whether a refusals summary's reasons ("broken=2" or
// "broken=2,tls=1") are all frames cut short or reset: what a cut does.
func onlyBroken(reasons string) bool {
	if reasons == "" {
		return false
	}
	for r := range strings.SplitSeq(reasons, ",") {
		if !strings.HasPrefix(strings.TrimSpace(r), "broken=") {
			return false
		}
	}
	return true
}
