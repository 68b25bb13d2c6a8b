package config

import (
	"strings"
	"testing"
)

// TestUnknownKeysRefused: a key that no one reads, from config.ini, from
// config.yaml or from a SERVER_/CLI_ variable, is refused, naming it and
// the nearest known key, rather than leave its key's default silently.
func TestUnknownKeysRefused(t *testing.T) {
	for _, tc := range []struct {
		name, key, nearest string
		load               func(t *testing.T) error
	}{
		{"ini", "AGENCIES_AMMOUNT", "AGENCIES_AMOUNT", func(t *testing.T) error {
			_, err := LoadServer(writeFile(t, "config.ini", "[DEFAULT]\nSERVER_PORT = 6000\nAGENCIES_AMMOUNT = 3\n"), fakeEnv(nil))
			return err
		}},
		{"ini lower case", "server_port", "SERVER_PORT", func(t *testing.T) error {
			_, err := LoadServer(writeFile(t, "config.ini", "[DEFAULT]\nserver_port = 6000\n"), fakeEnv(nil))
			return err
		}},
		{"yaml nested", "server.adress", "server.address", func(t *testing.T) error {
			_, err := LoadClient(writeFile(t, "config.yaml", "id: 1\nserver:\n  adress: \"server:12345\"\n"), fakeEnv(nil))
			return err
		}},
		{"yaml top level", "batch_maxAmount", "batch.maxAmount", func(t *testing.T) error {
			_, err := LoadClient(writeFile(t, "config.yaml", "id: 1\nbatch_maxAmount: 20\n"), fakeEnv(nil))
			return err
		}},
		{"yaml section", "winner.file", "winners.file", func(t *testing.T) error {
			_, err := LoadClient(writeFile(t, "config.yaml", "id: 1\nwinner:\n  file: w.txt\n"), fakeEnv(nil))
			return err
		}},
		{"env SERVER_", "SERVER_PROT", "SERVER_PORT", func(*testing.T) error {
			return CheckEnviron([]string{"PATH=/bin", "SERVER_PROT=6000"})
		}},
		{"env CLI_", "CLI_WINNER_FILE", "CLI_WINNERS_FILE", func(*testing.T) error {
			return CheckEnviron([]string{"HOSTNAME=client1", "CLI_ID=1", "CLI_WINNER_FILE=/app/w.txt"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load(t)
			checkKeyError(t, err, tc.key)
			if want := "did you mean " + tc.nearest + "?"; !strings.Contains(err.Error(), want) {
				t.Errorf("%q, want %q", err, want)
			}
		})
	}
}

// TestKnownEnvironAccepted: every variable the project sets, for either
// program, passes, and so does what is not ours.
func TestKnownEnvironAccepted(t *testing.T) {
	env := []string{"PATH=/usr/bin", "HOME=/app", "HOSTNAME=server", "GOMEMLIMIT=1GiB", "SERVERS=3", "CLIENT=x",
		"SERVER_ADDRESS=server:12345", // validar-servidor.sh's
		"NOMBRE=Ana", "APELLIDO=Paz", "DOCUMENTO=1", "NACIMIENTO=2000-01-01", "NUMERO=7"}
	var s Server
	for _, k := range s.keys() {
		env = append(env, k.env+"=x")
	}
	var c Client
	for _, k := range c.keys() {
		env = append(env, k.env+"=x")
	}
	if err := CheckEnviron(env); err != nil {
		t.Errorf("CheckEnviron of the project's variables: %v", err)
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"SERVER_PROT", "SERVER_PORT", 2},
		{"adress", "address", 1},
		{"ñandú", "nandu", 2},
	} {
		if got := levenshtein(tc.a, tc.b); got != tc.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
