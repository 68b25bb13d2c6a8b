package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// Client is an agency's configuration.
type Client struct {
	ID            int           // id, CLI_ID
	ServerAddress string        // server.address, CLI_SERVER_ADDRESS
	ServerTimeout time.Duration // server.timeout, CLI_SERVER_TIMEOUT: longest wait for an answer
	LogLevel      slog.Level    // log.level, CLI_LOG_LEVEL
	BatchMax      int           // batch.maxAmount, CLI_BATCH_MAXAMOUNT
	DataFile      string        // data.file, CLI_DATA_FILE
	RetryTimeout  time.Duration // retry.timeout, CLI_RETRY_TIMEOUT
}

// DefaultClient returns an agency's defaults. DataFile is derived from the
// id when neither the file nor the environment sets it.
func DefaultClient() Client {
	return Client{
		ServerAddress: "server:12345",
		ServerTimeout: 15 * time.Second,
		LogLevel:      slog.LevelInfo,
		BatchMax:      200,
		RetryTimeout:  60 * time.Second,
	}
}

// clientFile is the shape of config.yaml. Values are read as text so that
// a bad one is reported with its key, as an environment variable would be.
type clientFile struct {
	ID     *string `yaml:"id"`
	Server struct {
		Address *string `yaml:"address"`
		Timeout *string `yaml:"timeout"`
	} `yaml:"server"`
	Log struct {
		Level *string `yaml:"level"`
	} `yaml:"log"`
	Batch struct {
		MaxAmount *string `yaml:"maxAmount"`
	} `yaml:"batch"`
	Data struct {
		File *string `yaml:"file"`
	} `yaml:"data"`
	Retry struct {
		Timeout *string `yaml:"timeout"`
	} `yaml:"retry"`
	// Loop holds the legacy keys loop.amount and loop.period, accepted
	// and ignored.
	Loop yaml.Node `yaml:"loop"`
}

func (c *Client) keys() []keySetter {
	return []keySetter{
		{"CLI_ID", intSetter(&c.ID)},
		{"CLI_SERVER_ADDRESS", stringSetter(&c.ServerAddress)},
		{"CLI_SERVER_TIMEOUT", durationSetter(&c.ServerTimeout)},
		{"CLI_LOG_LEVEL", levelSetter(&c.LogLevel)},
		{"CLI_BATCH_MAXAMOUNT", intSetter(&c.BatchMax)},
		{"CLI_DATA_FILE", stringSetter(&c.DataFile)},
		{"CLI_RETRY_TIMEOUT", durationSetter(&c.RetryTimeout)},
	}
}

// LoadClient reads an agency's configuration: defaults, then the YAML file
// at path (a missing file is fine), then env, then Validate.
func LoadClient(path string, env LookupEnv) (Client, error) {
	c := DefaultClient()
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("config %s: %w", path, err)
	default:
		var f clientFile
		if err := yaml.Unmarshal(raw, &f); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		fileKeys := []struct {
			key string
			val *string
			set setter
		}{
			{"id", f.ID, intSetter(&c.ID)},
			{"server.address", f.Server.Address, stringSetter(&c.ServerAddress)},
			{"server.timeout", f.Server.Timeout, durationSetter(&c.ServerTimeout)},
			{"log.level", f.Log.Level, levelSetter(&c.LogLevel)},
			{"batch.maxAmount", f.Batch.MaxAmount, intSetter(&c.BatchMax)},
			{"data.file", f.Data.File, stringSetter(&c.DataFile)},
			{"retry.timeout", f.Retry.Timeout, durationSetter(&c.RetryTimeout)},
		}
		for _, k := range fileKeys {
			if k.val != nil {
				if err := set(k.key, *k.val, k.set); err != nil {
					return c, err
				}
			}
		}
	}
	if err := applyEnv(env, c.keys()); err != nil {
		return c, err
	}
	if c.DataFile == "" {
		c.DataFile = ".data/agency-" + strconv.Itoa(c.ID) + ".csv"
	}
	return c, c.Validate()
}

// Validate checks every value, naming the first key that is wrong.
func (c Client) Validate() error {
	host, port, err := net.SplitHostPort(c.ServerAddress)
	p, perr := strconv.Atoi(port)
	if err != nil {
		perr = err
	}
	return firstError(
		check("id", c.ID >= 1, "want a positive agency number", c.ID),
		check("server.address", host != "" && perr == nil && p >= 1 && p <= 65535, "want host:port", c.ServerAddress),
		check("server.timeout", c.ServerTimeout > 0, "want a positive duration", c.ServerTimeout),
		check("batch.maxAmount", c.BatchMax >= 1, "want at least 1", c.BatchMax),
		check("data.file", c.DataFile != "", "want a file path", c.DataFile),
		check("retry.timeout", c.RetryTimeout > 0, "want a positive duration", c.RetryTimeout),
	)
}

// LogAttrs returns the configuration as log attributes.
func (c Client) LogAttrs() []any {
	return []any{
		"id", c.ID, "server_address", c.ServerAddress, "server_timeout", c.ServerTimeout,
		"log_level", logging.LevelName(c.LogLevel), "batch_max_amount", c.BatchMax,
		"data_file", c.DataFile, "retry_timeout", c.RetryTimeout,
	}
}
