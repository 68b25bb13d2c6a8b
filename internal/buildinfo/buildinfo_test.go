package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestLine(t *testing.T) {
	cases := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"clean checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "7c8dd27"}, {Key: "vcs.modified", Value: "false"}}},
			"server version (devel) revision 7c8dd27 go1.26.8"},
		{"modified checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "7c8dd27"}, {Key: "vcs.modified", Value: "true"}}},
			"server version v1.2.0 revision 7c8dd27 modified go1.26.8"},
		{"no vcs stamp", debug.BuildInfo{GoVersion: "go1.26.8"},
			"server version unknown revision unknown go1.26.8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := From(&tc.bi).Line("server"); got != tc.want {
				t.Errorf("Line = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRead checks that a test binary, which the go command builds with
// its build info, reads a Go version.
func TestRead(t *testing.T) {
	if got := Read(); got.GoVersion == "" || got.GoVersion == Unknown {
		t.Errorf("Read() = %+v, want the toolchain's version", got)
	}
}
