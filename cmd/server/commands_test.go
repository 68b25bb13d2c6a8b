package main

import (
	"slices"
	"strings"
	"testing"
)

// TestTakeConfig checks that -config is taken out of certs' arguments in
// each of its spellings, and the rest left in order.
func TestTakeConfig(t *testing.T) {
	cases := []struct {
		args, rest []string
		path       string
		ok         bool
	}{
		{[]string{"-dir", "d", "-config", "c.ini", "-force"}, []string{"-dir", "d", "-force"}, "c.ini", true},
		{[]string{"--config=c.ini", "-agencies", "3"}, []string{"-agencies", "3"}, "c.ini", true},
		{[]string{"-dir", "d"}, []string{"-dir", "d"}, "", true},
		{[]string{"--", "-config", "x"}, []string{"--", "-config", "x"}, "", true},
		{[]string{"-config"}, nil, "", false},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			path, rest, ok := takeConfig(tc.args)
			if path != tc.path || ok != tc.ok || !slices.Equal(rest, tc.rest) {
				t.Errorf("takeConfig = %q, %q, %v; want %q, %q, %v", path, rest, ok, tc.path, tc.rest, tc.ok)
			}
		})
	}
}

// TestIsHelp checks that help is asked for in any spelling, but not
// after "--" (an argument then, not a flag).
func TestIsHelp(t *testing.T) {
	for args, want := range map[string]bool{
		"-h": true, "-dir d --help": true, "-help": true, "-dir d": false, "-- -h": false,
	} {
		if got := isHelp(strings.Fields(args)); got != want {
			t.Errorf("isHelp(%q) = %v, want %v", args, got, want)
		}
	}
}
