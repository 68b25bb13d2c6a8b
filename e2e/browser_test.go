package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loteria-nacional/quiniela/internal/harness"
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

// TestAdminPageInBrowser opens the central's admin page in headless
// Chromium during a real run and checks what an operator sees: every
// agency's row, the bets filling in as agencies upload, the draw open
// while one agency is missing, then, without reloading (the page
// refreshes itself), the draw held with its digest, the one of the
// sorteo line; and never a winner's document.
func TestAdminPageInBrowser(t *testing.T) {
	ctx := browser(t, chromium(t))
	data := genData(t, 3, "2000", "1,2,0", 50)
	srv := startServer(t, map[string]string{"AGENCIES_AMOUNT": "3", "SERVER_ADMIN_ADDRESS": "127.0.0.1:0"})
	admin := harness.Filter(srv.Lines(), "admin", "in_progress")
	if len(admin) != 1 {
		t.Fatalf("no admin address in the central's log:\n%s", srv.Log())
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+admin[0].Fields["address"]+"/")); err != nil {
		t.Fatal(err)
	}
	if state, bets := seen(t, ctx, "#draw-state"), seen(t, ctx, "#bets"); state != "open" || bets != "0" {
		t.Errorf("before any agency the page shows draw %q and %q bets, want open and 0", state, bets)
	}
	table := seen(t, ctx, "#agencies")
	for a := 1; a <= 3; a++ {
		if !strings.Contains(table, "\n"+strconv.Itoa(a)+"\t") {
			t.Errorf("no row for agency %d in the table:\n%s", a, table)
		}
	}

	// Agencies 1 and 2 upload and wait; the draw waits for agency 3.
	clients := []*harness.Process{
		startClient(t, "client-1", clientEnv(1, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 1)})),
		startClient(t, "client-2", clientEnv(2, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 2)})),
	}
	eventually(t, clientTimeout, "the page to show 4000 bets", func() bool { return seen(t, ctx, "#bets") == "4000" })
	if state := seen(t, ctx, "#draw-state"); state != "open" {
		t.Errorf("with agency 3 missing the page shows draw %q, want open", state)
	}
	screenshot(t, ctx, "admin-during-run.png")

	clients = append(clients, startClient(t, "client-3", clientEnv(3, srv.Addr, map[string]string{"CLI_DATA_FILE": agencyFile(data, 3)})))
	assertAgenciesWon(t, clients, []int{1, 2, 0})
	eventually(t, clientTimeout, "the page to show the draw held", func() bool { return seen(t, ctx, "#draw-state") == "drawn" })
	sorteo := harness.Filter(srv.Lines(), "sorteo", "success")
	if len(sorteo) != 1 || seen(t, ctx, "#digest") != sorteo[0].Fields["digest"] {
		t.Errorf("the page's digest %q is not the sorteo line's %v", seen(t, ctx, "#digest"), sorteo)
	}
	screenshot(t, ctx, "admin-after-draw.png")
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(repoRoot, "docs", "admin-page.png"), png, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	page := seenHTML(t, ctx)
	for a := 1; a <= 3; a++ {
		for _, b := range readAgencyBets(t, agencyFile(data, a), a) {
			if b.Number == winnerNumber && strings.Contains(page, b.Document) {
				t.Errorf("the admin page shows winner document %s", b.Document)
			}
		}
	}
}
