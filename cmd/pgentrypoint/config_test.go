package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string // a part of the error; "" for none
	}{
		{
			name: "primary defaults",
			env:  map[string]string{"POSTGRES_PASSWORD": "pw"},
			want: config{dataDir: defaultPGDATA, user: "postgres", password: "pw", primaryPort: "5432"},
		},
		{
			name: "primary with standbys",
			env: map[string]string{"POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "lottery", "POSTGRES_USER": "central",
				"PGDATA": "/data", "PG_SYNC_STANDBY": " standby1, standby_2 ,"},
			want: config{dataDir: "/data", user: "central", password: "pw", database: "lottery",
				syncStandbys: []string{"standby1", "standby_2"}, primaryPort: "5432"},
		},
		{
			name: "standby",
			env: map[string]string{"POSTGRES_PASSWORD": "pw", "PG_PRIMARY_HOST": "db1", "PG_PRIMARY_PORT": "6000",
				"PG_STANDBY_NAME": "standby1"},
			want: config{dataDir: defaultPGDATA, user: "postgres", password: "pw", primaryHost: "db1",
				primaryPort: "6000", standbyName: "standby1"},
		},
		{name: "no password", env: map[string]string{}, wantErr: "POSTGRES_PASSWORD is empty"},
		{
			name:    "standby without a name",
			env:     map[string]string{"POSTGRES_PASSWORD": "pw", "PG_PRIMARY_HOST": "db1"},
			wantErr: "PG_STANDBY_NAME",
		},
		{
			name:    "bad sync standby name",
			env:     map[string]string{"POSTGRES_PASSWORD": "pw", "PG_SYNC_STANDBY": "a b"},
			wantErr: "PG_SYNC_STANDBY",
		},
		{
			name:    "bad standby name",
			env:     map[string]string{"POSTGRES_PASSWORD": "pw", "PG_PRIMARY_HOST": "db1", "PG_STANDBY_NAME": "x'y"},
			wantErr: "PG_STANDBY_NAME",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one that says %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalConfig(got, tt.want) {
				t.Errorf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalConfig(a, b config) bool {
	return slices.Equal(a.syncStandbys, b.syncStandbys) &&
		[7]string{a.dataDir, a.user, a.password, a.database, a.primaryHost, a.primaryPort, a.standbyName} ==
			[7]string{b.dataDir, b.user, b.password, b.database, b.primaryHost, b.primaryPort, b.standbyName}
}

func TestSyncStandbyNames(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"standby1"}, `FIRST 1 ("standby1")`},
		{[]string{"standby1", "standby2"}, `FIRST 1 ("standby1", "standby2")`},
	}
	for _, tt := range tests {
		if got := syncStandbyNames(tt.names); got != tt.want {
			t.Errorf("syncStandbyNames(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

func TestConfLines(t *testing.T) {
	got := confLines([]setting{{"listen_addresses", "*"}, {"synchronous_standby_names", `FIRST 1 ("s1")`}, {"x", "it's"}})
	want := []string{
		"listen_addresses = '*'",
		`synchronous_standby_names = 'FIRST 1 ("s1")'`,
		"x = 'it''s'",
	}
	if !slices.Equal(got, want) {
		t.Errorf("confLines = %q, want %q", got, want)
	}
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		c    config
		want string // synchronous_standby_names
	}{
		{"no standby", config{}, ""},
		{"one standby", config{syncStandbys: []string{"standby1"}}, `FIRST 1 ("standby1")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, s := range settings(tt.c) {
				if _, dup := got[s.name]; dup {
					t.Errorf("%s set twice", s.name)
				}
				got[s.name] = s.value
			}
			for name, want := range map[string]string{
				"wal_level": "replica", "listen_addresses": "*", "hot_standby": "on",
				"synchronous_standby_names": tt.want, "jit": "off",
			} {
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

func TestHbaLines(t *testing.T) {
	var methods []string
	for _, l := range hbaLines() {
		f := strings.Fields(l)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if f[0] == "host" && f[len(f)-1] != "scram-sha-256" {
			t.Errorf("network line %q does not ask for scram-sha-256", l)
		}
		methods = append(methods, f[0]+" "+f[1])
	}
	for _, want := range []string{"local all", "host all", "host replication"} {
		if !slices.Contains(methods, want) {
			t.Errorf("pg_hba.conf has no %q line; lines: %q", want, hbaLines())
		}
	}
}

func TestArgs(t *testing.T) {
	c := config{dataDir: "/d", user: "postgres", password: "s3cr3t", primaryHost: "db1", primaryPort: "5432", standbyName: "standby1"}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"initdb", initdbArgs(c, "/tmp/pw"), []string{"-D", "/d", "-U", "postgres", "--pwfile=/tmp/pw",
			"--auth-local=trust", "--auth-host=scram-sha-256", "--locale=C", "--encoding=UTF8", "--data-checksums"}},
		{"pg_basebackup", basebackupArgs(c), []string{"-D", "/d",
			"-d", "host='db1' port='5432' user='postgres' application_name='standby1'",
			"-R", "-X", "stream", "-c", "fast", "--no-password"}},
		{"pg_isready", isreadyArgs(c), []string{"-q", "-t", "2", "-h", "db1", "-p", "5432", "-U", "postgres", "-d", "postgres"}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s args = %q, want %q", tt.name, tt.got, tt.want)
		}
		if slices.ContainsFunc(tt.got, func(a string) bool { return strings.Contains(a, c.password) }) {
			t.Errorf("%s args %q hold the password", tt.name, tt.got)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		quote   func(string) string
		in, out string
	}{
		{quoteIdent, "lottery", `"lottery"`},
		{quoteIdent, `a"b`, `"a""b"`},
		{quoteConf, "a'b", `'a''b'`},
		{quoteConninfo, `a'b\c`, `'a\'b\\c'`},
	}
	for _, tt := range tests {
		if got := tt.quote(tt.in); got != tt.out {
			t.Errorf("quote(%q) = %q, want %q", tt.in, got, tt.out)
		}
	}
}

func TestForwarded(t *testing.T) {
	tests := []struct{ in, want syscall.Signal }{
		{syscall.SIGTERM, syscall.SIGINT},
		{syscall.SIGINT, syscall.SIGINT},
		{syscall.SIGQUIT, syscall.SIGQUIT},
		{syscall.SIGHUP, syscall.SIGHUP},
	}
	for _, tt := range tests {
		if got := forwarded(tt.in); got != tt.want {
			t.Errorf("forwarded(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEnsureInclude(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "postgresql.conf")
	if err := os.WriteFile(name, []byte("max_connections = 100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call finds the line and adds nothing
		if err := ensureInclude(dir); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), includeLine); n != 1 {
		t.Errorf("postgresql.conf has the include line %d times, want 1:\n%s", n, b)
	}
}
