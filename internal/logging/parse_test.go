package logging

import (
	"maps"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	stamp := time.Date(2024, 8, 21, 22, 11, 15, 0, time.Local)
	tests := []struct {
		name string
		in   string
		ok   bool
		want Line
	}{
		{
			name: "a central's line",
			in:   "2024-08-21 22:11:15 INFO     action: apuesta_recibida | result: success | cantidad: 120",
			ok:   true,
			want: Line{Time: stamp, Level: "INFO", Action: "apuesta_recibida", Result: "success", Fields: map[string]string{"cantidad": "120"}},
		},
		{
			name: "behind a container's name",
			in:   "server  | 2024-08-21 22:11:15 WARNING  action: reconectar | result: in_progress | intento: 2 | error: dial tcp: refused",
			ok:   true,
			want: Line{Time: stamp, Level: "WARNING", Action: "reconectar", Result: "in_progress", Fields: map[string]string{"intento": "2", "error": "dial tcp: refused"}},
		},
		{
			name: "with its offset",
			in:   "2024-08-21 22:11:15-03:00 INFO     action: x | result: success",
			ok:   true,
			want: Line{Time: time.Date(2024, 8, 22, 1, 11, 15, 0, time.UTC), Level: "INFO", Action: "x", Result: "success", Fields: map[string]string{}},
		},
		{
			name: "in UTC",
			in:   "2024-08-22 01:11:15+00:00 ERROR    action: x | result: fail",
			ok:   true,
			want: Line{Time: time.Date(2024, 8, 22, 1, 11, 15, 0, time.UTC), Level: "ERROR", Action: "x", Result: "fail", Fields: map[string]string{}},
		},
		{
			name: "no timestamp nor level",
			in:   "action: test_server | result: fail",
			ok:   true,
			want: Line{Action: "test_server", Result: "fail", Fields: map[string]string{}},
		},
		{
			name: "no result",
			in:   "INFO action: x | a: 1",
			ok:   true,
			want: Line{Level: "INFO", Action: "x", Fields: map[string]string{"a": "1"}},
		},
		{
			name: "a part that is not key: value",
			in:   "action: x | result: success | junk | b: 2",
			ok:   true,
			want: Line{Action: "x", Result: "success", Fields: map[string]string{"b": "2"}},
		},
		{name: "no action", in: "2024-08-21 22:11:15 INFO     listening", ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(tt.in)
			if ok != tt.ok {
				t.Fatalf("Parse(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if !got.Time.Equal(tt.want.Time) || got.Level != tt.want.Level || got.Action != tt.want.Action ||
				got.Result != tt.want.Result || !maps.Equal(got.Fields, tt.want.Fields) {
				t.Errorf("Parse(%q) =\n %+v, want\n %+v", tt.in, got, tt.want)
			}
		})
	}
}
