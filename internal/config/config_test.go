package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeEnv is a LookupEnv over m, so that tests never read the process
// environment.
func fakeEnv(m map[string]string) LookupEnv {
	return func(key string) (string, bool) {
		v, ok := m[key]
		return v, ok
	}
}

// writeFile writes content to name in a new temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// missingFile returns the path of a file that does not exist.
func missingFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), name)
}

// configFile returns the path of a file name holding content, or of no
// file when content is "".
func configFile(t *testing.T, name, content string) string {
	t.Helper()
	if content == "" {
		return missingFile(t, name)
	}
	return writeFile(t, name, content)
}

// loadCase is a configuration that loads: a file (none when ""), an
// environment, and how it changes the defaults.
type loadCase[C any] struct {
	name string
	file string // "" for no file
	env  map[string]string
	want func(*C)
}

// testLoad runs each case through load, from a file named name, and wants
// defaults() changed by the case's want.
func testLoad[C comparable](t *testing.T, name string, load func(string, LookupEnv) (C, error), defaults func() C, tests []loadCase[C]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(configFile(t, name, tt.file), fakeEnv(tt.env))
			if err != nil {
				t.Fatalf("load %s: %v", name, err)
			}
			want := defaults()
			tt.want(&want)
			if got != want {
				t.Errorf("load %s =\n %+v, want\n %+v", name, got, want)
			}
		})
	}
}

// checkKeyError checks that err is a one-line *KeyError naming key.
func checkKeyError(t *testing.T, err error, key string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one naming %s", key)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.Contains(msg, key) {
		t.Errorf("error %q does not name key %s", msg, key)
	}
	var ke *KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("error %q (%T) is not a *KeyError", msg, err)
	}
	if ke.Key != key {
		t.Errorf("KeyError.Key = %q, want %q", ke.Key, key)
	}
}

// --- server ---------------------------------------------------------------

// defaultServerINI sets every key of config.ini to its default, as the
// README's table of keys gives it.
const defaultServerINI = `[DEFAULT]
SERVER_PORT = 12345
SERVER_IP =
SERVER_LISTEN_BACKLOG = 128
LOGGING_LEVEL = INFO
AGENCIES_AMOUNT = 5
STORAGE_FILEPATH = ./bets.csv
SERVER_READ_TIMEOUT = 30s
SERVER_HELLO_TIMEOUT = 5s
SERVER_MAX_CONNECTIONS = 4096
SERVER_REFUSAL_RATE = 10
SERVER_REFUSAL_BURST = 100
SERVER_SHUTDOWN_GRACE = 5s
SERVER_PPROF_ADDRESS =
SERVER_ADMIN_TOKEN_FILE =
SERVER_ADMIN_IDLE_TIMEOUT = 30s
`

func TestDefaultServer(t *testing.T) {
	got, err := LoadServer(missingFile(t, "config.ini"), fakeEnv(nil))
	if err != nil {
		t.Fatalf("LoadServer without a file: %v", err)
	}
	want, err := LoadServer(writeFile(t, "config.ini", defaultServerINI), fakeEnv(nil))
	if err != nil {
		t.Fatalf("LoadServer with every key at its default: %v", err)
	}
	if got != want {
		t.Errorf("LoadServer without a file = %+v, want %+v (every key at its default)", got, want)
	}
	if got != DefaultServer() {
		t.Errorf("LoadServer without a file = %+v, want DefaultServer() %+v", got, DefaultServer())
	}
	if err := DefaultServer().Validate(); err != nil {
		t.Errorf("DefaultServer().Validate() = %v", err)
	}
	if got.Address() != ":12345" {
		t.Errorf("Address() = %q, want %q", got.Address(), ":12345")
	}
}

func TestLoadServer(t *testing.T) {
	const allKeys = `[DEFAULT]
SERVER_PORT = 5000
SERVER_IP = 127.0.0.1
SERVER_LISTEN_BACKLOG = 64
LOGGING_LEVEL = DEBUG
AGENCIES_AMOUNT = 7
STORAGE_FILEPATH = /data/bets.csv
SERVER_READ_TIMEOUT = 1m30s
SERVER_HELLO_TIMEOUT = 3s
SERVER_MAX_CONNECTIONS = 100
SERVER_REFUSAL_RATE = 0
SERVER_REFUSAL_BURST = 50
SERVER_SHUTDOWN_GRACE = 20s
SERVER_REPLICA = central-2
`
	testLoad(t, "config.ini", LoadServer, DefaultServer, []loadCase[Server]{
		{
			name: "no file, no env",
			want: func(*Server) {},
		},
		{
			name: "four classic keys",
			file: "[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = 0.0.0.0\nSERVER_LISTEN_BACKLOG = 5\nLOGGING_LEVEL = INFO\n",
			want: func(c *Server) {
				c.IP = "0.0.0.0"
				c.ListenBacklog = 5
			},
		},
		{
			name: "four classic keys, other values",
			file: "[DEFAULT]\nSERVER_PORT = 22222\nSERVER_IP = localhost\nSERVER_LISTEN_BACKLOG = 5\nLOGGING_LEVEL = WARNING\n",
			want: func(c *Server) {
				c.Port = 22222
				c.IP = "localhost"
				c.ListenBacklog = 5
				c.LogLevel = slog.LevelWarn
			},
		},
		{
			name: "all keys",
			file: allKeys,
			want: func(c *Server) {
				*c = Server{
					Port: 5000, IP: "127.0.0.1", ListenBacklog: 64, LogLevel: slog.LevelDebug,
					Agencies: 7, StoragePath: "/data/bets.csv", ReadTimeout: 90 * time.Second,
					HelloTimeout: 3 * time.Second, MaxConnections: 100, RefusalBurst: 50, ShutdownGrace: 20 * time.Second, Replica: "central-2",
					AdminIdleTimeout: 30 * time.Second,
				}
			},
		},
		{
			name: "env only",
			env: map[string]string{
				"SERVER_PORT": "6000", "AGENCIES_AMOUNT": "3", "LOGGING_LEVEL": "error",
				"SERVER_READ_TIMEOUT": "2s", "SERVER_HELLO_TIMEOUT": "1500ms",
				"SERVER_SHUTDOWN_GRACE": "250ms",
			},
			want: func(c *Server) {
				c.Port = 6000
				c.Agencies = 3
				c.LogLevel = slog.LevelError
				c.ReadTimeout = 2 * time.Second
				c.HelloTimeout = 1500 * time.Millisecond
				c.ShutdownGrace = 250 * time.Millisecond
			},
		},
		{
			name: "env overrides file, file overrides defaults",
			file: allKeys,
			env: map[string]string{
				"SERVER_PORT": "7000", "SERVER_IP": "::1", "LOGGING_LEVEL": "warn",
				"AGENCIES_AMOUNT": "2", "STORAGE_FILEPATH": "/tmp/x.csv",
				"SERVER_READ_TIMEOUT": "5s", "SERVER_MAX_CONNECTIONS": "10",
				"SERVER_HELLO_TIMEOUT":  "2s",
				"SERVER_LISTEN_BACKLOG": "9",
				"SERVER_REPLICA":        "central-3",
				"SERVER_SHUTDOWN_GRACE": "1m",
				"SERVER_REFUSAL_RATE":   "5", "SERVER_REFUSAL_BURST": "1000",
			},
			want: func(c *Server) {
				*c = Server{
					Port: 7000, IP: "::1", ListenBacklog: 9, LogLevel: slog.LevelWarn,
					Agencies: 2, StoragePath: "/tmp/x.csv", ReadTimeout: 5 * time.Second,
					HelloTimeout: 2 * time.Second, MaxConnections: 10, RefusalRate: 5, RefusalBurst: 1000, ShutdownGrace: time.Minute, Replica: "central-3",
					AdminIdleTimeout: 30 * time.Second,
				}
			},
		},
		{
			name: "env overrides some keys, file keeps the others",
			file: allKeys,
			env:  map[string]string{"SERVER_PORT": "7001"},
			want: func(c *Server) {
				*c = Server{
					Port: 7001, IP: "127.0.0.1", ListenBacklog: 64, LogLevel: slog.LevelDebug,
					Agencies: 7, StoragePath: "/data/bets.csv", ReadTimeout: 90 * time.Second,
					HelloTimeout: 3 * time.Second, MaxConnections: 100, RefusalBurst: 50, ShutdownGrace: 20 * time.Second, Replica: "central-2",
					AdminIdleTimeout: 30 * time.Second,
				}
			},
		},
		{
			name: "admin endpoint keys",
			env: map[string]string{
				"SERVER_ADMIN_ADDRESS": ":9090", "SERVER_ADMIN_TOKEN_FILE": "/run/secrets/admin.token",
				"SERVER_ADMIN_IDLE_TIMEOUT": "250ms",
			},
			want: func(c *Server) {
				c.AdminAddress, c.AdminTokenFile = ":9090", "/run/secrets/admin.token"
				c.AdminIdleTimeout = 250 * time.Millisecond
			},
		},
		{
			name: "values are trimmed",
			env:  map[string]string{"SERVER_PORT": " 8000 ", "LOGGING_LEVEL": " debug "},
			want: func(c *Server) {
				c.Port = 8000
				c.LogLevel = slog.LevelDebug
			},
		},
		{
			name: "port 0 picks a free port",
			env:  map[string]string{"SERVER_PORT": "0"},
			want: func(c *Server) { c.Port = 0 },
		},
		{
			name: "other sections are ignored",
			file: "[DEFAULT]\nSERVER_PORT = 1234\n[other]\nSERVER_PORT = abc\n",
			want: func(c *Server) { c.Port = 1234 },
		},
		{
			name: "keys outside any section are the default section",
			file: "SERVER_PORT = 4321\n",
			want: func(c *Server) { c.Port = 4321 },
		},
	})
}

// TestLoadServerClassicFile loads the config.ini of the original Python
// server verbatim: its SERVER_IP is the compose service name, a host name.
func TestLoadServerClassicFile(t *testing.T) {
	path := writeFile(t, "config.ini", "[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = server\nSERVER_LISTEN_BACKLOG = 5\nLOGGING_LEVEL = INFO\n")
	got, err := LoadServer(path, fakeEnv(nil))
	if err != nil {
		t.Fatalf("the classic config.ini (SERVER_IP = server, a host name) is rejected: %v", err)
	}
	want := DefaultServer()
	want.IP = "server"
	want.ListenBacklog = 5
	if got != want {
		t.Errorf("LoadServer = %+v, want %+v", got, want)
	}
}

func TestLoadServerBadValues(t *testing.T) {
	bad := []struct {
		key, value string
	}{
		{"SERVER_PORT", "abc"},
		{"SERVER_PORT", "70000"},
		{"SERVER_PORT", "-1"},
		{"SERVER_PORT", "65536"},
		{"SERVER_IP", "not an ip"},
		{"SERVER_LISTEN_BACKLOG", "0"},
		{"SERVER_LISTEN_BACKLOG", "x"},
		{"LOGGING_LEVEL", "LOUD"},
		{"LOGGING_LEVEL", ""},
		{"LOGGING_TIMEZONE", "Mars/Olympus_Mons"},
		{"LOGGING_TIMEZONE", "-03:00"},
		{"AGENCIES_AMOUNT", "-3"},
		{"AGENCIES_AMOUNT", "0"},
		{"AGENCIES_AMOUNT", "65536"},
		{"AGENCIES_AMOUNT", "five"},
		{"STORAGE_FILEPATH", ""},
		{"SERVER_READ_TIMEOUT", "5"},
		{"SERVER_READ_TIMEOUT", "0s"},
		{"SERVER_READ_TIMEOUT", "-1s"},
		{"SERVER_HELLO_TIMEOUT", "5"},
		{"SERVER_HELLO_TIMEOUT", "0s"},
		{"SERVER_HELLO_TIMEOUT", "-2s"},
		{"SERVER_MAX_CONNECTIONS", "0"},
		{"SERVER_MAX_CONNECTIONS", "many"},
		{"SERVER_REFUSAL_RATE", "-1"},
		{"SERVER_REFUSAL_RATE", "1000001"},
		{"SERVER_REFUSAL_RATE", "2.5"},
		{"SERVER_REFUSAL_BURST", "0"},
		{"SERVER_REFUSAL_BURST", "1000001"},
		{"SERVER_REFUSAL_BURST", "lots"},
		{"SERVER_SHUTDOWN_GRACE", "5"},
		{"SERVER_SHUTDOWN_GRACE", "0s"},
		{"SERVER_SHUTDOWN_GRACE", "-1s"},
		{"SERVER_SHUTDOWN_GRACE", "6m"},
		{"SERVER_ADMIN_TOKEN_FILE", "/run/secrets/admin.token"}, // without SERVER_ADMIN_ADDRESS
		{"SERVER_ADMIN_IDLE_TIMEOUT", "0s"},
		{"SERVER_ADMIN_IDLE_TIMEOUT", "-1s"},
		{"SERVER_ADMIN_IDLE_TIMEOUT", "30"},
		{"DRAW_DEADLINE", "0s"},
		{"DRAW_DEADLINE", "-1m"},
		{"DRAW_DEADLINE", "1ns"},
		{"DRAW_DEADLINE", "999ms"},
		{"DRAW_DEADLINE", "NOW"},
		{"DRAW_DEADLINE", "21:00"},
		{"DRAW_DEADLINE", "2026-05-01 21:00:00"},
		{"SERVER_REPLICA", ""},
		{"SERVER_REPLICA", "central|1"},
		{"SERVER_REPLICA", "central 1"},
		{"SERVER_REPLICA", "central\x01"},
		{"SERVER_REPLICA", strings.Repeat("c", 65)},
	}
	for _, b := range bad {
		for _, source := range []string{"file", "env"} {
			t.Run(source+"/"+b.key+"="+b.value, func(t *testing.T) {
				path := missingFile(t, "config.ini")
				env := map[string]string{}
				if source == "file" {
					path = writeFile(t, "config.ini", "[DEFAULT]\n"+b.key+" = "+b.value+"\n")
				} else {
					env[b.key] = b.value
				}
				_, err := LoadServer(path, fakeEnv(env))
				checkKeyError(t, err, b.key)
			})
		}
	}
}

// TestServerDrawDeadline: DRAW_DEADLINE is off by default, a duration
// from the central's start, or an RFC 3339 time, from the file or the
// environment.
func TestServerDrawDeadline(t *testing.T) {
	start := time.Date(2026, 5, 1, 18, 0, 0, 0, time.UTC)
	c, err := LoadServer(missingFile(t, "config.ini"), fakeEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := c.Deadline(start); ok {
		t.Errorf("default Deadline = %v, true; want off", at)
	}
	c, err = LoadServer(writeFile(t, "config.ini", "[DEFAULT]\nDRAW_DEADLINE = 2h30m\n"), fakeEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := c.Deadline(start); !ok || !at.Equal(start.Add(150*time.Minute)) {
		t.Errorf("DRAW_DEADLINE=2h30m: Deadline = %v, %v; want %v", at, ok, start.Add(150*time.Minute))
	}
	c, err = LoadServer(missingFile(t, "config.ini"), fakeEnv(map[string]string{"DRAW_DEADLINE": "2026-05-01T21:00:00-03:00"}))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	if at, ok := c.Deadline(start); !ok || !at.Equal(want) {
		t.Errorf("DRAW_DEADLINE=2026-05-01T21:00:00-03:00: Deadline = %v, %v; want %v", at, ok, want)
	}
}

func TestLoadServerBadEnvOverridesGoodFile(t *testing.T) {
	path := writeFile(t, "config.ini", "[DEFAULT]\nSERVER_PORT = 5000\n")
	_, err := LoadServer(path, fakeEnv(map[string]string{"SERVER_PORT": "abc"}))
	checkKeyError(t, err, "SERVER_PORT")
}

func TestLoadServerGoodEnvOverridesBadFile(t *testing.T) {
	// The file is read first and a bad value stops the load, even when the
	// environment would override it: the file itself is wrong.
	path := writeFile(t, "config.ini", "[DEFAULT]\nSERVER_PORT = abc\n")
	_, err := LoadServer(path, fakeEnv(map[string]string{"SERVER_PORT": "5000"}))
	checkKeyError(t, err, "SERVER_PORT")
}

func TestLoadServerUnreadableFile(t *testing.T) {
	// A directory where the file should be is an error, not a missing file.
	dir := t.TempDir()
	if _, err := LoadServer(dir, fakeEnv(nil)); err == nil {
		t.Fatal("LoadServer on a directory: got no error")
	}
}

func TestServerLogAttrs(t *testing.T) {
	attrs := DefaultServer().LogAttrs()
	if len(attrs)%2 != 0 {
		t.Fatalf("LogAttrs has an odd length %d", len(attrs))
	}
	m := map[string]any{}
	for i := 0; i < len(attrs); i += 2 {
		m[attrs[i].(string)] = attrs[i+1]
	}
	if m["logging_level"] != "INFO" || m["server_port"] != 12345 || m["agencies_amount"] != 5 || m["server_replica"] != DefaultServer().Replica {
		t.Errorf("LogAttrs = %v", attrs)
	}
}

// TestServerReplica: SERVER_REPLICA defaults to the host's name and takes
// any short printable name without spaces or '|'.
func TestServerReplica(t *testing.T) {
	host, err := os.Hostname()
	if err == nil && validReplica(host) && DefaultServer().Replica != host {
		t.Errorf("default SERVER_REPLICA = %q, want the host name %q", DefaultServer().Replica, host)
	}
	for _, name := range []string{"central-1", "3f2a9c1b7e4d", "réplica_2", strings.Repeat("c", 64)} {
		c, err := LoadServer(missingFile(t, "config.ini"), fakeEnv(map[string]string{"SERVER_REPLICA": name}))
		if err != nil || c.Replica != name {
			t.Errorf("SERVER_REPLICA=%q: %q, %v", name, c.Replica, err)
		}
	}
}

// --- client ---------------------------------------------------------------

func TestLoadClient(t *testing.T) {
	const allKeys = `id: 3
server:
  address: "central:5000"
  timeout: 20s
log:
  level: debug
batch:
  maxAmount: 50
data:
  file: /data/agency.csv
retry:
  timeout: 2m
winners:
  file: /data/winners.txt
`
	allWant := Client{
		ID: 3, ServerAddress: "central:5000", ServerTimeout: 20 * time.Second,
		LogLevel: slog.LevelDebug, BatchMax: 50, DataFile: "/data/agency.csv",
		RetryTimeout: 2 * time.Minute, WinnersFile: "/data/winners.txt",
	}
	testLoad(t, "config.yaml", LoadClient, DefaultClient, []loadCase[Client]{
		{
			name: "no file, id from env: defaults",
			env:  map[string]string{"CLI_ID": "1"},
			want: agencyDefaults(1),
		},
		{
			name: "all keys",
			file: allKeys,
			want: func(c *Client) { *c = allWant },
		},
		{
			name: "classic file, id from env, legacy loop keys ignored",
			file: "server:\n  address: \"server:12345\"\nloop:\n  amount: 5\n  period: \"5s\"\nlog:\n  level: \"info\"\n",
			env:  map[string]string{"CLI_ID": "4"},
			want: agencyDefaults(4),
		},
		{
			name: "legacy loop keys of any shape ignored",
			file: "id: 2\nloop:\n  amount: [1, 2]\n  period: {a: b}\n  lapse: \"0m20s\"\n",
			want: agencyDefaults(2),
		},
		{
			name: "empty file",
			file: "\n",
			env:  map[string]string{"CLI_ID": "5"},
			want: agencyDefaults(5),
		},
		{
			name: "data.file default follows the id from the file",
			file: "id: 12\n",
			want: agencyDefaults(12),
		},
		{
			name: "data.file default follows the id from the env",
			file: "id: 12\n",
			env:  map[string]string{"CLI_ID": "13"},
			want: agencyDefaults(13),
		},
		{
			name: "CLI_DATA_FILE overrides the default",
			env:  map[string]string{"CLI_ID": "1", "CLI_DATA_FILE": "/x/bets.csv"},
			want: func(c *Client) {
				c.ID = 1
				c.DataFile = "/x/bets.csv"
			},
		},
		{
			name: "CLI_DATA_FILE overrides data.file",
			file: "id: 1\ndata:\n  file: /from/file.csv\n",
			env:  map[string]string{"CLI_DATA_FILE": "/from/env.csv"},
			want: func(c *Client) {
				c.ID = 1
				c.DataFile = "/from/env.csv"
			},
		},
		{
			name: "every CLI_ variable overrides the file",
			file: allKeys,
			env: map[string]string{
				"CLI_ID": "9", "CLI_SERVER_ADDRESS": "other:1", "CLI_SERVER_TIMEOUT": "1s",
				"CLI_LOG_LEVEL": "WARNING", "CLI_BATCH_MAXAMOUNT": "7",
				"CLI_DATA_FILE": "/env.csv", "CLI_RETRY_TIMEOUT": "3s",
				"CLI_WINNERS_FILE": "/env-winners.txt",
			},
			want: func(c *Client) {
				*c = Client{
					ID: 9, ServerAddress: "other:1", ServerTimeout: time.Second,
					LogLevel: slog.LevelWarn, BatchMax: 7, DataFile: "/env.csv",
					RetryTimeout: 3 * time.Second, WinnersFile: "/env-winners.txt",
				}
			},
		},
		{
			name: "the central's replicas, comma-separated, in the file",
			file: "id: 1\nserver:\n  address: \"server1:12345,server2:12345\"\n",
			want: func(c *Client) {
				agencyDefaults(1)(c)
				c.ServerAddress = "server1:12345,server2:12345"
			},
		},
		{
			name: "the central's replicas, comma-separated, in the env",
			env:  map[string]string{"CLI_ID": "1", "CLI_SERVER_ADDRESS": "10.0.0.1:12345, central:12345"},
			want: func(c *Client) {
				agencyDefaults(1)(c)
				c.ServerAddress = "10.0.0.1:12345, central:12345"
			},
		},
		{
			name: "env overrides some keys, file keeps the others",
			file: allKeys,
			env:  map[string]string{"CLI_BATCH_MAXAMOUNT": "8"},
			want: func(c *Client) {
				*c = allWant
				c.BatchMax = 8
			},
		},
		{
			name: "the largest agency number",
			env:  map[string]string{"CLI_ID": "65535"},
			want: agencyDefaults(65535),
		},
		{
			name: "yaml numbers and strings both read",
			file: "id: \"6\"\nbatch:\n  maxAmount: \"10\"\n",
			want: func(c *Client) {
				c.ID = 6
				c.BatchMax = 10
				c.DataFile = ".data/agency-6.csv"
			},
		},
	})
}

func TestDefaultClient(t *testing.T) {
	want := Client{
		ServerAddress: "server:12345",
		ServerTimeout: 15 * time.Second,
		LogLevel:      slog.LevelInfo,
		BatchMax:      200,
		RetryTimeout:  60 * time.Second,
	}
	if got := DefaultClient(); got != want {
		t.Errorf("DefaultClient() = %+v, want %+v", got, want)
	}
}

func TestLoadClientBadValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		key  string
	}{
		// Values that do not parse, from the file: the yaml key is named.
		{name: "file id abc", file: "id: abc\n", key: "id"},
		{name: "file server.timeout 5", file: "id: 1\nserver:\n  timeout: 5\n", key: "server.timeout"},
		{name: "file log.level LOUD", file: "id: 1\nlog:\n  level: LOUD\n", key: "log.level"},
		{name: "file batch.maxAmount x", file: "id: 1\nbatch:\n  maxAmount: x\n", key: "batch.maxAmount"},
		{name: "file retry.timeout soon", file: "id: 1\nretry:\n  timeout: soon\n", key: "retry.timeout"},
		{name: "file multi-line level", file: "id: 1\nlog:\n  level: |\n    a\n    b\n", key: "log.level"},
		// Values that parse but are out of range, from the file.
		{name: "file id 0", file: "id: 0\n", key: "id"},
		{name: "file id -2", file: "id: -2\n", key: "id"},
		{name: "file server.address no port", file: "id: 1\nserver:\n  address: server\n", key: "server.address"},
		{name: "file server.address no host", file: "id: 1\nserver:\n  address: \":12345\"\n", key: "server.address"},
		{name: "file server.address port 70000", file: "id: 1\nserver:\n  address: \"server:70000\"\n", key: "server.address"},
		{name: "file server.timeout 0s", file: "id: 1\nserver:\n  timeout: 0s\n", key: "server.timeout"},
		{name: "file batch.maxAmount 0", file: "id: 1\nbatch:\n  maxAmount: 0\n", key: "batch.maxAmount"},
		{name: "file retry.timeout -1s", file: "id: 1\nretry:\n  timeout: -1s\n", key: "retry.timeout"},
		{name: "no id at all", key: "id"},
		// Values that do not parse, from the env: the variable is named.
		{name: "env CLI_ID abc", env: map[string]string{"CLI_ID": "abc"}, key: "CLI_ID"},
		{name: "env CLI_SERVER_TIMEOUT 5", env: map[string]string{"CLI_ID": "1", "CLI_SERVER_TIMEOUT": "5"}, key: "CLI_SERVER_TIMEOUT"},
		{name: "env CLI_LOG_LEVEL LOUD", env: map[string]string{"CLI_ID": "1", "CLI_LOG_LEVEL": "LOUD"}, key: "CLI_LOG_LEVEL"},
		{name: "env CLI_BATCH_MAXAMOUNT x", env: map[string]string{"CLI_ID": "1", "CLI_BATCH_MAXAMOUNT": "x"}, key: "CLI_BATCH_MAXAMOUNT"},
		{name: "env CLI_RETRY_TIMEOUT soon", env: map[string]string{"CLI_ID": "1", "CLI_RETRY_TIMEOUT": "soon"}, key: "CLI_RETRY_TIMEOUT"},
		{name: "env bad value overrides good file", file: "id: 1\n", env: map[string]string{"CLI_ID": "x"}, key: "CLI_ID"},
		// Values that parse but are out of range, from the env: the
		// variable, which is what the operator set, should be named.
		{name: "env CLI_ID 0", env: map[string]string{"CLI_ID": "0"}, key: "CLI_ID"},
		// An id past what any central takes, or past the wire's 32 bits
		// (4294967298 would arrive as agency 2).
		{name: "env CLI_ID 65536", env: map[string]string{"CLI_ID": "65536"}, key: "CLI_ID"},
		{name: "env CLI_ID 4294967298", env: map[string]string{"CLI_ID": "4294967298"}, key: "CLI_ID"},
		{name: "env CLI_ID -4294967295", env: map[string]string{"CLI_ID": "-4294967295"}, key: "CLI_ID"},
		{name: "file id 4294967298", file: "id: 4294967298\n", key: "id"},
		{name: "env CLI_BATCH_MAXAMOUNT 0", env: map[string]string{"CLI_ID": "1", "CLI_BATCH_MAXAMOUNT": "0"}, key: "CLI_BATCH_MAXAMOUNT"},
		{name: "env CLI_SERVER_ADDRESS no port", env: map[string]string{"CLI_ID": "1", "CLI_SERVER_ADDRESS": "server"}, key: "CLI_SERVER_ADDRESS"},
		{name: "env CLI_SERVER_ADDRESS empty entry", env: map[string]string{"CLI_ID": "1", "CLI_SERVER_ADDRESS": "a:1,,b:2"}, key: "CLI_SERVER_ADDRESS"},
		{name: "file server.address trailing comma", file: "id: 1\nserver:\n  address: \"a:1,\"\n", key: "server.address"},
		// Values of the wrong yaml type are bad values of their key too.
		{name: "file id is a list", file: "id: [1, 2]\n", key: "id"},
		{name: "file server is a scalar", file: "id: 1\nserver: central\n", key: "server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadClient(configFile(t, "config.yaml", tt.file), fakeEnv(tt.env))
			checkKeyError(t, err, tt.key)
		})
	}
}

func TestLoadClientInvalidYAML(t *testing.T) {
	tests := []struct {
		name, file string
	}{
		{"unclosed quote", "id: \"1\nserver:\n"},
		{"bad indentation", "server:\n  address: a:1\n timeout: 5s\n"},
		{"missing key", ":\n- a: b\n  c"},
		{"tab indentation", "server:\n\taddress: a:1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "config.yaml", tt.file)
			_, err := LoadClient(path, fakeEnv(map[string]string{"CLI_ID": "1"}))
			if err == nil {
				t.Fatal("LoadClient on invalid YAML: got no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
		})
	}
}

func TestLoadClientUnreadableFile(t *testing.T) {
	if _, err := LoadClient(t.TempDir(), fakeEnv(map[string]string{"CLI_ID": "1"})); err == nil {
		t.Fatal("LoadClient on a directory: got no error")
	}
}

func TestKeyError(t *testing.T) {
	inner := errors.New("not an integer")
	err := error(&KeyError{Key: "SERVER_PORT", Value: "a\nb", Err: inner})
	if got, want := err.Error(), `config SERVER_PORT="a\nb": not an integer`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("KeyError does not unwrap to its cause")
	}
}

// TestClientAddresses checks server.address as a comma-separated list of
// the central's replicas: its entries, and a bad one named in one line.
func TestClientAddresses(t *testing.T) {
	tests := []struct {
		name    string
		address string
		want    []string
		bad     string // in the error; "" when valid
	}{
		{name: "one", address: "server:12345", want: []string{"server:12345"}},
		{name: "two", address: "server1:12345,server2:12345", want: []string{"server1:12345", "server2:12345"}},
		{name: "spaces trimmed", address: " server1:1 , [::1]:2 ", want: []string{"server1:1", "[::1]:2"}},
		{name: "one without port", address: "server", want: []string{"server"}, bad: `server.address="server": want host:port`},
		{name: "second without port", address: "a:1,b", want: []string{"a:1", "b"}, bad: `entry 2 of 2, "b"`},
		{name: "port out of range", address: "a:1,b:70000,c:3", want: []string{"a:1", "b:70000", "c:3"}, bad: `entry 2 of 3, "b:70000"`},
		{name: "empty entry", address: "a:1,,b:2", want: []string{"a:1", "", "b:2"}, bad: "entry 2 of 3 is empty"},
		{name: "trailing comma", address: "a:1,", want: []string{"a:1", ""}, bad: "entry 2 of 2 is empty"},
		{name: "blank entry", address: "a:1, ", want: []string{"a:1", ""}, bad: "entry 2 of 2 is empty"},
		{name: "empty", address: "", want: []string{""}, bad: `server.address="": want host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultClient()
			c.ID, c.DataFile, c.ServerAddress = 1, "bets.csv", tt.address
			if got := c.Addresses(); !slices.Equal(got, tt.want) {
				t.Errorf("Addresses() = %q, want %q", got, tt.want)
			}
			err := c.Validate()
			if tt.bad == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			checkKeyError(t, err, "server.address")
			if err != nil && !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("Validate = %q, want it to say %q", err, tt.bad)
			}
		})
	}
}

// TestServerAddresses checks where the central listens and where a probe
// on its host dials, for every form of SERVER_IP: they are the same
// address unless the central listens on every address, which a probe
// reaches on 127.0.0.1.
func TestServerAddresses(t *testing.T) {
	tests := []struct {
		ip, listen, probe string
		everywhere        bool
	}{
		{"", ":12345", "127.0.0.1:12345", true},
		{"0.0.0.0", "0.0.0.0:12345", "127.0.0.1:12345", true},
		{"::", "[::]:12345", "127.0.0.1:12345", true},
		{"192.168.1.20", "192.168.1.20:12345", "192.168.1.20:12345", false},
		{"127.0.0.1", "127.0.0.1:12345", "127.0.0.1:12345", false},
		{"fd00::20", "[fd00::20]:12345", "[fd00::20]:12345", false},
		{"::1", "[::1]:12345", "[::1]:12345", false},
		{"server", "server:12345", "server:12345", false},
		{"localhost", "localhost:12345", "localhost:12345", false},
	}
	for _, tt := range tests {
		t.Run("SERVER_IP="+tt.ip, func(t *testing.T) {
			path := writeFile(t, "config.ini", "[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = "+tt.ip+"\n")
			c, err := LoadServer(path, fakeEnv(nil))
			if err != nil {
				t.Fatalf("LoadServer: %v", err)
			}
			if got := c.Address(); got != tt.listen {
				t.Errorf("Address() = %q, want %q", got, tt.listen)
			}
			if got := c.ProbeAddress(); got != tt.probe {
				t.Errorf("ProbeAddress() = %q, want %q", got, tt.probe)
			}
			if got := c.ListensEverywhere(); got != tt.everywhere {
				t.Errorf("ListensEverywhere() = %v, want %v", got, tt.everywhere)
			}
		})
	}
}

// The course's own files, verbatim except for the logging level: a course
// user deploys with them unchanged.
const (
	courseServerINI = "[DEFAULT]\nSERVER_PORT = 12345\nSERVER_IP = server\nSERVER_LISTEN_BACKLOG = 5\nLOGGING_LEVEL = %s\n"
	// courseClientYAML has no id (CLI_ID gives it) and the legacy loop keys.
	courseClientYAML = "server:\n  address: \"server:12345\"\nloop:\n  amount: 5\n  period: \"5s\"\nlog:\n  level: \"%s\"\n"
)

func TestLoadCourseFiles(t *testing.T) {
	levels := []struct {
		server, client string
		want           slog.Level
	}{
		{"INFO", "info", slog.LevelInfo},
		{"DEBUG", "DEBUG", slog.LevelDebug},
	}
	for _, l := range levels {
		t.Run("server/"+l.server, func(t *testing.T) {
			path := writeFile(t, "config.ini", fmt.Sprintf(courseServerINI, l.server))
			got, err := LoadServer(path, fakeEnv(nil))
			if err != nil {
				t.Fatalf("the course's config.ini is refused: %v", err)
			}
			want := DefaultServer()
			want.IP, want.ListenBacklog, want.LogLevel = "server", 5, l.want
			if got != want {
				t.Errorf("LoadServer = %+v, want %+v", got, want)
			}
			if got.ProbeAddress() != "server:12345" {
				t.Errorf("ProbeAddress() = %q, want server:12345", got.ProbeAddress())
			}
		})
		t.Run("client/"+l.client, func(t *testing.T) {
			path := writeFile(t, "config.yaml", fmt.Sprintf(courseClientYAML, l.client))
			got, err := LoadClient(path, fakeEnv(map[string]string{"CLI_ID": "3"}))
			if err != nil {
				t.Fatalf("the course's config.yaml with CLI_ID=3 is refused: %v", err)
			}
			want := DefaultClient()
			want.ID, want.DataFile, want.LogLevel = 3, ".data/agency-3.csv", l.want
			if got != want {
				t.Errorf("LoadClient = %+v, want %+v", got, want)
			}
			// Without CLI_ID the file names no agency: refused, naming id.
			_, err = LoadClient(path, fakeEnv(nil))
			checkKeyError(t, err, "id")
		})
	}
}

// agencyDefaults wants the defaults but for the agency's id and the data
// file that follows it.
func agencyDefaults(id int) func(*Client) {
	return func(c *Client) {
		c.ID = id
		c.DataFile = fmt.Sprintf(".data/agency-%d.csv", id)
	}
}

// TestStorageURL: STORAGE_URL takes PostgreSQL URLs, several hosts
// included, refuses anything else naming the key, and is never shown with
// its password.
func TestStorageURL(t *testing.T) {
	tests := []struct {
		url, redacted string
		ok            bool
	}{
		{"", "", true},
		{"postgres://lottery:s3cret@db:5432/quiniela", "postgres://lottery:xxxxx@db:5432/quiniela", true},
		{"postgresql://lottery@db1:5432,db2:5432/quiniela?target_session_attrs=read-write", "postgresql://lottery@db1:5432,db2:5432/quiniela?target_session_attrs=read-write", true},
		{"postgres://db/quiniela?user=lottery&password=s3cret&sslmode=disable", "postgres://db/quiniela?user=lottery&password=xxxxx&sslmode=disable", true},
		{"mysql://lottery:s3cret@db/quiniela", "mysql://lottery:xxxxx@db/quiniela", false},
		{"postgres://db:notaport/quiniela", "postgres://db:notaport/quiniela", false},
	}
	for _, tt := range tests {
		c := DefaultServer()
		c.StorageURL = tt.url
		if got := c.StorageURLRedacted(); got != tt.redacted {
			t.Errorf("StorageURLRedacted(%q) = %q, want %q", tt.url, got, tt.redacted)
		}
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "STORAGE_URL") || strings.Contains(err.Error(), "s3cret")) {
			t.Errorf("Validate(%q) = %v: want the key named and no password", tt.url, err)
		}
	}
}
