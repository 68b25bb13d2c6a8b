package config

import (
	"fmt"
	"io"
	"strings"
)

// Setting is one configuration key as -h lists it: its name in the
// configuration file, its environment variable (the same name for the
// central), its default and what it means.
type Setting struct {
	Key, Env, Default, Meaning string
}

// ServerSettings lists the central's keys, from the table its loader
// applies, in that order.
func ServerSettings() []Setting {
	var c Server
	return settings(c.keys())
}

// ClientSettings lists an agency's keys, from the table its loader
// applies, in that order.
func ClientSettings() []Setting {
	var c Client
	return settings(c.keys())
}

func settings(keys []key) []Setting {
	out := make([]Setting, len(keys))
	for i, k := range keys {
		out[i] = Setting{Key: k.file, Env: k.env, Default: k.def, Meaning: k.meaning}
	}
	return out
}

// WriteSettings writes settings for -h: one line per key with its
// environment variable (where it differs from the key) and its default,
// then what it means, indented.
func WriteSettings(w io.Writer, settings []Setting) error {
	var b strings.Builder
	for _, s := range settings {
		b.WriteString("  " + s.Key)
		if s.Env != s.Key {
			b.WriteString(", env " + s.Env)
		}
		def := s.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "  default %s\n      %s\n", def, s.Meaning)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
