// Package buildinfo says which build a binary is: its module version and
// the revision it was built from, as the go command stamped them
// (runtime/debug.ReadBuildInfo), so that -version needs no flag at build
// time and cannot disagree with the source it names.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Unknown stands for what the build did not record: a binary built
// outside a git checkout, or with -buildvcs=false, has no revision.
const Unknown = "unknown"

// Info is what a build recorded about itself.
type Info struct {
	Version   string // the main module's version: (devel) for a build of a checkout
	Revision  string // vcs.revision, the commit; Unknown when not stamped
	Modified  bool   // vcs.modified: the checkout had uncommitted changes
	GoVersion string // the Go toolchain that built it
}

// Read returns this binary's Info.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: Unknown, Revision: Unknown, GoVersion: Unknown}
	}
	return From(bi)
}

// From returns the Info that bi records.
func From(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, Revision: Unknown, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = Unknown
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Line is the one line of program's -version:
// "server version (devel) revision 7c8dd27… modified go1.26.8", without
// "modified" for a clean checkout.
func (i Info) Line(program string) string {
	fields := []string{program, "version", i.Version, "revision", i.Revision}
	if i.Modified {
		fields = append(fields, "modified")
	}
	return strings.Join(append(fields, i.GoVersion), " ")
}
