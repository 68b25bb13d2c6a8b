package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// MinTokenBytes is the shortest admin token RequireToken takes: 16 bytes
// (32 hexadecimal digits, as `openssl rand -hex 16` writes) leave nothing
// to guess in the time an attacker has.
const MinTokenBytes = 16

// ErrTokenFile is what ReadTokenFile's errors wrap.
var ErrTokenFile = errors.New("admin token file")

// ReadTokenFile reads the admin endpoint's bearer token from path: its
// content less surrounding white space. It refuses a file that its group
// or others may read or write (the token would be everyone's on the host),
// an empty or short token, and one with white space or control
// characters inside, which no Authorization header carries.
func ReadTokenFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w %s: mode %04o lets its group or others read it: chmod 600 %s (or 400)", ErrTokenFile, path, perm, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenFile, err)
	}
	token := bytes.TrimSpace(raw)
	if len(token) < MinTokenBytes {
		return nil, fmt.Errorf("%w %s: a token of %d bytes, want at least %d (openssl rand -hex 16)", ErrTokenFile, path, len(token), MinTokenBytes)
	}
	for _, c := range token {
		if c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("%w %s: the token has white space or a control character inside; want one line", ErrTokenFile, path)
		}
	}
	return token, nil
}

// openPaths are served without the token: orchestrators' probes, which
// say only that the central lives and serves, and cannot carry a secret.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true}

// RequireToken returns h that answers every request but /healthz and
// /readyz with 401 unless it carries "Authorization: Bearer TOKEN". The
// token is compared in constant time, through its SHA-256 so that the
// time does not tell its length either.
func RequireToken(h http.Handler, token []byte) http.Handler {
	want := sha256.Sum256(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] || authorized(r.Header.Get("Authorization"), want) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="quiniela-admin"`)
		line(w, http.StatusUnauthorized, "unauthorized: send Authorization: Bearer and the token of SERVER_ADMIN_TOKEN_FILE")
	})
}

// authorized reports whether header is "Bearer " and a token whose
// SHA-256 is want.
func authorized(header string, want [sha256.Size]byte) bool {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
