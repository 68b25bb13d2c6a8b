package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Paths of the image that scripts/postgres-image.sh builds.
const (
	pgBin         = "/usr/lib/postgresql/15/bin"
	socketDir     = "/var/run/postgresql"
	defaultPGDATA = "/var/lib/postgresql/data"
	confFile      = "entrypoint.conf" // in PGDATA, rewritten at every start
)

// config is what the environment asks of this server.
type config struct {
	dataDir      string   // PGDATA
	user         string   // POSTGRES_USER: the superuser, also used for replication
	password     string   // POSTGRES_PASSWORD
	database     string   // POSTGRES_DB: created on a new primary
	syncStandbys []string // PG_SYNC_STANDBY: application names of synchronous standbys
	primaryHost  string   // PG_PRIMARY_HOST: set on a standby
	primaryPort  string   // PG_PRIMARY_PORT
	standbyName  string   // PG_STANDBY_NAME: this standby's application_name
}

// standbyNameRE is what a standby's name may be: it is written into
// synchronous_standby_names and a connection string, and compared without
// regard to case, so plain names keep the two sides from disagreeing.
var standbyNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,63}$`)

// configFromEnv reads the configuration from getenv (os.Getenv) and
// checks it, so that a mistake stops the container before initdb runs.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		dataDir:     or(getenv("PGDATA"), defaultPGDATA),
		user:        or(getenv("POSTGRES_USER"), "postgres"),
		password:    getenv("POSTGRES_PASSWORD"),
		database:    getenv("POSTGRES_DB"),
		primaryHost: getenv("PG_PRIMARY_HOST"),
		primaryPort: or(getenv("PG_PRIMARY_PORT"), "5432"),
		standbyName: getenv("PG_STANDBY_NAME"),
	}
	for _, n := range strings.Split(getenv("PG_SYNC_STANDBY"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.syncStandbys = append(c.syncStandbys, n)
		}
	}
	var errs []error
	if c.password == "" {
		errs = append(errs, errors.New("POSTGRES_PASSWORD is empty: host and replication connections need a password"))
	}
	for _, n := range c.syncStandbys {
		if !standbyNameRE.MatchString(n) {
			errs = append(errs, fmt.Errorf("PG_SYNC_STANDBY: %q is not a name of letters, digits and _", n))
		}
	}
	if c.standby() && !standbyNameRE.MatchString(c.standbyName) {
		errs = append(errs, fmt.Errorf("PG_STANDBY_NAME: %q is not a name of letters, digits and _ (a standby needs one)", c.standbyName))
	}
	return c, errors.Join(errs...)
}

// standby reports whether this server follows a primary.
func (c config) standby() bool { return c.primaryHost != "" }

// role names the server's role in log lines.
func (c config) role() string {
	if c.standby() {
		return "standby"
	}
	return "primary"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// syncStandbyNames is the value of synchronous_standby_names: the first
// connected standby of the list is synchronous, and a commit waits for its
// flush. Empty when no standby is named: commits do not wait.
func syncStandbyNames(names []string) string {
	if len(names) == 0 {
		return ""
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quoteIdent(n)
	}
	return fmt.Sprintf("FIRST 1 (%s)", strings.Join(quoted, ", "))
}

// setting is one line of a postgresql.conf file.
type setting struct{ name, value string }

// settings are what the entrypoint sets in PGDATA/entrypoint.conf, which
// postgresql.conf includes: a primary that standbys can stream from, and a
// standby that could become one. The same settings serve both roles; a
// standby ignores synchronous_standby_names until it is promoted.
func settings(c config) []setting {
	return []setting{
		{"listen_addresses", "*"},
		{"unix_socket_directories", socketDir},
		{"wal_level", "replica"},
		{"max_wal_senders", "10"},
		{"wal_keep_size", "512MB"}, // a standby that lags a little catches up without a slot
		{"hot_standby", "on"},
		{"synchronous_standby_names", syncStandbyNames(c.syncStandbys)},
		{"password_encryption", "scram-sha-256"},
		{"jit", "off"}, // the image leaves out llvmjit.so and LLVM
	}
}

// confLines renders settings as postgresql.conf lines.
func confLines(s []setting) []string {
	lines := make([]string, len(s))
	for i, kv := range s {
		lines[i] = kv.name + " = " + quoteConf(kv.value)
	}
	return lines
}

// hbaLines is the whole pg_hba.conf: local socket connections (only
// `docker exec` reaches them) are trusted; every connection over the
// network, replication included, proves the password with SCRAM.
func hbaLines() []string {
	return []string{
		"# TYPE  DATABASE     USER  ADDRESS  METHOD   (written by pgentrypoint)",
		"local   all          all            trust",
		"local   replication  all            trust",
		"host    all          all   all      scram-sha-256",
		"host    replication  all   all      scram-sha-256",
	}
}

// initdbArgs are the arguments of initdb for a new primary: C locale,
// UTF-8, data checksums, and the superuser's password read from pwfile.
func initdbArgs(c config, pwfile string) []string {
	return []string{
		"-D", c.dataDir, "-U", c.user, "--pwfile=" + pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--locale=C", "--encoding=UTF8", "--data-checksums",
	}
}

// conninfo is the connection string of a standby to its primary. Its
// application_name is how the primary's synchronous_standby_names knows
// the standby; pg_basebackup -R writes it, with the password libpq took
// from PGPASSWORD, into primary_conninfo.
func conninfo(c config) string {
	kv := []setting{
		{"host", c.primaryHost}, {"port", c.primaryPort}, {"user", c.user},
		{"application_name", c.standbyName},
	}
	parts := make([]string, len(kv))
	for i, p := range kv {
		parts[i] = p.name + "=" + quoteConninfo(p.value)
	}
	return strings.Join(parts, " ")
}

// basebackupArgs are the arguments of pg_basebackup that copy the primary
// into an empty PGDATA and make it a standby of it (-R: standby.signal
// and primary_conninfo), streaming the WAL written meanwhile.
func basebackupArgs(c config) []string {
	return []string{
		"-D", c.dataDir, "-d", conninfo(c), "-R", "-X", "stream",
		"-c", "fast", "--no-password",
	}
}

// isreadyArgs are the arguments of pg_isready that ask whether the
// primary accepts connections.
func isreadyArgs(c config) []string {
	return []string{"-q", "-t", "2", "-h", c.primaryHost, "-p", c.primaryPort, "-U", c.user, "-d", "postgres"}
}

// quoteConf quotes a postgresql.conf value.
func quoteConf(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteConninfo quotes a value of a libpq connection string.
func quoteConninfo(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
}
