package config

import (
	"testing"
	"time"
)

func TestLoggingTimezone(t *testing.T) {
	at := time.Date(2026, 5, 1, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		value    string // LOGGING_TIMEZONE; "-" unset
		wantZone string // Zone().String()
		wantName string // ZoneName at at; "" not checked (the machine's)
	}{
		{"-", "Local", ""},
		{"", "Local", ""},
		{"local", "Local", ""},
		{"UTC", "UTC", "UTC (+00:00)"},
		{"America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires (-03:00)"},
		{"Europe/Madrid", "Europe/Madrid", "Europe/Madrid CEST (+02:00)"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := map[string]string{}
			if tt.value != "-" {
				env["LOGGING_TIMEZONE"] = tt.value
			}
			c, err := LoadServer(missingFile(t, "config.ini"), fakeEnv(env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Zone().String(); got != tt.wantZone {
				t.Errorf("Zone() = %s, want %s", got, tt.wantZone)
			}
			if got := ZoneName(c.Zone(), at); tt.wantName != "" && got != tt.wantName {
				t.Errorf("ZoneName = %q, want %q", got, tt.wantName)
			}
		})
	}
}
