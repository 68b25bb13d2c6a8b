package harness

import (
	"strings"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// Line is one log line that has an action, parsed by logging.Parse.
type Line struct {
	logging.Line
	Pos int    // the line's index in the whole output, 0-based
	Raw string // the line as logged
}

func (l Line) String() string { return l.Raw }

// ParseLog returns the lines of out that have an action, in order.
func ParseLog(out string) []Line {
	var lines []Line
	for i, raw := range strings.Split(out, "\n") {
		if l, ok := logging.Parse(strings.TrimSuffix(raw, "\r")); ok {
			lines = append(lines, Line{Line: l, Pos: i, Raw: raw})
		}
	}
	return lines
}

// Filter returns the lines of action with result; an empty action or
// result matches any.
func Filter(lines []Line, action, result string) []Line {
	var out []Line
	for _, l := range lines {
		if (action == "" || l.Action == action) && (result == "" || l.Result == result) {
			out = append(out, l)
		}
	}
	return out
}

// With returns the lines whose field key is value.
func With(lines []Line, key, value string) []Line {
	var out []Line
	for _, l := range lines {
		if l.Fields[key] == value {
			out = append(out, l)
		}
	}
	return out
}
