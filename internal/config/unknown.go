package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// setting is a key as a file or the environment sets it, with its raw
// value, for the check of unknown keys.
type setting struct{ name, value string }

// unknownKey returns a *KeyError for the first of set whose name is not
// in known, naming the known key nearest to it: a misspelt key
// (SERVER_PROT, server: adress:) would otherwise leave its default in
// place, silently.
func unknownKey(set []setting, known []string) error {
	return unknownKeyOf(set, known, known)
}

// unknownKeyOf is unknownKey where the names accepted are more than
// those worth suggesting (a section such as server is accepted, never
// suggested).
func unknownKeyOf(set []setting, accepted, suggest []string) error {
	for _, s := range set {
		if !contains(accepted, s.name) {
			return &KeyError{Key: s.name, Value: s.value,
				Err: fmt.Errorf("unknown key: did you mean %s?", nearest(s.name, suggest))}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// nearest returns the name of known nearest to name by edit distance,
// letter case ignored; the first of those as near.
func nearest(name string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		if d := levenshtein(strings.ToLower(name), strings.ToLower(k)); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b: the fewest
// insertions, deletions and substitutions of runes that turn one into
// the other.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// envPrefixes are the prefixes of the project's environment variables.
// A container's environment carries others (PATH, HOSTNAME), which are
// not ours to judge.
var envPrefixes = []string{"SERVER_", "CLI_"}

// envNames are the variables of ours that are not keys of either
// program: validar-servidor.sh reads SERVER_ADDRESS on the host and
// passes it to the probe as CLI_SERVER_ADDRESS; SERVER_CPU_PROFILE and
// CLI_CPU_PROFILE ask a binary for a CPU profile (cli.CPUProfile).
var envNames = []string{"SERVER_ADDRESS", "SERVER_CPU_PROFILE", "CLI_CPU_PROFILE"}

// CheckEnviron refuses a variable of environ (as os.Environ gives it)
// whose name starts with SERVER_ or CLI_ but that is no key of the central
// or of an agency, naming the nearest key. Both programs check both
// prefixes: one shell or one file of variables may serve both, and a
// misspelt variable would be silently ignored by each.
func CheckEnviron(environ []string) error {
	known := append([]string(nil), envNames...)
	var s Server
	for _, k := range s.keys() {
		known = append(known, k.env)
	}
	var c Client
	for _, k := range c.keys() {
		known = append(known, k.env)
	}
	var set []setting
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		for _, p := range envPrefixes {
			if strings.HasPrefix(name, p) {
				set = append(set, setting{name, value})
			}
		}
	}
	return unknownKey(set, known)
}

// yamlSettings lists the keys that doc sets, as dotted paths to each
// value that is not a section (a mapping). A path that is a section of
// known (server, where server.address is known) is accepted by
// checkFile, so that yamlScalar tells it is not a section.
func yamlSettings(doc *yaml.Node) []setting {
	node := doc
	if node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	var out []setting
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for j := 0; j+1 < len(n.Content); j += 2 {
			name, val := prefix+n.Content[j].Value, n.Content[j+1]
			if val.Kind == yaml.MappingNode {
				walk(val, name+".")
				continue
			}
			out = append(out, setting{name, oneLine(val.Value)})
		}
	}
	if node.Kind == yaml.MappingNode {
		walk(node, "")
	}
	return out
}

// checkFile refuses the first key of a configuration file that is none
// of keys and in none of the legacy sections (whose keys, of any shape,
// are accepted and ignored). A section above a dotted key (server of
// server.address) set to a value is left to the lookup, which says it
// wants a section.
func checkFile(set []setting, keys []key, legacy []string) error {
	var names []string
	for _, k := range keys {
		names = append(names, k.file)
	}
	accepted := append([]string(nil), names...)
	for _, n := range names {
		for i := range len(n) {
			if n[i] == '.' {
				accepted = append(accepted, n[:i])
			}
		}
	}
	var rest []setting
	for _, s := range set {
		if !inSection(s.name, legacy) {
			rest = append(rest, s)
		}
	}
	return unknownKeyOf(rest, accepted, names)
}

// inSection reports whether name is one of sections or a key under one.
func inSection(name string, sections []string) bool {
	for _, sec := range sections {
		if name == sec || strings.HasPrefix(name, sec+".") {
			return true
		}
	}
	return false
}
