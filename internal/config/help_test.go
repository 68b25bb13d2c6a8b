package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSettingsDefaults checks each key's default as -h shows it against
// the loader's: set through the key's own setter, it leaves the defaults
// as they were. A default in parentheses is computed at start and only
// described.
func TestSettingsDefaults(t *testing.T) {
	server := DefaultServer()
	for _, k := range server.keys() {
		c := DefaultServer()
		if checkDefault(t, c.keys(), k.file) && c != server {
			t.Errorf("%s: -h says default %q, but the loader's default is otherwise (%+v, want %+v)", k.file, k.def, c, server)
		}
	}
	client := DefaultClient()
	for _, k := range client.keys() {
		c := DefaultClient()
		if checkDefault(t, c.keys(), k.file) && c != client {
			t.Errorf("%s: -h says default %q, but the loader's default is otherwise (%+v, want %+v)", k.file, k.def, c, client)
		}
	}
}

// checkDefault sets the key named file of keys to its default, and
// reports whether it did: not for a default in parentheses.
func checkDefault(t *testing.T, keys []key, file string) bool {
	t.Helper()
	i := slices.IndexFunc(keys, func(k key) bool { return k.file == file })
	k := keys[i]
	if k.meaning == "" {
		t.Errorf("%s: no meaning for -h", k.file)
	}
	if strings.HasPrefix(k.def, "(") {
		return false
	}
	if err := k.set(k.def); err != nil {
		t.Errorf("%s: -h's default %q does not parse: %v", k.file, k.def, err)
		return false
	}
	return true
}

// TestWriteSettingsListsEveryKey checks that the help lists every key
// the loaders know, with its variable, default and meaning.
func TestWriteSettingsListsEveryKey(t *testing.T) {
	var s Server
	var c Client
	cases := []struct {
		name     string
		settings []Setting
		keys     []key
	}{
		{"central", ServerSettings(), s.keys()},
		{"agency", ClientSettings(), c.keys()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteSettings(&b, tc.settings); err != nil {
				t.Fatal(err)
			}
			help := b.String()
			for _, k := range tc.keys {
				line := "  " + k.file
				if k.env != k.file {
					line += ", env " + k.env
				}
				def := k.def
				if def == "" {
					def = "(empty)"
				}
				line += "  default " + def + "\n      " + k.meaning + "\n"
				if !strings.Contains(help, line) {
					t.Errorf("the help lacks %q:\n%s", line, help)
				}
			}
		})
	}
}

// TestREADMEConfigurationTables checks that the README's tables of
// settings name exactly the keys the loaders know (and the agency's
// variables), so that neither the README nor the help drifts.
func TestREADMEConfigurationTables(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(raw), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	code := regexp.MustCompile("`([^`]+)`")
	documented := map[string]bool{}
	names := 1 // the cells that name keys: key, and variable where the header has it
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, " | ")
		if strings.HasPrefix(line, "| key |") {
			names = max(1, 1+slices.Index(cells, "variable"))
		}
		if !strings.HasPrefix(line, "| `") || len(cells) < names {
			continue
		}
		for _, cell := range cells[:names] {
			for _, m := range code.FindAllStringSubmatch(cell, -1) {
				documented[m[1]] = true
			}
		}
	}
	var s Server
	var c Client
	known := map[string]bool{"loop.amount": true, "loop.period": true} // legacy, documented as such
	for _, k := range append(s.keys(), c.keys()...) {
		known[k.file], known[k.env] = true, true
	}
	for name := range known {
		if !documented[name] {
			t.Errorf("README's Configuration tables lack %s, a key the loader reads", name)
		}
	}
	for name := range documented {
		if !known[name] {
			t.Errorf("README's Configuration tables list %s, which no loader reads", name)
		}
	}
}
