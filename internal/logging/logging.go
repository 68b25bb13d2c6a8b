// Package logging writes the log lines that operators' tools parse:
//
//	2024-08-21 22:11:15-03:00 INFO     action: apuesta_recibida | result: success | cantidad: 120
//
// The timestamp carries its offset from UTC (TimeLayout), in the zone
// the logger was made for (LOGGING_TIMEZONE; by default the machine's),
// so that a line read elsewhere, or beside the admin page, names one
// instant. A record's message is its action; its "result" attribute (success, fail
// or in_progress) comes next, then the other attributes in order. No value
// ever holds a "|" or a line break, so every line splits cleanly. Each line
// reaches the output in one write as it happens, so a container's log shows
// it at once and nothing waits in a buffer when the process stops.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Results of an action, as attributes to pass to a logger.
var (
	Success    = slog.String(ResultKey, ResultSuccess)
	Fail       = slog.String(ResultKey, ResultFail)
	InProgress = slog.String(ResultKey, ResultInProgress)
)

// Results of an action, as a line spells them (Line.Result).
const (
	ResultSuccess    = "success"
	ResultFail       = "fail"
	ResultInProgress = "in_progress"
)

// ResultKey is the key of a record's result attribute.
const ResultKey = "result"

// LevelWarning is WARNING, as Python spells it; slog calls it WARN.
const LevelWarning = slog.LevelWarn

// ParseLevel parses DEBUG, INFO, WARNING (or WARN) and ERROR, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q: want DEBUG, INFO, WARNING or ERROR", s)
}

// LevelName returns the name of level as ParseLevel reads it.
func LevelName(level slog.Level) string {
	switch {
	case level < slog.LevelInfo:
		return "DEBUG"
	case level < slog.LevelWarn:
		return "INFO"
	case level < slog.LevelError:
		return "WARNING"
	}
	return "ERROR"
}

// TimeLayout is a line's timestamp: the date, the time and the offset
// from UTC (+00:00 in UTC), one field, so that a line splits into the
// same fields as the course's format, which had no offset.
const TimeLayout = "2006-01-02 15:04:05-07:00"

// New returns a logger that writes lines of at least level to w, stamped
// in the machine's local zone.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return NewIn(w, level, time.Local)
}

// NewIn returns a logger that writes lines of at least level to w,
// stamped in loc (LOGGING_TIMEZONE).
func NewIn(w io.Writer, level slog.Leveler, loc *time.Location) *slog.Logger {
	if loc == nil {
		loc = time.Local
	}
	return slog.New(&Handler{out: &output{w: w, loc: loc}, level: level})
}

// Handler is a slog.Handler that writes the operators' line format.
type Handler struct {
	out    *output
	level  slog.Leveler
	prefix string // attributes added by WithAttrs, already formatted
	result string // a result added by WithAttrs; a record's own wins
}

type output struct {
	mu    sync.Mutex
	w     io.Writer
	loc   *time.Location
	fails atomic.Uint64 // lines written with result fail
}

// Failures returns how many lines with result fail the loggers sharing
// h's output have written: what the admin page shows as failures, each
// one a line an operator should read.
func (h *Handler) Failures() uint64 { return h.out.fails.Load() }

// Failures returns how many fail lines log has written, and whether it
// can tell: false where log is not this package's.
func Failures(log *slog.Logger) (uint64, bool) {
	h, ok := log.Handler().(*Handler)
	if !ok {
		return 0, false
	}
	return h.Failures(), true
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle implements slog.Handler. It formats the line into a buffer it
// reuses (linePool) and writes it in one write, so that a line costs no
// allocation of its own: the central logs one per batch.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := linePool.Get().(*[]byte)
	defer linePool.Put(bp)
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b := t.In(h.out.loc).AppendFormat((*bp)[:0], TimeLayout)
	b = append(b, ' ')
	name := LevelName(r.Level)
	b = append(b, name...)
	b = append(b, padding[:max(1, 9-len(name))]...) // as "%-8s "
	b = appendClean(append(b, "action: "...), r.Message)
	result, own, i := "", -1, 0 // the record's own result is its attribute own
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == ResultKey && result == "" {
			result, own = a.Value.String(), i
		}
		i++
		return true
	})
	if result == "" {
		result = h.result
	}
	if result == "" {
		result = ResultSuccess
		if r.Level >= slog.LevelError {
			result = ResultFail
		}
	}
	if result == ResultFail {
		h.out.fails.Add(1)
	}
	b = appendClean(append(b, " | result: "...), result)
	b = append(b, h.prefix...)
	i = 0
	r.Attrs(func(a slog.Attr) bool {
		if i != own {
			b = appendAttr(b, "", a)
		}
		i++
		return true
	})
	b = append(b, '\n')
	*bp = b
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(b)
	return err
}

// padding pads a level's name to 8 bytes, and one more.
const padding = "         "

// linePool holds the buffers lines are formatted in.
var linePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 256)
	return &b
}}

func appendAttr(b []byte, group string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			b = appendAttr(b, key, ga)
		}
		return b
	}
	b = appendClean(append(b, " | "...), key)
	b = append(b, ": "...)
	switch a.Value.Kind() {
	case slog.KindInt64:
		return strconv.AppendInt(b, a.Value.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, a.Value.Uint64(), 10)
	case slog.KindString:
		return appendClean(b, a.Value.String())
	}
	return appendClean(b, a.Value.String())
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	var b []byte
	for _, a := range attrs {
		if a.Key == ResultKey {
			h2.result = a.Value.String()
			continue
		}
		b = appendAttr(b, "", a)
	}
	h2.prefix += string(b)
	return &h2
}

// WithGroup implements slog.Handler. Lines are flat, so a group is
// ignored: its attributes appear under their own keys.
func (h *Handler) WithGroup(name string) slog.Handler {
	return h
}

var cleaner = strings.NewReplacer("|", "/", "\n", " ", "\r", " ")

// appendClean appends s to b made safe inside a line: no separator, no
// line break.
func appendClean(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "|\n\r") {
		return append(b, s...)
	}
	return append(b, cleaner.Replace(s)...)
}
