package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/ini.v1"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/netguard"
)

// Server is the central's configuration.
type Server struct {
	Port          int        // SERVER_PORT
	IP            string     // SERVER_IP; empty listens on every address
	ListenBacklog int        // SERVER_LISTEN_BACKLOG
	LogLevel      slog.Level // LOGGING_LEVEL
	// LOGGING_TIMEZONE: the zone of the log lines' timestamps and of
	// every time the admin endpoint shows; by default the machine's
	// ("": time.Local). See Zone and ZoneName.
	LogZone     string
	Agencies    int    // AGENCIES_AMOUNT: agencies the draw waits for
	StoragePath string // STORAGE_FILEPATH
	// STORAGE_URL: where set (postgres://…), the bets are kept in that
	// PostgreSQL database instead of STORAGE_FILEPATH. See StorageURLRedacted.
	StorageURL     string
	ReadTimeout    time.Duration // SERVER_READ_TIMEOUT: an idle peer is closed after it
	HelloTimeout   time.Duration // SERVER_HELLO_TIMEOUT: a peer that has not said Hello by then is closed
	MaxConnections int           // SERVER_MAX_CONNECTIONS
	// SERVER_REFUSAL_RATE and SERVER_REFUSAL_BURST: each source (an IP
	// address; an IPv6 /64) may be refused RefusalBurst times at once,
	// then RefusalRate times a second, before its connections are closed
	// at accept (see netguard.Budget). Only failed handshakes and peers
	// refused before Hello spend; a rate of 0 turns the budget off.
	RefusalRate  int
	RefusalBurst int
	// SERVER_SHUTDOWN_GRACE: how long, after SIGTERM, the requests in
	// flight have to be answered before the central gives them up and
	// exits non-zero (see server.Settings.ShutdownGrace). Its default
	// stays well under Docker's 10 s between SIGTERM and SIGKILL, so that
	// the central, not the kill, ends a shutdown that hangs, saying so.
	ShutdownGrace time.Duration
	PprofAddress  string // SERVER_PPROF_ADDRESS: serve net/http/pprof there; empty, off
	AdminAddress  string // SERVER_ADMIN_ADDRESS: serve the admin endpoint (health, metrics, status) there (no host: loopback, see AdminListenAddress); empty, off
	// SERVER_ADMIN_TOKEN_FILE: where set, every admin request but the
	// probes (/healthz, /readyz) must carry this file's bearer token (see
	// admin.RequireToken); read at start, refused if its group or others
	// may read it. Empty, the endpoint is open to whoever reaches it.
	AdminTokenFile string
	// SERVER_ADMIN_IDLE_TIMEOUT: a keep-alive admin connection that sends
	// no next request by then is closed (admin.Limits.IdleTimeout), so
	// that idle peers give their slot of the endpoint's 64 back.
	AdminIdleTimeout time.Duration
	// DRAW_DEADLINE: when sales close and the draw is held with the bets
	// stored by then, notified or not (lottery.Central.CloseSales): a duration
	// of at least a second from the central's start ("2h30m"), an RFC 3339
	// time, or "now" (DeadlineNow). Empty, off: the draw waits for every
	// agency. See Deadline and CheckDeadline.
	DrawDeadline string
	// SERVER_REPLICA names this central among the replicas over one
	// database: the admin endpoint shows it, and the database records it
	// beside the draw the replica held. By default the host's name, which
	// in compose is the container's. See validReplica.
	Replica string

	// Mutual TLS: all three or none. With none, agencies speak
	// plaintext and are not authenticated.
	TLSCert     string // SERVER_TLS_CERT: the central's certificate (PEM)
	TLSKey      string // SERVER_TLS_KEY: its private key
	TLSClientCA string // SERVER_TLS_CLIENT_CA: the lottery CA that signs agencies' certificates
	TLSRevoked  string // SERVER_TLS_REVOKED: the revocation list, an X.509 CRL of the lottery CA or a text list of serials (see mtls.ParseRevoked), read at start, on SIGHUP and when it changes; optional
	// The probe's own certificate, with which server healthcheck asks
	// Health of a central that requires TLS: both or none.
	TLSProbeCert string // SERVER_TLS_PROBE_CERT
	TLSProbeKey  string // SERVER_TLS_PROBE_KEY
}

// TLS reports whether the central requires mutual TLS.
func (c Server) TLS() bool { return c.TLSCert != "" }

// DefaultServer returns the central's defaults.
func DefaultServer() Server {
	return Server{
		Port:           12345,
		IP:             "",
		ListenBacklog:  128,
		LogLevel:       slog.LevelInfo,
		Agencies:       5,
		StoragePath:    "./bets.csv",
		ReadTimeout:    30 * time.Second,
		HelloTimeout:   5 * time.Second,
		MaxConnections: 4096,
		RefusalRate:    netguard.DefaultRefusalRate,
		RefusalBurst:   netguard.DefaultRefusalBurst,
		ShutdownGrace:  5 * time.Second,
		Replica:        hostname(),
		// admin.DefaultLimits' IdleTimeout, which config does not import:
		// app.TestAdminDefaultsAgree holds them equal.
		AdminIdleTimeout: 30 * time.Second,
	}
}

// hostname is the host's name, the default SERVER_REPLICA; "central"
// where the system does not give one that SERVER_REPLICA takes.
func hostname() string {
	name, err := os.Hostname()
	if err != nil || !validReplica(name) {
		return "central"
	}
	return name
}

// maxReplicaLen bounds SERVER_REPLICA, so that a log line, a label or a
// row holding it stays short.
const maxReplicaLen = 64

// validReplica reports whether s can name a replica: not empty, at most
// maxReplicaLen bytes of printable characters, and no space or '|' (which
// separates the fields of a log line).
func validReplica(s string) bool {
	if s == "" || len(s) > maxReplicaLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '|' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// iniKey is a key of config.ini, whose name is also its environment
// variable, with its default as -h shows it and what it means.
func iniKey(name string, s setter, def, meaning string) key {
	return key{file: name, env: name, set: s, def: def, meaning: meaning}
}

// keys is the one table of the central's keys: the loader applies it,
// CheckEnviron knows its variables, and -h lists it (Settings), so that
// the help cannot drift from what is read. A def that parses through its
// setter to DefaultServer's value is checked to (TestSettingsDefaults);
// one in parentheses describes a default computed at start.
func (c *Server) keys() []key {
	return []key{
		iniKey("SERVER_PORT", intSetter(&c.Port), "12345", "the TCP port agencies connect to; 0 picks a free port"),
		iniKey("SERVER_IP", stringSetter(&c.IP), "", "the address to listen on: an IP or a host name; empty, 0.0.0.0 or :: is every address (server healthcheck then dials 127.0.0.1)"),
		iniKey("SERVER_LISTEN_BACKLOG", intSetter(&c.ListenBacklog), "128", "accepted for compatibility; Go listens with the kernel's somaxconn"),
		iniKey("LOGGING_LEVEL", levelSetter(&c.LogLevel), "INFO", "DEBUG, INFO, WARNING or ERROR"),
		iniKey("LOGGING_TIMEZONE", zoneSetter(&c.LogZone), "(the machine's zone)", "the zone of the log lines' times and of the admin page: an IANA name (America/Argentina/Buenos_Aires), UTC, or Local"),
		iniKey("AGENCIES_AMOUNT", intSetter(&c.Agencies), "5", "agencies the draw waits for, 1..65535"),
		iniKey("STORAGE_FILEPATH", stringSetter(&c.StoragePath), "./bets.csv", "the bets file (its journal is PATH.jnl); relative to the working directory"),
		iniKey("STORAGE_URL", stringSetter(&c.StorageURL), "", "postgres://user:password@host:port/database: keep the bets in PostgreSQL instead of the file; empty, the file"),
		iniKey("SERVER_READ_TIMEOUT", durationSetter(&c.ReadTimeout), "30s", "a peer silent that long after Hello, or a frame not whole that long, is closed"),
		iniKey("SERVER_HELLO_TIMEOUT", durationSetter(&c.HelloTimeout), "5s", "a connection that has not said Hello that long after it was accepted is closed"),
		iniKey("SERVER_MAX_CONNECTIONS", intSetter(&c.MaxConnections), "4096", "connections served at once; more are answered busy"),
		iniKey("SERVER_REFUSAL_RATE", intSetter(&c.RefusalRate), "10", "refusals a second one source (an IPv4 address, an IPv6 /64) may earn back; past its burst, its connections are closed before any handshake or log line; 0, off"),
		iniKey("SERVER_REFUSAL_BURST", intSetter(&c.RefusalBurst), "100", "refusals one source may have at once before its budget applies"),
		iniKey("SERVER_SHUTDOWN_GRACE", durationSetter(&c.ShutdownGrace), "5s", "after SIGTERM, how long the requests in flight have to be answered (at most 5m) before the central gives them up and exits 1"),
		iniKey("SERVER_PPROF_ADDRESS", stringSetter(&c.PprofAddress), "", "serve net/http/pprof at this host:port, for profiling; empty, off"),
		iniKey("SERVER_ADMIN_ADDRESS", stringSetter(&c.AdminAddress), "", "host:port of the admin endpoint (health, metrics, status page); no host (:9090) is loopback; empty, off"),
		iniKey("SERVER_ADMIN_TOKEN_FILE", stringSetter(&c.AdminTokenFile), "", "a file (mode 600) holding the admin endpoint's bearer token: /status, /metrics and the page then want Authorization: Bearer TOKEN; /healthz and /readyz stay open; empty, no token"),
		iniKey("SERVER_ADMIN_IDLE_TIMEOUT", durationSetter(&c.AdminIdleTimeout), "30s", "an admin keep-alive connection idle that long is closed"),
		iniKey("DRAW_DEADLINE", stringSetter(&c.DrawDeadline), "", "when sales close: a duration from the start (2h30m), an RFC 3339 time, or now; empty, the draw waits for every agency"),
		iniKey("SERVER_REPLICA", stringSetter(&c.Replica), "(the host name)", "this central's name among replicas over one database, shown on /status"),
		iniKey("SERVER_TLS_CERT", stringSetter(&c.TLSCert), "", "the central's certificate (PEM) for mutual TLS, with SERVER_TLS_KEY and SERVER_TLS_CLIENT_CA; empty, plaintext"),
		iniKey("SERVER_TLS_KEY", stringSetter(&c.TLSKey), "", "the central's private key (PEM)"),
		iniKey("SERVER_TLS_CLIENT_CA", stringSetter(&c.TLSClientCA), "", "the lottery CA whose agency certificates the central accepts"),
		iniKey("SERVER_TLS_REVOKED", stringSetter(&c.TLSRevoked), "", "the revoked agency certificates: an X.509 CRL signed by the lottery CA (PEM or DER; server certs revoke writes one) or a text list of serials; read again on SIGHUP and when it changes; empty, none"),
		iniKey("SERVER_TLS_PROBE_CERT", stringSetter(&c.TLSProbeCert), "", "the probe's certificate, with which server healthcheck asks a TLS central"),
		iniKey("SERVER_TLS_PROBE_KEY", stringSetter(&c.TLSProbeKey), "", "the probe's private key"),
	}
}

// LoadServer reads the central's configuration: defaults, then the
// [DEFAULT] section of the ini file at path (a missing file is fine), then
// env, then Validate.
func LoadServer(path string, env LookupEnv) (Server, error) {
	c := DefaultServer()
	if _, err := load(path, openINI, c.keys(), nil, env); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// openINI reads the ini file at path; its keys are those of its [DEFAULT]
// section.
func openINI(path string) (fileValue, []setting, error) {
	f, err := ini.Load(path)
	if err != nil {
		return nil, nil, err
	}
	section := f.Section(ini.DefaultSection)
	var set []setting
	for _, k := range section.Keys() {
		set = append(set, setting{k.Name(), k.String()})
	}
	return func(name string) (*string, error) {
		if !section.HasKey(name) {
			return nil, nil
		}
		val := section.Key(name).String()
		return &val, nil
	}, set, nil
}

// Validate checks every value, naming the first key that is wrong.
func (c Server) Validate() error {
	return firstError(
		check("SERVER_PORT", c.Port >= 0 && c.Port <= 65535, "want 0..65535 (0 picks a free port)", c.Port),
		check("SERVER_IP", c.IP == "" || net.ParseIP(c.IP) != nil || isHostname(c.IP), "want an IP address, a host name or nothing", c.IP),
		check("SERVER_LISTEN_BACKLOG", c.ListenBacklog >= 1, "want at least 1", c.ListenBacklog),
		// 0 would be a lottery whose draw is held at its start, with no
		// bet: never what an operator means, so it is refused.
		check("AGENCIES_AMOUNT", c.Agencies >= 1 && c.Agencies <= lottery.MaxAgencies, "want 1..%d", c.Agencies, lottery.MaxAgencies),
		check("STORAGE_FILEPATH", c.StoragePath != "", "want a file path", c.StoragePath),
		check("STORAGE_URL", validStorageURL(c.StorageURL), "want postgres://user:password@host:port/database (several host:port, comma-separated, with target_session_attrs=read-write) or nothing (the file)", c.StorageURLRedacted()),
		check("SERVER_READ_TIMEOUT", c.ReadTimeout > 0, "want a positive duration", c.ReadTimeout),
		check("SERVER_HELLO_TIMEOUT", c.HelloTimeout > 0, "want a positive duration", c.HelloTimeout),
		check("SERVER_MAX_CONNECTIONS", c.MaxConnections >= 1, "want at least 1", c.MaxConnections),
		check("SERVER_REFUSAL_RATE", c.RefusalRate >= 0 && c.RefusalRate <= maxRefusalBudget,
			"want refusals a second per source, 0..%d (0: no budget)", c.RefusalRate, maxRefusalBudget),
		check("SERVER_REFUSAL_BURST", c.RefusalBurst >= 1 && c.RefusalBurst <= maxRefusalBudget,
			"want refusals at once per source, 1..%d", c.RefusalBurst, maxRefusalBudget),
		check("SERVER_SHUTDOWN_GRACE", c.ShutdownGrace > 0 && c.ShutdownGrace <= maxShutdownGrace,
			"want a positive duration of at most %v", c.ShutdownGrace, maxShutdownGrace),
		check("SERVER_ADMIN_ADDRESS", validHostPort(c.AdminAddress), "want host:port (127.0.0.1:9090; :9090 is loopback too, 0.0.0.0:9090 every address; port 0 picks a free one) or nothing (off)", c.AdminAddress),
		check("SERVER_ADMIN_TOKEN_FILE", c.AdminTokenFile == "" || c.AdminAddress != "", "want it only with SERVER_ADMIN_ADDRESS", c.AdminTokenFile),
		check("SERVER_ADMIN_IDLE_TIMEOUT", c.AdminIdleTimeout > 0, "want a positive duration", c.AdminIdleTimeout),
		check("DRAW_DEADLINE", validDeadline(c.DrawDeadline),
			"want a duration of at least %v from the central's start (2h30m), an RFC 3339 time (2026-05-01T21:00:00-03:00), %s (draw at start with the bets stored) or nothing (off)",
			c.DrawDeadline, minDeadline, DeadlineNow),
		check("SERVER_REPLICA", validReplica(c.Replica), "want a name of 1..%d printable characters, no spaces and no '|' (default: the host name)", c.Replica, maxReplicaLen),
		check("SERVER_TLS_CERT", (c.TLSCert == "") == (c.TLSKey == "") && (c.TLSCert == "") == (c.TLSClientCA == ""),
			"want SERVER_TLS_CERT, SERVER_TLS_KEY and SERVER_TLS_CLIENT_CA all set (mutual TLS) or none (plaintext)", c.TLSCert),
		check("SERVER_TLS_REVOKED", c.TLSRevoked == "" || c.TLS(), "want it only with SERVER_TLS_CERT", c.TLSRevoked),
		check("SERVER_TLS_PROBE_CERT", (c.TLSProbeCert == "") == (c.TLSProbeKey == "") && (c.TLSProbeCert == "" || c.TLS()),
			"want SERVER_TLS_PROBE_CERT and SERVER_TLS_PROBE_KEY both set, with SERVER_TLS_CERT, or neither", c.TLSProbeCert),
	)
}

// Deadline returns when sales close for a central started at start, and
// whether DRAW_DEADLINE is set at all. A duration counts from start, so
// each start of the central counts it again; a draw held at a deadline is
// recorded, and a central started again answers from the record.
func (c Server) Deadline(start time.Time) (time.Time, bool) {
	switch c.DrawDeadline {
	case "":
		return time.Time{}, false
	case DeadlineNow:
		return start, true
	}
	if d, err := time.ParseDuration(c.DrawDeadline); err == nil {
		return start.Add(d), true
	}
	t, err := time.Parse(time.RFC3339, c.DrawDeadline)
	if err != nil {
		panic("config: Deadline of an invalid DRAW_DEADLINE; Validate refuses it") // Validate ran
	}
	return t, true
}

// maxRefusalBudget bounds SERVER_REFUSAL_RATE and SERVER_REFUSAL_BURST:
// beyond a million a second a budget is none, and 0 says that plainly.
const maxRefusalBudget = 1_000_000

// maxShutdownGrace bounds SERVER_SHUTDOWN_GRACE: a shutdown is for a
// supervisor that waits for it, and one that waits longer than a few
// minutes for a central that cannot write is waiting for nothing.
const maxShutdownGrace = 5 * time.Minute

// DeadlineNow is the DRAW_DEADLINE that closes sales at the central's
// start: the one way to hold the draw at once with the bets stored, since
// CheckDeadline refuses a time already past.
const DeadlineNow = "now"

// minDeadline is the shortest DRAW_DEADLINE duration: a shorter one
// ("1ns", "5ms") is taken for a slip, as it would close sales before any
// agency could connect; DeadlineNow says so on purpose.
const minDeadline = time.Second

// CheckDeadline refuses a DRAW_DEADLINE time that is already past at
// start when no draw is recorded (drawn false): it would close sales at
// once, most likely a slip of the date, so the operator must say
// DeadlineNow instead. Once a draw is recorded it is final, and a past
// deadline changes nothing.
func (c Server) CheckDeadline(start time.Time, drawn bool) error {
	at, ok := c.Deadline(start)
	if !ok || drawn || c.DrawDeadline == DeadlineNow || at.After(start) {
		return nil
	}
	return &KeyError{Key: "DRAW_DEADLINE", Value: c.DrawDeadline, Err: fmt.Errorf(
		"already past at start (%s) and no draw is recorded: sales would close before any agency bets; to hold the draw now with the bets stored, set DRAW_DEADLINE=%s",
		start.Format(time.RFC3339), DeadlineNow)}
}

// validHostPort reports whether s is empty or a host:port whose port is
// a number 0..65535.
func validHostPort(s string) bool {
	if s == "" {
		return true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(host) {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// validDeadline reports whether s is a DRAW_DEADLINE: empty, DeadlineNow,
// a duration of at least minDeadline, or an RFC 3339 time.
func validDeadline(s string) bool {
	if s == "" || s == DeadlineNow {
		return true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d >= minDeadline
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// Address is the address the central listens on: SERVER_IP and
// SERVER_PORT, every address of the host when SERVER_IP is empty, 0.0.0.0
// or ::.
func (c Server) Address() string {
	return c.address(false)
}

// ProbeAddress is the address that a probe on the central's own host or
// container (server healthcheck) dials to reach the central. It is
// SERVER_IP when that names one address (an IP or a host name such as the
// course's "server", which may resolve to the container's own network
// address, never to loopback), and 127.0.0.1 when the central listens on
// every address. A central listening on :: or 0.0.0.0 accepts IPv4 there
// too: Go listens on a dual-stack socket for both; so 127.0.0.1, not
// [::1], reaches it on every host, IPv6 enabled or not.
func (c Server) ProbeAddress() string {
	return c.address(true)
}

// address is the one place that turns SERVER_IP into a host, for the
// listener (Address) and for the probe (ProbeAddress), so that the two
// cannot disagree on where the central is: they differ only where the
// listener takes every address, which no one can dial.
func (c Server) address(probe bool) string {
	host := c.IP
	if probe && c.ListensEverywhere() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(c.Port))
}

// AdminListenAddress is where the admin endpoint listens:
// SERVER_ADMIN_ADDRESS, on loopback (127.0.0.1) where it names no host
// (":9090"). Its counts and metrics are for the operator: every address
// (0.0.0.0:9090, as the compose files set inside their network) is served
// only where asked for by name. Empty where the endpoint is off.
func (c Server) AdminListenAddress() string {
	host, port, err := net.SplitHostPort(c.AdminAddress)
	if err != nil || host != "" {
		return c.AdminAddress
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// ListensEverywhere reports whether the central listens on every address
// of its host: SERVER_IP is empty or a wildcard address (0.0.0.0, ::).
func (c Server) ListensEverywhere() bool {
	if c.IP == "" {
		return true
	}
	ip := net.ParseIP(c.IP)
	return ip != nil && ip.IsUnspecified()
}

// LogAttrs returns the configuration as log attributes.
func (c Server) LogAttrs() []any {
	return []any{
		"server_port", c.Port, "server_ip", c.IP, "server_listen_backlog", c.ListenBacklog,
		"logging_level", logging.LevelName(c.LogLevel), "logging_timezone", ZoneName(c.Zone(), time.Now()), "agencies_amount", c.Agencies,
		"storage_filepath", c.StoragePath, "storage_url", c.StorageURLRedacted(), "server_read_timeout", c.ReadTimeout,
		"server_hello_timeout", c.HelloTimeout, "server_max_connections", c.MaxConnections,
		"server_refusal_rate", c.RefusalRate, "server_refusal_burst", c.RefusalBurst,
		"server_shutdown_grace", c.ShutdownGrace, "server_pprof_address", c.PprofAddress,
		"server_admin_address", c.AdminAddress, "server_admin_token_file", c.AdminTokenFile,
		"server_admin_idle_timeout", c.AdminIdleTimeout,
		"draw_deadline", c.DrawDeadline, "server_replica", c.Replica,
		"server_tls_cert", c.TLSCert, "server_tls_client_ca", c.TLSClientCA, "server_tls_revoked", c.TLSRevoked,
	}
}

// isHostname reports whether s is a plausible host name, such as the
// compose service name "server".
func isHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}
