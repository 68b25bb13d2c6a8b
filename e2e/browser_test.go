package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loteria-nacional/quiniela/internal/harness"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// chromium returns the path of a Chromium to drive, skipping the test
// where there is none (.ci/run installs Debian's chromium where it can).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium here (apt-get install chromium): the admin page's browser test needs one")
	return ""
}

// browser starts headless Chromium for the test and returns a context
// to drive it with.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1100, 700))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Skipf("Chromium %s does not start here: %v", path, err)
	}
	return ctx
}

// seen returns the visible text of the element sel on the page as it is
// now. The page reloads itself every 2 s, and a query that meets a reload
// finds its document gone: it is asked again, for at most a few seconds.
func seen(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		text, err := chromedp.Run(tctx, chromedp.Text(sel))
		cancel()
		if err == nil {
			return strings.TrimSpace(text)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page's %s: %v", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seenHTML is the page's whole HTML, asked again across a reload as seen
// does.
func seenHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		html, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		if err == nil {
			return html
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page's HTML: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves the page as name in the test's artifacts (go test
// -artifacts keeps them).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// refuseAgency has agency refused by the central at addr: it says Hello,
// sends a batch with an invalid bet, reads the refusal and hangs up, as
// an agency with a broken file would.
func refuseAgency(t *testing.T, addr string, agency int) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	bad := lottery.Bet{Agency: agency, FirstName: "Ana", LastName: "Paz", Document: "30123456", Birthdate: "1990-02-30", Number: 12}
	r := protocol.NewReader(nc)
	for _, m := range []protocol.Message{protocol.Hello{Agency: uint32(agency), Version: protocol.Version}, protocol.Batch{Bets: []lottery.Bet{bad}}} {
		frame, err := protocol.AppendFrame(nil, m)
		if err == nil {
			_, err = nc.Write(frame)
		}
		if err == nil {
			_, _, err = r.ReadFrame() // the Welcome, then the refusal
		}
		if err != nil {
			t.Fatalf("agency %d's refused session: %v", agency, err)
		}
	}
}

// TestAdminPageInBrowser opens the central's admin page in headless
// Chromium during a real run with a deadline, in Buenos Aires time, and
// checks what an operator sees: every agency's row, the deadline and its
// countdown, the bets filling in as agencies upload, an agency refused
// (with its reason) and one absent while the draw waits, then, without
// reloading (the page refreshes itself), the draw held with its digest,
// the one of the sorteo line; and never a winner's document.
func TestAdminPageInBrowser(t *testing.T) {
	ctx := browser(t, chromium(t))
	data := genData(t, 4, "2000", "1,2,0,1", 50)
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "4", "SERVER_ADMIN_ADDRESS": "127.0.0.1:0",
		"DRAW_DEADLINE": "1h", "LOGGING_TIMEZONE": "America/Argentina/Buenos_Aires"})
	admin := harness.Filter(srv.Lines(), "admin", "in_progress")
	if len(admin) != 1 {
		t.Fatalf("no admin address in the central's log:\n%s", srv.Log())
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+admin[0].Fields["address"]+"/")); err != nil {
		t.Fatal(err)
	}
	if state, bets := seen(t, ctx, "#draw-state"), seen(t, ctx, "#bets"); state != "abierto" || bets != "0" {
		t.Errorf("before any agency the page shows draw %q and %q bets, want abierto and 0", state, bets)
	}
	if zone := seen(t, ctx, "#zone"); zone != "America/Argentina/Buenos_Aires (-03:00)" {
		t.Errorf("the page's zone is %q, want LOGGING_TIMEZONE's with its offset", zone)
	}
	// The deadline is an hour from the start, in the operators' zone, as
	// the central's cierre_apuestas line says it.
	cierre := harness.Filter(srv.Lines(), "cierre_apuestas", "in_progress")
	deadline, err := time.Parse(time.RFC3339, cierre[0].Fields["draw_deadline"])
	if err != nil {
		t.Fatalf("cierre_apuestas line %v: %v", cierre, err)
	}
	buenosAires := time.FixedZone("-03", -3*3600)
	if got, want := seen(t, ctx, "#deadline"), deadline.In(buenosAires).Format("2006-01-02 15:04:05 -07:00"); got != want {
		t.Errorf("the page's deadline is %q, want %q", got, want)
	}
	if left := seen(t, ctx, "#countdown"); !strings.HasPrefix(left, "0:5") && left != "1:00:00" {
		t.Errorf("the countdown shows %q, want about 1:00:00", left)
	}
	table := seen(t, ctx, "#agencies")
	for a := 1; a <= 4; a++ {
		if !strings.Contains(table, "\n"+strconv.Itoa(a)+"\t") {
			t.Errorf("no row for agency %d in the table:\n%s", a, table)
		}
	}

	// Agencies 1 and 2 upload and wait; agency 3 is refused (a bet with
	// a date that does not exist); agency 4 is not seen: the draw waits.
	clients := []*harness.Process{
		startClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)})),
		startClient(t, "client-2", clientEnv(2, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 2)})),
	}
	refuseAgency(t, srv.Addr, 3)
	eventually(t, clientTimeout, "the page to show 4000 bets", func() bool { return seen(t, ctx, "#bets") == "4000" })
	eventually(t, clientTimeout, "the page to show agency 3 refused", func() bool {
		return strings.Contains(seen(t, ctx, "#agency-3"), "rechazada")
	})
	if row := seen(t, ctx, "#agency-3"); !strings.Contains(row, "invalid_bet: ") || !strings.Contains(row, "birthdate") {
		t.Errorf("agency 3's row %q does not show its refusal's reason", row)
	}
	for _, a := range []string{"#agency-1", "#agency-2"} { // their declared totals, all stored
		if row := seen(t, ctx, a); !strings.Contains(row, "\t2000\t2000\t100.0\u00a0%\t") {
			t.Errorf("%s shows no declared total and percentage: %q", a, row)
		}
	}
	if row := seen(t, ctx, "#agency-4"); !strings.Contains(row, "ausente") || !strings.Contains(row, "nunca") {
		t.Errorf("agency 4's row %q, want ausente and never seen", row)
	}
	if refusals := seen(t, ctx, "#refusals"); refusals != "1" {
		t.Errorf("the page counts %q refusals, want 1", refusals)
	}
	if state := seen(t, ctx, "#draw-state"); state != "abierto" {
		t.Errorf("with agencies 3 and 4 missing the page shows draw %q, want abierto", state)
	}
	screenshot(t, ctx, "admin-during-run.png")
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(repoRoot, "docs", "admin-page.png"), png, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	clients = append(clients,
		startClient(t, "client-3", clientEnv(3, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 3)})),
		startClient(t, "client-4", clientEnv(4, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 4)})))
	assertAgenciesWon(t, clients, []int{1, 2, 0, 1})
	eventually(t, clientTimeout, "the page to show the draw held", func() bool { return seen(t, ctx, "#draw-state") == "realizado" })
	sorteo := harness.Filter(srv.Lines(), "sorteo", "success")
	if len(sorteo) != 1 || seen(t, ctx, "#digest") != sorteo[0].Fields["digest"] {
		t.Errorf("the page's digest %q is not the sorteo line's %v", seen(t, ctx, "#digest"), sorteo)
	}
	if row := seen(t, ctx, "#agency-3"); !strings.Contains(row, "completa") {
		t.Errorf("agency 3's row after the draw is %q, want completa", row)
	}
	screenshot(t, ctx, "admin-after-draw.png")
	page := seenHTML(t, ctx)
	for a := 1; a <= 4; a++ {
		for _, b := range readAgencyBets(t, agencyFile(data, a), a) {
			if b.Number == winnerNumber && strings.Contains(page, b.Document) {
				t.Errorf("the admin page shows winner document %s", b.Document)
			}
		}
	}
}
