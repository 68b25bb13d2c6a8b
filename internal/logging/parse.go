package logging

import (
	"strings"
	"time"
)

// Line is one line of the operators' format, parsed by Parse:
//
//	2024-08-21 22:11:15-03:00 INFO     action: apuesta_recibida | result: success | cantidad: 120
type Line struct {
	// Time is zero when the line has no timestamp before its level. A
	// timestamp with no offset (the course's format, older releases) is
	// read in the local zone.
	Time   time.Time
	Level  string            // the word before "action: ", as written; "" when none
	Action string            // the record's message
	Result string            // "" when the part after the action is not a result
	Fields map[string]string // every other "key: value" part
}

// Parse parses a line in the operators' format. Anything before the
// timestamp (a container's name, say) is ignored, and so is a part that
// is not "key: value". ok is false when the line has no action: it is not
// in the format at all.
func Parse(s string) (l Line, ok bool) {
	const actionPrefix = "action: "
	i := strings.Index(s, actionPrefix)
	if i < 0 {
		return Line{}, false
	}
	if head := strings.Fields(s[:i]); len(head) > 0 {
		n := len(head)
		l.Level = head[n-1]
		if n >= 3 {
			l.Time = parseTime(head[n-3] + " " + head[n-2])
		}
	}
	parts := strings.Split(s[i+len(actionPrefix):], " | ")
	l.Action, parts = parts[0], parts[1:]
	if len(parts) > 0 {
		if result, ok := strings.CutPrefix(parts[0], ResultKey+": "); ok {
			l.Result, parts = result, parts[1:]
		}
	}
	l.Fields = make(map[string]string, len(parts))
	for _, part := range parts {
		if k, v, ok := strings.Cut(part, ": "); ok {
			l.Fields[k] = v
		}
	}
	return l, true
}

// parseTime reads a line's timestamp: TimeLayout, or the course's, with
// no offset, in the local zone; zero when it is neither.
func parseTime(s string) time.Time {
	if t, err := time.Parse(TimeLayout, s); err == nil {
		return t
	}
	t, _ := time.ParseInLocation(time.DateTime, s, time.Local)
	return t
}
