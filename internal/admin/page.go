package admin

import (
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"
)

// The page's text is Spanish, for the operators of Argentina's national
// lottery; /status's keys and values, the metrics and the log lines keep
// their names. These are the page's words for the values it shows.
var (
	drawStates = map[string]string{StateOpen: "abierto", StateClosed: "cerrado, en curso", StateDrawn: "realizado"}
	// agencyStates are AgencyStates' words.
	agencyStates = map[string]string{
		AgencyWaiting: "esperando", AgencyUploading: "subiendo", AgencyDone: "completa",
		AgencyRefused: "rechazada", AgencyAbsent: "ausente",
	}
)

// pageFuncs are the page template's functions.
var pageFuncs = template.FuncMap{
	"hora":    func(t time.Time) string { return t.Format("2006-01-02 15:04:05 -07:00") },
	"reloj":   func(t time.Time) string { return t.Format("15:04:05") },
	"sorteo":  func(s string) string { return word(drawStates, s) },
	"estado":  func(s string) string { return word(agencyStates, s) },
	"estados": func() []string { return AgencyStates },
	"cuenta":  countdown,
	"pct":     func(p *float64) string { return fmt.Sprintf("%.1f\u00a0%%", *p) },
	"motivos": reasons,
}

// word is words' word for s, or s where it has none.
func word(words map[string]string, s string) string {
	if w, ok := words[s]; ok {
		return w
	}
	return s
}

// countdown writes seconds as h:mm:ss.
func countdown(seconds int64) string {
	return fmt.Sprintf("%d:%02d:%02d", seconds/3600, seconds/60%60, seconds%60)
}

// reasons lists the refusals' reasons that counted any, in order, with
// their counts ("busy: 2, forbidden: 1"); "" where none did.
func reasons(counts map[string]uint64) string {
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(counts)) {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", r, counts[r]))
		}
	}
	return strings.Join(parts, ", ")
}
