package config

import (
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// validStorageURL reports whether s is empty (the file store) or a
// PostgreSQL URL that pgx can parse.
func validStorageURL(s string) bool {
	if s == "" {
		return true
	}
	if !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
		return false
	}
	_, err := pgconn.ParseConfig(s)
	return err == nil
}

// The password of a URL's user information, and of a password= parameter.
var (
	userPassword  = regexp.MustCompile(`(://[^:/@]*:)[^@/]*@`)
	paramPassword = regexp.MustCompile(`(password=)[^&]*`)
)

// StorageURLRedacted is STORAGE_URL with its password, if any, replaced:
// how logs and errors show it.
func (c Server) StorageURLRedacted() string {
	s := userPassword.ReplaceAllString(c.StorageURL, "${1}xxxxx@")
	return paramPassword.ReplaceAllString(s, "${1}xxxxx")
}
