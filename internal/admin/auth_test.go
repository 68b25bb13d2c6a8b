package admin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "0123456789abcdef0123456789abcdef"

// TestRequireToken checks which requests RequireToken lets through: the
// probes always, everything else only with the right bearer token.
func TestRequireToken(t *testing.T) {
	h := RequireToken(New(&fakeSource{st: drawnStatus()}, prometheus.NewRegistry()), []byte(testToken))
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/healthz", "Bearer wrong", 200},
		{"/status", "", 401},
		{"/metrics", "", 401},
		{"/", "", 401},
		{"/nothing", "", 401},
		{"/status", "Bearer " + testToken, 200},
		{"/metrics", "Bearer " + testToken, 200},
		{"/", "Bearer " + testToken, 200},
		{"/status", "bearer " + testToken, 200},
		{"/status", "Bearer " + testToken[:31], 401},
		{"/status", "Bearer " + testToken + "0", 401},
		{"/status", "Basic " + testToken, 401},
		{"/status", testToken, 401},
		{"/status", "Bearer", 401},
		{"/status", "Bearer ", 401},
		{"/healthz/", "", 401},
		{"/status?x=/healthz", "", 401},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("GET %s with Authorization %q = %d, want %d", c.path, c.auth, rec.Code, c.want)
		}
		if c.want == http.StatusUnauthorized {
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("GET %s: 401 with WWW-Authenticate %q, want Bearer", c.path, got)
			}
			if strings.Contains(rec.Body.String(), testToken) || strings.Contains(rec.Body.String(), "agencies") {
				t.Errorf("GET %s: a 401 that tells something: %q", c.path, rec.Body.String())
			}
		}
	}
}

// TestReadTokenFile checks the files ReadTokenFile takes and refuses.
func TestReadTokenFile(t *testing.T) {
	for _, c := range []struct {
		name, content string
		mode          os.FileMode
		want          string // the token, or "" for a refusal
		why           string // in the refusal
	}{
		{"owner only", testToken + "\n", 0o600, testToken, ""},
		{"read only", "  " + testToken + "\r\n", 0o400, testToken, ""},
		{"group readable", testToken, 0o640, "", "chmod 600"},
		{"world readable", testToken, 0o604, "", "chmod 600"},
		{"group writable", testToken, 0o620, "", "chmod 600"},
		{"empty", "\n", 0o600, "", "at least 16"},
		{"short", "abc", 0o600, "", "at least 16"},
		{"two lines", testToken + "\n" + testToken, 0o600, "", "white space"},
		{"inner space", "0123456789abcdef 0123456789abcdef", 0o600, "", "white space"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			got, err := ReadTokenFile(path)
			if c.want != "" {
				if err != nil || string(got) != c.want {
					t.Fatalf("ReadTokenFile = %q, %v; want %q", got, err, c.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrTokenFile) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("ReadTokenFile = %q, %v; want an ErrTokenFile saying %q", got, err, c.why)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("the refusal tells the token: %v", err)
			}
		})
	}
	if _, err := ReadTokenFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want ErrNotExist", err)
	}
}
