package server_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loteria-nacional/quiniela/internal/app"
	"github.com/loteria-nacional/quiniela/internal/app/apptest"
	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/client"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
	"github.com/loteria-nacional/quiniela/internal/server"
)

// TestMain fails the package if any goroutine outlives its test: every
// server shuts down whole.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// logSink is the server's log, which tests read while the server writes.
type logSink struct{ *harness.Buffer }

// lines returns the log lines that contain every one of parts.
func (b *logSink) lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// testServer is a whole central, as cmd/server runs it, and its log.
type testServer struct {
	*apptest.Central
	addr    string
	log     *logSink
	central *lottery.Central
}

// serverSetup is what a test may change of a central: its
// configuration, and Main's seams.
type serverSetup struct {
	cfg   config.Server
	seams []func(*app.Main)
}

// serverOption changes a central's setup.
type serverOption func(*serverSetup)

func withPeerTimeout(d time.Duration) serverOption {
	return func(s *serverSetup) { s.cfg.ReadTimeout = d }
}

func withHelloTimeout(d time.Duration) serverOption {
	return func(s *serverSetup) { s.cfg.HelloTimeout = d }
}

func withMaxConnections(n int) serverOption {
	return func(s *serverSetup) { s.cfg.MaxConnections = n }
}

func withWinnersHold(d time.Duration) serverOption {
	return withSeam(func(m *app.Main) { m.WinnersHold = d })
}

func withWaitingEvery(d time.Duration) serverOption {
	return withSeam(func(m *app.Main) { m.WaitingEvery = d })
}

// withLedger puts wrap(store) between the domain and the store.
func withLedger(wrap func(lottery.Ledger) lottery.Ledger) serverOption {
	return withSeam(func(m *app.Main) { m.WrapLedger = wrap })
}

func withSeam(set func(*app.Main)) serverOption {
	return func(s *serverSetup) { s.seams = append(s.seams, set) }
}

// startServer runs a central for agencies on a free port of 127.0.0.1
// until the test ends: app.Main, through apptest, as cmd/server runs it.
func startServer(t testing.TB, agencies int, opts ...serverOption) *testServer {
	t.Helper()
	setup := serverSetup{cfg: apptest.Config(agencies)}
	setup.cfg.ReadTimeout, setup.cfg.MaxConnections = 5*time.Second, 4096
	setup.cfg.LogLevel = logging.LevelWarning - 4 // INFO and above
	for _, o := range opts {
		o(&setup)
	}
	c := apptest.Start(t, setup.cfg, setup.seams...)
	return &testServer{Central: c, addr: c.Address(), log: &logSink{c.Log}, central: c.Central()}
}

// writeAgencyFile writes a generated agency file and returns its path.
func writeAgencyFile(t testing.TB, agency, bets, winners int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("agency-%d.csv", agency))
	if err := sampledata.WriteFile(path, sampledata.Spec{Agency: agency, Bets: bets, Winners: winners, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	return path
}

// lotteryFile writes agency's file for completeLottery: validBets(agency,
// 8, 0), which the raw sessions of these tests send first, then 300 bets
// with agency%3 winners. The agency checks what the central holds against
// its file, so a test that stored bets by hand must have stored these.
func lotteryFile(t testing.TB, agency int) string {
	t.Helper()
	path := writeAgencyFile(t, agency, 300, agency%3)
	rest, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []byte
	for _, b := range validBets(agency, 8, 0) {
		rows = betcsv.AppendAgencyRow(rows, b)
	}
	if err := os.WriteFile(path, append(rows, rest...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runAgency runs the real agency code against ts and returns its winners.
func runAgency(t *testing.T, ts *testServer, agency int, file string) ([]string, error) {
	t.Helper()
	return runAgencyWith(t, ts, agency, file, nil)
}

// runAgencyWith is runAgency with set, when not nil, changing the
// agency's configuration (its TLS files, say).
func runAgencyWith(t *testing.T, ts *testServer, agency int, file string, set func(*config.Client)) ([]string, error) {
	t.Helper()
	cfg := config.DefaultClient()
	cfg.ID, cfg.ServerAddress, cfg.DataFile = agency, ts.addr, file
	cfg.RetryTimeout, cfg.ServerTimeout = 20*time.Second, 10*time.Second
	if set != nil {
		set(&cfg)
	}
	a := client.New(cfg, logging.New(io.Discard, logging.LevelWarning), client.WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.Run(ctx)
	return res.Winners, err
}

// rawConn is a hand-driven connection to the central.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *protocol.Reader
}

func dial(t *testing.T, ts *testServer) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, r: protocol.NewReader(nc)}
}

func (c *rawConn) send(msgs ...protocol.Message) {
	c.t.Helper()
	for _, m := range msgs {
		frame, err := protocol.AppendFrame(nil, m)
		if err != nil {
			c.t.Fatal(err)
		}
		c.sendRaw(frame)
	}
}

func (c *rawConn) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) read() protocol.Message {
	c.t.Helper()
	m, err := c.r.Read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expectError reads an Error frame with code and returns it.
func (c *rawConn) expectError(code protocol.Code) *protocol.Error {
	c.t.Helper()
	m := c.read()
	e, ok := m.(*protocol.Error)
	if !ok || e.Code != code {
		c.t.Fatalf("got %#v, want error %v", m, code)
	}
	return e
}

// expectClosed checks that the central closed the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	if m, err := c.r.Read(); err == nil {
		c.t.Fatalf("got %#v, want the connection closed", m)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("read after refusal: %v, want EOF", err)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func (c *rawConn) hello(agency int) protocol.Welcome {
	c.t.Helper()
	c.send(protocol.Hello{Agency: uint32(agency), Version: protocol.Version})
	w, ok := c.read().(protocol.Welcome)
	if !ok {
		c.t.Fatal("hello not answered with welcome")
	}
	return w
}

func validBets(agency, n, from int) []lottery.Bet {
	out := make([]lottery.Bet, n)
	for i := range out {
		out[i] = lottery.Bet{Agency: agency, FirstName: "Ana", LastName: "Díaz", Document: fmt.Sprint(20000000 + from + i), Birthdate: "1980-01-02", Number: (from + i) % 10000}
	}
	return out
}

// rawFrame builds a frame with any length, type and payload.
func rawFrame(length uint32, typ byte, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	return append(append(b, typ), payload...)
}

// TestHostileInput sends each kind of bad input and then shows that a
// normal agency still completes its lottery.
func TestHostileInput(t *testing.T) {
	badBet := func(mutate func(*lottery.Bet)) protocol.Message {
		b := validBets(1, 2, 0)
		mutate(&b[1])
		return protocol.Batch{First: 0, Bets: b}
	}
	tests := []struct {
		name   string
		hello  bool   // open a session first
		raw    []byte // sent as is
		msg    protocol.Message
		code   protocol.Code // the error expected, 0 for none
		closes bool          // the central closes the connection after it
		reason string        // in the server's fail line
	}{
		{name: "random bytes", raw: []byte("GET / HTTP/1.1\r\nHost: central\r\n\r\n"), code: protocol.CodeFrameTooLarge, closes: true, reason: "larger than 8192"},
		{name: "length over 8 kB", raw: rawFrame(1<<31, byte(protocol.TypeHello), nil), code: protocol.CodeFrameTooLarge, closes: true, reason: "larger than 8192"},
		{name: "empty frame", raw: rawFrame(0, 0, nil)[:4], code: protocol.CodeMalformed, closes: true, reason: "no type"},
		{name: "unknown type", raw: rawFrame(1, 0x42, nil), code: protocol.CodeUnknownType, closes: true, reason: "unknown message type"},
		{name: "hello with a short payload", raw: rawFrame(3, byte(protocol.TypeHello), []byte{0, 1}), code: protocol.CodeMalformed, closes: true, reason: "malformed"},
		{name: "agency out of range", msg: protocol.Hello{Agency: 9, Version: protocol.Version}, code: protocol.CodeBadAgency, closes: true, reason: "agency 9 is not one of 1..2"},
		{name: "agency zero", msg: protocol.Hello{Agency: 0, Version: protocol.Version}, code: protocol.CodeBadAgency, closes: true, reason: "agency 0 is not one of 1..2"},
		{name: "an agency of protocol 1", msg: protocol.Hello{Agency: 1, Version: 1}, code: protocol.CodeVersion, closes: true, reason: "agency speaks protocol 1, central speaks 2 to 3"},
		{name: "an agency of a newer protocol", msg: protocol.Hello{Agency: 1, Version: protocol.Version + 1}, code: protocol.CodeVersion, closes: true, reason: "agency speaks protocol 4, central speaks 2 to 3"},
		{name: "batch before hello", msg: protocol.Batch{Bets: validBets(1, 1, 0)}, code: protocol.CodeUnexpected, closes: true, reason: "before hello"},
		{name: "a central's message", hello: true, msg: protocol.Ack{Committed: 1}, code: protocol.CodeUnexpected, closes: true, reason: "in a session"},
		{name: "bad date", hello: true, msg: badBet(func(b *lottery.Bet) { b.Birthdate = "2023-02-30" }), code: protocol.CodeInvalidBet, reason: "birthdate"},
		{name: "non-digit document", hello: true, msg: badBet(func(b *lottery.Bet) { b.Document = "12a45" }), code: protocol.CodeInvalidBet, reason: "document"},
		{name: "number out of range", hello: true, msg: badBet(func(b *lottery.Bet) { b.Number = 10000 }), code: protocol.CodeInvalidBet, reason: "number"},
		{name: "empty name", hello: true, msg: badBet(func(b *lottery.Bet) { b.FirstName = "" }), code: protocol.CodeInvalidBet, reason: "first_name"},
		{name: "not UTF-8", hello: true, raw: batchWithName("\xff\xfe"), code: protocol.CodeMalformed, closes: true, reason: "UTF-8"},
		{name: "gap in the stream", hello: true, msg: protocol.Batch{First: 5, Bets: validBets(1, 1, 5)}, code: protocol.CodeOutOfOrder, reason: "gap"},
		{name: "done before the bets", hello: true, msg: protocol.Done{Total: 3}, code: protocol.CodeIncomplete, reason: "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, 2)
			c := dial(t, ts)
			if tt.hello {
				c.hello(1)
			}
			if tt.raw != nil {
				c.sendRaw(tt.raw)
			} else {
				c.send(tt.msg)
			}
			if e := c.expectError(tt.code); !strings.Contains(e.Message, tt.reason) {
				t.Errorf("peer told %q, want the reason %q", e.Message, tt.reason)
			}
			if tt.closes {
				c.expectClosed()
			}
			waitFor(t, func() bool { return len(ts.log.lines("result: fail", tt.reason)) == 1 },
				"one fail line naming %q; log:\n%s", tt.reason, ts.log)
			if fails := ts.log.lines("result: fail"); len(fails) != 1 || !strings.Contains(fails[0], "peer: 127.0.0.1:") {
				t.Errorf("want exactly one fail line naming the peer, got %q", fails)
			}
			// The admin page's latest refusal of the agency: only of one
			// that said Hello, never of a peer that is no agency.
			act := ts.Server().Activity()[1]
			ref := act.LastRefusal
			switch {
			case tt.hello && (ref == nil || !act.Refused || ref.Reason != tt.code.String() || !strings.Contains(ref.Message, tt.reason)):
				t.Errorf("agency 1's latest refusal is %+v, want %s saying %q", ref, tt.code, tt.reason)
			case !tt.hello && ref != nil:
				t.Errorf("a refusal before Hello is told against agency 1: %+v", ref)
			}
			if !tt.closes {
				// The connection stays usable: a good batch goes through.
				c.send(protocol.Batch{First: 0, Bets: validBets(1, 2, 0)})
				if ack, ok := c.read().(protocol.Ack); !ok || ack.Committed != 2 {
					t.Errorf("after the refusal a good batch got %#v, want Ack 2", ack)
				}
			}
			if n := countBets(t, ts.Store()); n != 0 && (tt.closes || tt.code != protocol.CodeInvalidBet && tt.code != protocol.CodeOutOfOrder && tt.code != protocol.CodeIncomplete) {
				t.Errorf("%d bets stored from a refused input", n)
			}
			completeLottery(t, ts)
		})
	}
}

func batchWithName(name string) []byte {
	payload := binary.BigEndian.AppendUint64(nil, 0)
	payload = binary.BigEndian.AppendUint16(payload, 1)
	for _, s := range []string{name, "X", "1", "1990-01-01"} {
		payload = append(append(payload, byte(len(s))), s...)
	}
	payload = binary.BigEndian.AppendUint16(payload, 5)
	return rawFrame(uint32(len(payload)+1), byte(protocol.TypeBatch), payload)
}

// completeLottery runs every agency of ts with the real client code and
// checks each gets its own winners.
func completeLottery(t *testing.T, ts *testServer) {
	t.Helper()
	n := ts.central.Agencies()
	var wg sync.WaitGroup
	errs := make([]error, n+1)
	got := make([][]string, n+1)
	for a := 1; a <= n; a++ {
		file := lotteryFile(t, a)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[a], errs[a] = runAgency(t, ts, a, file)
		}()
	}
	wg.Wait()
	for a := 1; a <= n; a++ {
		if errs[a] != nil {
			t.Fatalf("agency %d: %v", a, errs[a])
		}
		if len(got[a]) != a%3 {
			t.Errorf("agency %d got %d winners, want %d", a, len(got[a]), a%3)
		}
	}
}

func countBets(t *testing.T, s lottery.Ledger) int {
	t.Helper()
	n := 0
	for _, err := range s.LoadBets() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTruncatedFrameThenClose: half a frame and a close is logged once,
// and the central goes on.
func TestTruncatedFrameThenClose(t *testing.T) {
	ts := startServer(t, 2)
	c := dial(t, ts)
	c.hello(1)
	frame, _ := protocol.AppendFrame(nil, protocol.Batch{Bets: validBets(1, 3, 0)})
	c.sendRaw(frame[:len(frame)/2])
	c.nc.Close()
	waitFor(t, func() bool { return len(ts.log.lines("result: fail", "unexpected EOF")) == 1 }, "a fail line for the truncated frame; log:\n%s", ts.log)
	completeLottery(t, ts)
}

// TestStalledPeers: a peer that sends nothing, or half a frame, is closed
// at the Hello deadline and does not stall the draw.
func TestStalledPeers(t *testing.T) {
	ts := startServer(t, 2, withHelloTimeout(300*time.Millisecond))
	silent := dial(t, ts)
	half := dial(t, ts)
	half.sendRaw([]byte{0, 0, 0, 40, byte(protocol.TypeBatch), 1, 2})
	completeLottery(t, ts)
	silent.expectError(protocol.CodeTimeout)
	silent.expectClosed()
	half.expectError(protocol.CodeTimeout)
	half.expectClosed()
	if n := len(ts.log.lines("result: fail", "error: hello not completed in 300ms")); n != 2 {
		t.Errorf("%d timeout fail lines, want 2; log:\n%s", n, ts.log)
	}
}

// trickle writes b to c one byte every interval, from a goroutine that
// ends when b is written or a write fails, and at the latest when the
// test ends (which closes the connection).
func trickle(t *testing.T, c *rawConn, b []byte, interval time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range b {
			if i > 0 {
				time.Sleep(interval)
			}
			if _, err := c.nc.Write(b[i : i+1]); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.nc.Close()
		<-done
	})
}

// TestSlowPeers: a connection has until its Hello deadline, from its
// accept, to complete Hello, however steadily its bytes come; after
// Hello, a frame has the read timeout from its first byte, however
// steadily its bytes come, and silence between frames has the read
// timeout too. Each close is one fail line with its own reason, the peer
// is told timeout, and agencies are served meanwhile.
func TestSlowPeers(t *testing.T) {
	const (
		helloTimeout = 400 * time.Millisecond
		readTimeout  = time.Second
		slack        = 400 * time.Millisecond // for a loaded machine running -race
	)
	hello, err := protocol.AppendFrame(nil, protocol.Hello{Agency: 1, Version: protocol.Version})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := protocol.AppendFrame(nil, protocol.Batch{First: 0, Bets: validBets(1, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		hello    bool          // complete Hello first; the clock starts at Welcome
		pause    time.Duration // then send nothing for this long
		send     []byte        // then trickle this
		interval time.Duration // one byte every interval
		// The central closes the connection after closedAfter (on the
		// clock), with this reason; or, when reason is empty, answers
		// the frame with Ack.
		closedAfter time.Duration
		reason      string
	}{
		{name: "silent before hello", closedAfter: helloTimeout, reason: "hello not completed in 400ms"},
		// 11 bytes at 150 ms: whole after 1.5 s, past the read timeout
		// too; the Hello deadline closes it at 400 ms.
		{name: "hello trickled", send: hello, interval: 150 * time.Millisecond, closedAfter: helloTimeout, reason: "hello not completed in 400ms"},
		{name: "silent after hello", hello: true, closedAfter: readTimeout, reason: "nothing received for 1s"},
		// About 40 bytes at 100 ms: 4 s, with a byte always well within
		// the read timeout of the one before.
		{name: "frame trickled after hello", hello: true, send: batch, interval: 100 * time.Millisecond, closedAfter: readTimeout, reason: "frame not completed in 1s"},
		// Silence does not count against the frame, nor the frame's
		// bytes against silence: the deadline is the frame's first
		// byte plus the read timeout.
		{name: "frame trickled after a pause", hello: true, pause: 600 * time.Millisecond, send: batch, interval: 100 * time.Millisecond, closedAfter: 600*time.Millisecond + readTimeout, reason: "frame not completed in 1s"},
		// A frame that takes 600 ms, begun 700 ms into a silence: each
		// within the read timeout, so it is answered.
		{name: "slow frame after a pause", hello: true, pause: 700 * time.Millisecond, send: batch, interval: 600 * time.Millisecond / time.Duration(len(batch))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, 2, withHelloTimeout(helloTimeout), withPeerTimeout(readTimeout))
			// Before the dial: the central's clock starts at its accept,
			// which a loaded machine may run well before this goroutine
			// sees the dial return.
			start := time.Now()
			c := dial(t, ts)
			if tt.hello {
				c.hello(1)
				start = time.Now()
			}
			if tt.send != nil {
				time.Sleep(tt.pause)
				trickle(t, c, tt.send, tt.interval)
			}
			if tt.reason == "" {
				if ack, ok := c.read().(protocol.Ack); !ok || ack.Committed != 1 {
					t.Fatalf("slow frame answered %#v, want Ack 1", ack)
				}
				if fails := ts.log.lines("result: fail"); len(fails) != 0 {
					t.Errorf("fail lines for a frame in time: %q", fails)
				}
				return
			}
			if e := c.expectError(protocol.CodeTimeout); e.Message != tt.reason {
				t.Errorf("peer told %q, want %q", e.Message, tt.reason)
			}
			c.expectClosed()
			if took := time.Since(start); took < tt.closedAfter-50*time.Millisecond || took > tt.closedAfter+slack {
				t.Errorf("closed after %v, want %v", took.Round(time.Millisecond), tt.closedAfter)
			}
			waitFor(t, func() bool { return len(ts.log.lines("result: fail")) == 1 }, "a fail line; log:\n%s", ts.log)
			if fails := ts.log.lines("result: fail", "peer: 127.0.0.1:", "error: "+tt.reason); len(fails) != 1 {
				t.Errorf("want one fail line naming the peer and %q; log:\n%s", tt.reason, ts.log)
			}
			completeLottery(t, ts)
		})
	}
}

// TestConnectionLimit: when every slot is taken, as many connections
// again wait for one, each until its Hello deadline, and get one in the
// order they came; the one still waiting at its deadline, and any beyond
// those, are refused busy; agencies get in once others leave.
func TestConnectionLimit(t *testing.T) {
	const helloTimeout = time.Second
	ts := startServer(t, 2, withMaxConnections(2), withHelloTimeout(helloTimeout))
	agency1, agency2 := dial(t, ts), dial(t, ts)
	agency1.hello(1) // the two sessions hold both slots
	agency2.hello(2)
	// Two connections wait, first and second.
	var waiters []*rawConn
	for n := int64(1); n <= 2; n++ {
		c := dial(t, ts)
		waitFor(t, func() bool { return ts.Server().Waiting() == n }, "%d connections waiting", n)
		c.send(protocol.Health{})
		waiters = append(waiters, c)
	}
	second := time.Now()
	// No room to wait: refused at once.
	over := dial(t, ts)
	over.expectError(protocol.CodeBusy)
	over.expectClosed()
	if took := time.Since(second); took > helloTimeout/2 {
		t.Errorf("a connection beyond the waiting room refused after %v, want at once", took)
	}
	// A slot frees: the first waiter gets it.
	agency1.nc.Close()
	if m, ok := waiters[0].read().(protocol.HealthOK); !ok {
		t.Fatalf("first waiter got %#v, want HealthOK", m)
	}
	waiters[0].expectClosed()
	// The second gets the slot the first leaves.
	if m, ok := waiters[1].read().(protocol.HealthOK); !ok {
		t.Fatalf("second waiter got %#v, want HealthOK", m)
	}
	waiters[1].expectClosed()
	// A waiter whose Hello deadline passes is refused busy.
	again := dial(t, ts)
	again.hello(1) // both slots held again
	late := dial(t, ts)
	accepted := time.Now()
	waitFor(t, func() bool { return ts.Server().Waiting() == 1 }, "a connection waiting")
	late.expectError(protocol.CodeBusy)
	if took := time.Since(accepted); took < helloTimeout-50*time.Millisecond {
		t.Errorf("a waiting connection refused after %v, want its Hello deadline, %v", took, helloTimeout)
	}
	if n := len(ts.log.lines("result: fail", "too many connections", "peer: 127.0.0.1:")); n != 2 {
		t.Errorf("%d fail lines for refused connections, want 2; log:\n%s", n, ts.log)
	}
	// The agencies get in once others leave.
	again.nc.Close()
	agency2.nc.Close()
	completeLottery(t, ts)
}

// TestSameAgencyTwice: two connections for one agency store nothing twice.
func TestSameAgencyTwice(t *testing.T) {
	ts := startServer(t, 1)
	first, second := dial(t, ts), dial(t, ts)
	first.hello(1)
	bets := validBets(1, 4, 0)
	first.send(protocol.Batch{First: 0, Bets: bets[:2]})
	if ack, ok := first.read().(protocol.Ack); !ok || ack.Committed != 2 {
		t.Fatalf("first batch: %#v", ack)
	}
	w := second.hello(1)
	if w.Committed != 2 {
		t.Errorf("second connection resumes at %d, want 2", w.Committed)
	}
	first.expectError(protocol.CodeSuperseded)
	first.expectClosed()
	// The newer connection resends the first batch (its ack was lost,
	// say) and goes on.
	second.send(protocol.Batch{First: 0, Bets: bets[:2]}, protocol.Batch{First: 2, Bets: bets[2:]})
	for _, want := range []uint64{2, 4} {
		if ack, ok := second.read().(protocol.Ack); !ok || ack.Committed != want {
			t.Fatalf("got %#v, want Ack %d", ack, want)
		}
	}
	if n := countBets(t, ts.Store()); n != 4 {
		t.Errorf("%d bets stored, want 4", n)
	}
}

// TestAfterTheDraw: new bets are refused with an error code, a repeated
// done is harmless, winners come at once and stay the same.
func TestAfterTheDraw(t *testing.T) {
	ts := startServer(t, 2)
	completeLottery(t, ts)
	c := dial(t, ts)
	w := c.hello(1)
	if !w.Done || !w.Drawn {
		t.Errorf("welcome after the draw: %+v, want done and drawn", w)
	}
	c.send(protocol.Batch{First: w.Committed, Bets: validBets(1, 1, 0)})
	c.expectError(protocol.CodeDrawClosed)
	c.send(protocol.Done{Total: w.Committed})
	if ack, ok := c.read().(protocol.DoneAck); !ok || ack.Total != w.Committed {
		t.Errorf("repeated done: %#v, want DoneAck %d", ack, w.Committed)
	}
	c.send(protocol.WinnersQuery{})
	if m, ok := c.read().(protocol.Winners); !ok || len(m.Documents) != 1 {
		t.Errorf("winners after the draw: %#v, want agency 1's one winner", m)
	}
	if n := len(ts.log.lines("action: sorteo", "result: success")); n != 1 {
		t.Errorf("%d sorteo lines, want 1", n)
	}
}

// TestWinnersNotBeforeDraw: a winners query is held, then answered NotYet,
// while an agency has not notified.
func TestWinnersNotBeforeDraw(t *testing.T) {
	ts := startServer(t, 2, withWinnersHold(100*time.Millisecond))
	c := dial(t, ts)
	c.hello(1)
	c.send(protocol.Batch{First: 0, Bets: validBets(1, 3, 0)})
	c.read()
	c.send(protocol.Done{Total: 3}, protocol.WinnersQuery{})
	c.read()
	start := time.Now()
	c.readWaiting(2, 1) // at once: the hold began
	if m := c.read(); m.Type() != protocol.TypeNotYet {
		t.Fatalf("winners before the draw: %#v, want NotYet", m)
	}
	if held := time.Since(start); held < 100*time.Millisecond {
		t.Errorf("NotYet after %v: the central must hold the query, not spin", held)
	}
	if ts.central.Drawn() {
		t.Fatal("draw held with one agency missing")
	}
}

// TestShutdownClosesEverything: every connection and the listener are
// closed and logged; goleak (TestMain) checks no goroutine is left.
func TestShutdownClosesEverything(t *testing.T) {
	ts := startServer(t, 2)
	waiting := dial(t, ts)
	waiting.hello(1)
	waiting.send(protocol.Done{Total: 0}, protocol.WinnersQuery{})
	waiting.read()
	waiting.readWaiting(2, 1) // the query is held
	idle := dial(t, ts)
	idle.hello(2)
	ts.Stop()
	for _, c := range []*rawConn{waiting, idle} {
		c.expectError(protocol.CodeUnavailable)
		c.expectClosed()
	}
	if n := len(ts.log.lines("action: close", "resource: connection")); n != 2 {
		t.Errorf("%d connection close lines, want 2; log:\n%s", n, ts.log)
	}
	if n := len(ts.log.lines("action: close", "resource: listener")); n != 1 {
		t.Errorf("%d listener close lines, want 1", n)
	}
	if n := len(ts.log.lines("result: fail")); n != 0 {
		t.Errorf("shutdown logged %d fail lines: %s", n, ts.log)
	}
}

// failingLedger fails every write the way a full disk does, with an error
// that names a file of the central's disk.
type failingLedger struct{}

var errDiskFull = &os.PathError{Op: "write", Path: "/srv/quiniela/bets.csv", Err: syscall.ENOSPC}

type failedWrite struct{}

func (failedWrite) Wait(context.Context) (lottery.Digest, error) {
	return lottery.Digest{}, errDiskFull
}

func (failingLedger) Holdings() map[int]lottery.Holding                 { return nil }
func (failingLedger) Recorded() (lottery.Result, bool)                  { return lottery.Result{}, false }
func (failingLedger) Append(int, uint64, []lottery.Bet) lottery.Receipt { return failedWrite{} }
func (failingLedger) Notify(int, uint64) lottery.Receipt                { return failedWrite{} }
func (failingLedger) RecordDraw(lottery.Result) lottery.Receipt         { return failedWrite{} }
func (failingLedger) LoadBets() iter.Seq2[lottery.Bet, error] {
	return func(func(lottery.Bet, error) bool) {}
}

// TestUnavailableSaysNoMore: when the storage fails, an agency is told
// its code and a short reason, never the central's file paths or OS
// errors; the connection logs no fail line of its own (the storage logs
// the cause once, where it happened); and health checks fail.
func TestUnavailableSaysNoMore(t *testing.T) {
	logged, ln := &logSink{&harness.Buffer{}}, listen(t)
	stop := serveFailing(t, logged, ln)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c := dial(t, &testServer{addr: ln.Addr().String()})
	c.hello(1)
	c.send(protocol.Batch{First: 0, Bets: validBets(1, 2, 0)})
	msg := c.read()
	perr, ok := msg.(*protocol.Error)
	if !ok || perr.Code != protocol.CodeUnavailable {
		t.Fatalf("batch over a full disk answered %#v, want Error unavailable", msg)
	}
	for _, leak := range []string{errDiskFull.Path, "no space left"} {
		if strings.Contains(perr.Message, leak) {
			t.Errorf("agency told %q: it names %q of the central's disk", perr.Message, leak)
		}
		if strings.Contains(logged.String(), leak) {
			t.Errorf("the connection's log repeats the storage's cause %q:\n%s", leak, logged)
		}
	}
	// The ledger logs its failure once, where it happened; the central
	// then stops. A refusal it causes is not a failure of its own.
	if lines := logged.lines("result: fail"); len(lines) != 0 {
		t.Errorf("%d fail lines from the connection, want none:\n%s", len(lines), logged)
	}
	// Until the central exits, a health check fails.
	h := dial(t, &testServer{addr: ln.Addr().String()})
	h.send(protocol.Health{})
	if perr, ok := h.read().(*protocol.Error); !ok || perr.Code != protocol.CodeUnavailable {
		t.Errorf("Health after the ledger failed answered %#v, want Error unavailable", perr)
	}
}

// alteringLedger stores one bet other than it was given: the last name
// of the first bet of every batch gets a trailing letter.
type alteringLedger struct{ lottery.Ledger }

func (l alteringLedger) Append(agency int, from uint64, bets []lottery.Bet) lottery.Receipt {
	altered := slices.Clone(bets)
	altered[0].LastName += "x"
	return l.Ledger.Append(agency, from, altered)
}

// TestAgencyDetectsAlteredBets: a central that stores a bet other than
// the agency sent it is caught by the agency: its digest is not the
// agency's, and the agency asks for no winners.
func TestAgencyDetectsAlteredBets(t *testing.T) {
	ts := startServer(t, 1, withLedger(func(l lottery.Ledger) lottery.Ledger { return alteringLedger{l} }))
	winners, err := runAgency(t, ts, 1, lotteryFile(t, 1))
	if !errors.Is(err, client.ErrVerification) || winners != nil {
		t.Fatalf("agency over an altering ledger: winners %v, %v; want ErrVerification", winners, err)
	}
	if n := countBets(t, ts.Store()); n == 0 {
		t.Fatal("the altering ledger stored nothing: the test proves nothing")
	}
}

// listen listens on a free port of 127.0.0.1.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveFailing serves, on ln, a central over a ledger whose every write
// fails, logging to logged; stop ends Serve and returns its error.
func serveFailing(t *testing.T, logged *logSink, ln net.Listener) (stop func() error) {
	t.Helper()
	log := logging.New(logged, logging.LevelWarning-4)
	central, err := lottery.NewCentral(t.Context(), failingLedger{}, 1, app.EventLog{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.New(server.Settings{PeerTimeout: 5 * time.Second, MaxConnections: 8}, central, log).Serve(ctx, ln)
	}()
	return func() error {
		cancel()
		return <-served
	}
}
