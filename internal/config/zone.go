package config

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones by name in a static binary on an image without a zone database
)

// zoneSetter reads LOGGING_TIMEZONE: an IANA name
// (America/Argentina/Buenos_Aires), UTC, or empty or Local for the
// machine's zone. The zone database is built in (time/tzdata), so a name
// means the same on a laptop and in a scratch container.
func zoneSetter(dst *string) setter {
	return func(raw string) error {
		name := strings.TrimSpace(raw)
		if _, err := loadZone(name); err != nil {
			return err
		}
		*dst = name
		return nil
	}
}

// loadZone returns the zone name names: the machine's for "" and Local.
func loadZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "local") {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("not a time zone: want an IANA name such as America/Argentina/Buenos_Aires, UTC, or Local")
	}
	return loc, nil
}

// Zone returns the zone of LOGGING_TIMEZONE: the log lines' and the
// admin endpoint's.
func (c Server) Zone() *time.Location { return mustZone(c.LogZone) }

// Zone returns the zone of log.timezone: the log lines'.
func (c Client) Zone() *time.Location { return mustZone(c.LogZone) }

// mustZone is loadZone of a name the setter took.
func mustZone(name string) *time.Location {
	loc, err := loadZone(name)
	if err != nil {
		return time.Local // a name set by hand, past the setter: the default
	}
	return loc
}

// ZoneName names loc as the logs and the admin page show it at t: its
// name, its abbreviation and its offset from UTC
// ("America/Argentina/Buenos_Aires (-03 -03:00)", "UTC (+00:00)"); the
// machine's zone is named by its abbreviation and offset only, as Go
// knows it as "Local".
func ZoneName(loc *time.Location, t time.Time) string {
	if loc == nil {
		loc = time.Local
	}
	at := t.In(loc)
	abbr, offset := at.Format("MST"), at.Format("-07:00")
	name := loc.String()
	switch {
	case name == "Local":
		return "local " + abbr + " (" + offset + ")"
	case name == abbr || strings.HasPrefix(abbr, "+") || strings.HasPrefix(abbr, "-") && abbr == at.Format("-07"):
		return name + " (" + offset + ")"
	}
	return name + " " + abbr + " (" + offset + ")"
}
