// Package config loads the configuration of the central (config.ini) and of
// an agency (config.yaml), always in one order: defaults, then the file,
// then the environment, then Validate, whose errors name the key. A value
// that does not parse stops the program at start-up, never mid-run.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// LookupEnv looks up an environment variable; os.LookupEnv in production.
type LookupEnv func(key string) (string, bool)

// KeyError is a bad value for a configuration key.
type KeyError struct {
	Key   string
	Value string
	Err   error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("config %s=%q: %v", e.Key, e.Value, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// setter parses one raw value into its destination.
type setter func(raw string) error

func intSetter(dst *int) setter {
	return func(raw string) error {
		v, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*dst = v
		return nil
	}
}

func stringSetter(dst *string) setter {
	return func(raw string) error {
		*dst = strings.TrimSpace(raw)
		return nil
	}
}

func durationSetter(dst *time.Duration) setter {
	return func(raw string) error {
		v, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not a duration such as 30s or 1m")
		}
		*dst = v
		return nil
	}
}

func levelSetter(dst *slog.Level) setter {
	return func(raw string) error {
		v, err := logging.ParseLevel(raw)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// key is one configuration key: its name in the file, its environment
// variable, where its value goes, and, for -h (Settings), its default
// and what it means.
type key struct {
	file, env string
	set       setter
	def       string // as the key would be set to it; "" none; "(...)" computed at start
	meaning   string
}

// fileValue looks a key up in a configuration file: the raw value, nil
// when the file does not set the key.
type fileValue func(name string) (*string, error)

// opener reads a configuration file: how to look a key up in it, and
// every key it sets (for checkFile).
type opener func(path string) (fileValue, []setting, error)

// load applies to keys, in the package's one order, the file at path as
// open reads it (a missing file is fine; a key in it that is none of keys
// and in no legacy section is refused), then env. It returns the file
// keys that env set, each with the variable that set it.
func load(path string, open opener, keys []key, legacy []string, env LookupEnv) (map[string]string, error) {
	lookup, inFile, err := open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("config %s: %w", path, err)
	default:
		if err := checkFile(inFile, keys, legacy); err != nil {
			return nil, err
		}
		for _, k := range keys {
			val, err := lookup(k.file)
			if err != nil {
				return nil, err
			}
			if val != nil {
				if err := set(k.file, *val, k.set); err != nil {
					return nil, err
				}
			}
		}
	}
	fromEnv := make(map[string]string)
	for _, k := range keys {
		if raw, ok := env(k.env); ok {
			if err := set(k.env, raw, k.set); err != nil {
				return nil, err
			}
			fromEnv[k.file] = k.env
		}
	}
	return fromEnv, nil
}

// set applies raw to key through s, naming the key on failure.
func set(key, raw string, s setter) error {
	if err := s(raw); err != nil {
		return &KeyError{Key: key, Value: raw, Err: err}
	}
	return nil
}

func check(key string, ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return &KeyError{Key: key, Value: fmt.Sprint(args[0]), Err: fmt.Errorf(format, args[1:]...)}
}

// firstError returns the first error that is not nil, so that a bad
// configuration is reported in one line.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
