package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the test's zones, on a machine without a zone database
)

// lines splits the output into lines, checking it ends in a newline and that
// every line has the operators' shape.
func lines(t *testing.T, out string) []string {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range ls {
		parseShaped(t, l)
	}
	return ls
}

// parseShaped parses line with Parse, checking that it has the whole shape
// operators' tools parse: a timestamp, a level padded to 8 columns, the
// action, the result, then only "key: value" parts.
func parseShaped(t *testing.T, line string) Line {
	t.Helper()
	l, ok := Parse(line)
	if !ok || l.Time.IsZero() || l.Result == "" {
		t.Errorf("line has no timestamp, action or result: %q", line)
		return l
	}
	if level, err := ParseLevel(l.Level); err != nil || LevelName(level) != l.Level {
		t.Errorf("line has level %q, want DEBUG, INFO, WARNING or ERROR: %q", l.Level, line)
	}
	head := fmt.Sprintf("%s %-8s action: ", l.Time.Format(TimeLayout), l.Level)
	// Parse skips a part that is not "key: value": count the parts back.
	if !strings.HasPrefix(line, head) || strings.Count(line, " | ") != 1+len(l.Fields) || strings.ContainsRune(line, '\r') {
		t.Errorf("line does not have the operators' shape: %q", line)
	}
	return l
}

// logOne logs one record through a new logger at DEBUG and returns its line
// without the timestamp.
func logOne(t *testing.T, do func(*slog.Logger)) string {
	t.Helper()
	var buf bytes.Buffer
	do(New(&buf, slog.LevelDebug))
	ls := lines(t, buf.String())
	if len(ls) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(ls), buf.String())
	}
	stamp := parseShaped(t, ls[0]).Time.Format(TimeLayout)
	return strings.TrimPrefix(ls[0], stamp+" ")
}

func TestLineFormat(t *testing.T) {
	tests := []struct {
		name string
		do   func(*slog.Logger)
		want string // the line after "YYYY-MM-DD HH:MM:SS "
	}{
		{
			name: "classic line",
			do:   func(l *slog.Logger) { l.Info("apuesta_recibida", Success, "cantidad", 120) },
			want: "INFO     action: apuesta_recibida | result: success | cantidad: 120",
		},
		{
			name: "debug padded to 8",
			do:   func(l *slog.Logger) { l.Debug("x", Success) },
			want: "DEBUG    action: x | result: success",
		},
		{
			name: "warning padded to 8",
			do:   func(l *slog.Logger) { l.Warn("x", Fail) },
			want: "WARNING  action: x | result: fail",
		},
		{
			name: "error padded to 8",
			do:   func(l *slog.Logger) { l.Error("x", Fail, "error", errors.New("boom")) },
			want: "ERROR    action: x | result: fail | error: boom",
		},
		{
			name: "result attr moved first from the end",
			do:   func(l *slog.Logger) { l.Info("x", "a", 1, "b", "two", InProgress) },
			want: "INFO     action: x | result: in_progress | a: 1 | b: two",
		},
		{
			name: "result attr moved first from the middle",
			do:   func(l *slog.Logger) { l.Info("x", "a", 1, "result", "fail", "b", 2) },
			want: "INFO     action: x | result: fail | a: 1 | b: 2",
		},
		{
			name: "result given at ERROR kept",
			do:   func(l *slog.Logger) { l.Error("x", "a", 1, Success) },
			want: "ERROR    action: x | result: success | a: 1",
		},
		{
			name: "missing result is success",
			do:   func(l *slog.Logger) { l.Info("x", "a", 1) },
			want: "INFO     action: x | result: success | a: 1",
		},
		{
			name: "missing result is success at DEBUG",
			do:   func(l *slog.Logger) { l.Debug("x") },
			want: "DEBUG    action: x | result: success",
		},
		{
			name: "missing result is success at WARNING",
			do:   func(l *slog.Logger) { l.Warn("x") },
			want: "WARNING  action: x | result: success",
		},
		{
			name: "missing result is fail at ERROR",
			do:   func(l *slog.Logger) { l.Error("x", "error", "boom") },
			want: "ERROR    action: x | result: fail | error: boom",
		},
		{
			name: "missing result is fail above ERROR",
			do: func(l *slog.Logger) {
				l.Log(t.Context(), slog.LevelError+4, "x")
			},
			want: "ERROR    action: x | result: fail",
		},
		{
			name: "attributes keep their order",
			do:   func(l *slog.Logger) { l.Info("x", "c", 3, "a", 1, "b", 2) },
			want: "INFO     action: x | result: success | c: 3 | a: 1 | b: 2",
		},
		{
			name: "pipe in value replaced",
			do:   func(l *slog.Logger) { l.Info("x", "nombre", "Juan|Pérez") },
			want: "INFO     action: x | result: success | nombre: Juan/Pérez",
		},
		{
			name: "newlines in value replaced",
			do:   func(l *slog.Logger) { l.Info("x", "error", "line one\nline two\r\nthree") },
			want: "INFO     action: x | result: success | error: line one line two  three",
		},
		{
			name: "pipe and newline in key replaced",
			do:   func(l *slog.Logger) { l.Info("x", "a|b\nc", 1) },
			want: "INFO     action: x | result: success | a/b c: 1",
		},
		{
			name: "pipe and newline in action replaced",
			do:   func(l *slog.Logger) { l.Info("a|b\nc") },
			want: "INFO     action: a/b c | result: success",
		},
		{
			name: "pipe and newline in result replaced",
			do:   func(l *slog.Logger) { l.Info("x", "result", "so|so\nyes") },
			want: "INFO     action: x | result: so/so yes",
		},
		{
			name: "error value with newlines",
			do:   func(l *slog.Logger) { l.Error("x", "error", fmt.Errorf("a\nb|c")) },
			want: "ERROR    action: x | result: fail | error: a b/c",
		},
		{
			name: "attribute kinds",
			do: func(l *slog.Logger) {
				l.Info("x", "i", -3, "u", uint64(7), "f", 1.5, "b", true, "d", 2*time.Second)
			},
			want: "INFO     action: x | result: success | i: -3 | u: 7 | f: 1.5 | b: true | d: 2s",
		},
		{
			name: "group attributes are flattened",
			do:   func(l *slog.Logger) { l.Info("x", slog.Group("g", "a", 1, "b", 2)) },
			want: "INFO     action: x | result: success | g.a: 1 | g.b: 2",
		},
		{
			name: "empty attribute dropped",
			do:   func(l *slog.Logger) { l.Info("x", slog.Attr{}, "a", 1) },
			want: "INFO     action: x | result: success | a: 1",
		},
		{
			name: "WithAttrs attributes present after the result",
			do:   func(l *slog.Logger) { l.With("agencia", 3).Info("x", "n", 1) },
			want: "INFO     action: x | result: success | agencia: 3 | n: 1",
		},
		{
			name: "WithAttrs attributes, result from the record",
			do:   func(l *slog.Logger) { l.With("agencia", 3, "conn", "a|b").Warn("x", "n", 1, Fail) },
			want: "WARNING  action: x | result: fail | agencia: 3 | conn: a/b | n: 1",
		},
		{
			name: "nested WithAttrs accumulate",
			do:   func(l *slog.Logger) { l.With("a", 1).With("b", 2).Info("x", "c", 3) },
			want: "INFO     action: x | result: success | a: 1 | b: 2 | c: 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logOne(t, tt.do); got != tt.want {
				t.Errorf("line =\n %q, want\n %q", got, tt.want)
			}
		})
	}
}

func TestWithAttrsDoesNotChangeParent(t *testing.T) {
	var buf bytes.Buffer
	parent := New(&buf, slog.LevelInfo)
	child := parent.With("agencia", 1)
	parent.Info("p")
	child.Info("c")
	ls := lines(t, buf.String())
	if len(ls) != 2 {
		t.Fatalf("got %d lines, want 2", len(ls))
	}
	if strings.Contains(ls[0], "agencia") {
		t.Errorf("parent line has the child's attribute: %q", ls[0])
	}
	if !strings.HasSuffix(ls[1], "action: c | result: success | agencia: 1") {
		t.Errorf("child line = %q", ls[1])
	}
}

func TestTimestamp(t *testing.T) {
	buenosAires, err := time.LoadLocation("America/Argentina/Buenos_Aires")
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 8, 22, 1, 11, 15, 999, time.UTC) // 22:11:15 the evening before in Buenos Aires
	tests := []struct {
		name string
		loc  *time.Location
		want string
	}{
		{"UTC", time.UTC, "2024-08-22 01:11:15+00:00"},
		{"Buenos Aires", buenosAires, "2024-08-21 22:11:15-03:00"},
		{"a fixed zone", time.FixedZone("X", 5*3600+30*60), "2024-08-22 06:41:15+05:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := NewIn(&buf, slog.LevelInfo, tt.loc).Handler()
			r := slog.NewRecord(when, slog.LevelInfo, "apuesta_recibida", 0)
			r.AddAttrs(Success, slog.Int("cantidad", 120))
			if err := h.Handle(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			want := tt.want + " INFO     action: apuesta_recibida | result: success | cantidad: 120\n"
			if buf.String() != want {
				t.Errorf("line = %q, want %q", buf.String(), want)
			}
			if got := parseShaped(t, strings.TrimSuffix(buf.String(), "\n")).Time; !got.Equal(when.Truncate(time.Second)) {
				t.Errorf("the line's time parses as %v, want %v", got, when.Truncate(time.Second))
			}
		})
	}
}

func TestZeroTimeStampedNow(t *testing.T) {
	var buf bytes.Buffer
	h := New(&buf, slog.LevelInfo).Handler()
	before := time.Now().Truncate(time.Second)
	if err := h.Handle(t.Context(), slog.NewRecord(time.Time{}, slog.LevelInfo, "x", 0)); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	ls := lines(t, buf.String())
	stamp := parseShaped(t, ls[0]).Time
	if stamp.Before(before) || stamp.After(after) {
		t.Errorf("zero-time record stamped %v, want between %v and %v", stamp, before, after)
	}
}

func TestLevelFiltering(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  []string // levels written, in order
	}{
		{slog.LevelDebug, []string{"DEBUG", "INFO", "WARNING", "ERROR"}},
		{slog.LevelInfo, []string{"INFO", "WARNING", "ERROR"}},
		{slog.LevelWarn, []string{"WARNING", "ERROR"}},
		{slog.LevelError, []string{"ERROR"}},
		{slog.LevelError + 1, nil},
	}
	for _, tt := range tests {
		t.Run(LevelName(tt.level), func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, tt.level)
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			l.Error("e")
			var got []string
			for _, line := range lines(t, buf.String()) {
				got = append(got, parseShaped(t, line).Level)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("levels written = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLevelFilteringFollowsLevelVar(t *testing.T) {
	var buf bytes.Buffer
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	l := New(&buf, &lv)
	l.Info("hidden")
	lv.Set(slog.LevelDebug)
	l.Debug("shown")
	ls := lines(t, buf.String())
	if len(ls) != 1 || !strings.Contains(ls[0], "action: shown") {
		t.Errorf("lines = %q, want only the DEBUG one", ls)
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
	}{
		{"DEBUG", slog.LevelDebug},
		{"debug", slog.LevelDebug},
		{"INFO", slog.LevelInfo},
		{"info", slog.LevelInfo},
		{"Info", slog.LevelInfo},
		{"WARNING", slog.LevelWarn},
		{"warning", slog.LevelWarn},
		{"WARN", slog.LevelWarn},
		{"warn", slog.LevelWarn},
		{"ERROR", slog.LevelError},
		{"error", slog.LevelError},
		{" INFO ", slog.LevelInfo},
		{"\tdebug\n", slog.LevelDebug},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if err != nil {
				t.Fatalf("ParseLevel(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseLevelBad(t *testing.T) {
	for _, in := range []string{"", "LOUD", "CRITICAL", "TRACE", "0", "INFO2", "WARNINGS", "in fo", "LOUD\nER"} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseLevel(in)
			if err == nil {
				t.Fatalf("ParseLevel(%q): got no error", in)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestLevelNameRoundTrip(t *testing.T) {
	for _, name := range []string{"DEBUG", "INFO", "WARNING", "ERROR"} {
		for _, in := range []string{name, strings.ToLower(name)} {
			lvl, err := ParseLevel(in)
			if err != nil {
				t.Fatalf("ParseLevel(%q): %v", in, err)
			}
			if got := LevelName(lvl); got != name {
				t.Errorf("LevelName(ParseLevel(%q)) = %q, want %q", in, got, name)
			}
		}
	}
	for _, in := range []string{"warn", "WARN", "Warn"} {
		lvl, err := ParseLevel(in)
		if err != nil {
			t.Fatalf("ParseLevel(%q): %v", in, err)
		}
		if got := LevelName(lvl); got != "WARNING" {
			t.Errorf("LevelName(ParseLevel(%q)) = %q, want WARNING", in, got)
		}
	}
	if LevelWarning != slog.LevelWarn {
		t.Errorf("LevelWarning = %v, want %v", LevelWarning, slog.LevelWarn)
	}
}

func TestLevelNameBetweenLevels(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "DEBUG"},
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelInfo - 1, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelInfo + 2, "INFO"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelWarn + 2, "WARNING"},
		{slog.LevelError, "ERROR"},
		{slog.LevelError + 8, "ERROR"},
	}
	for _, tt := range tests {
		if got := LevelName(tt.level); got != tt.want {
			t.Errorf("LevelName(%v) = %q, want %q", tt.level, got, tt.want)
		}
	}
}

// TestConcurrentLinesWhole logs from many goroutines, through the logger
// and loggers derived with With, into one unsynchronised writer: every line
// must come out whole. Run with -race.
func TestConcurrentLinesWhole(t *testing.T) {
	const goroutines, perGoroutine = 16, 100
	var buf bytes.Buffer // not safe for concurrent use: the handler must serialise
	root := New(&buf, slog.LevelDebug)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := root
			if g%2 == 1 {
				l = root.With("gor", g)
			}
			long := strings.Repeat("x", 100+g*37)
			for i := range perGoroutine {
				l.Info("concurrente", "g", g, "i", i, "relleno", long)
			}
		})
	}
	wg.Wait()

	ls := lines(t, buf.String())
	if len(ls) != goroutines*perGoroutine {
		t.Fatalf("got %d lines, want %d", len(ls), goroutines*perGoroutine)
	}
	seen := make(map[[2]int]bool)
	next := make([]int, goroutines)
	for _, line := range ls {
		var g, i int
		_, rest, ok := strings.Cut(line, "action: concurrente | result: success")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		if strings.HasPrefix(rest, " | gor: ") {
			_, rest, _ = strings.Cut(rest[len(" | gor: "):], " ")
			rest = " " + rest
		}
		if _, err := fmt.Sscanf(rest, " | g: %d | i: %d", &g, &i); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		want := " | relleno: " + strings.Repeat("x", 100+g*37)
		if !strings.HasSuffix(line, want) {
			t.Fatalf("line of goroutine %d is torn: %q", g, line)
		}
		if seen[[2]int{g, i}] {
			t.Fatalf("line g=%d i=%d written twice", g, i)
		}
		seen[[2]int{g, i}] = true
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d came before line %d", g, i, next[g])
		}
		next[g]++
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestHandleReportsWriteError(t *testing.T) {
	h := New(failWriter{}, slog.LevelInfo).Handler()
	err := h.Handle(t.Context(), slog.NewRecord(time.Now(), slog.LevelInfo, "x", 0))
	if err == nil {
		t.Fatal("Handle on a failing writer: got no error")
	}
}

func TestOneWritePerLine(t *testing.T) {
	var w countingWriter
	l := New(&w, slog.LevelInfo)
	l.Info("a", "k", strings.Repeat("v", 5000))
	l.Warn("b")
	if w.writes != 2 {
		t.Errorf("got %d writes for 2 lines, want 2", w.writes)
	}
	for _, wr := range w.each {
		if !strings.HasSuffix(wr, "\n") || strings.Count(wr, "\n") != 1 {
			t.Errorf("write is not exactly one line: %q", wr)
		}
	}
}

type countingWriter struct {
	writes int
	each   []string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.each = append(w.each, string(p))
	return len(p), nil
}

func TestFailures(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelWarn)
	child := log.With("agencia", 1)
	log.Error("a", Fail)              // counted
	child.Error("b")                  // an error with no result is a fail line
	child.Warn("c", Fail)             // counted: the child shares the output
	log.Info("d", Fail)               // below the level: not written, not counted
	log.Warn("e", InProgress)         // not a failure
	log.With(Fail).Warn("f")          // a result given by With
	log.With(Fail).Warn("g", Success) // the record's own result wins
	if got, ok := Failures(log); !ok || got != 4 {
		t.Errorf("Failures = %d, %v; want 4, true:\n%s", got, ok, buf.String())
	}
	if _, ok := Failures(slog.New(slog.DiscardHandler)); ok {
		t.Error("Failures of another handler's logger says it can tell")
	}
}

// TestHandleAllocatesNothing checks that a line of the central's hot path
// (apuesta_recibida: a result, two integers, one per batch) is formatted
// without an allocation of its own, and still reads as the format says.
func TestHandleAllocatesNothing(t *testing.T) {
	var w countingWriter
	h := NewIn(io.Discard, slog.LevelInfo, time.UTC).Handler().(*Handler)
	r := slog.NewRecord(time.Date(2024, 8, 21, 22, 11, 15, 0, time.UTC), slog.LevelInfo, "apuesta_recibida", 0)
	r.AddAttrs(Success, slog.Int("cantidad", 1200), slog.Int("agencia", 3))
	if allocs := testing.AllocsPerRun(100, func() { _ = h.Handle(t.Context(), r) }); allocs != 0 {
		t.Errorf("Handle: %v allocations a line, want 0", allocs)
	}
	h.out.w = &w
	if err := h.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	want := "2024-08-21 22:11:15+00:00 INFO     action: apuesta_recibida | result: success | cantidad: 1200 | agencia: 3\n"
	if len(w.each) != 1 || w.each[0] != want {
		t.Errorf("line %q, want %q", w.each, want)
	}
}
