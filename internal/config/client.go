package config

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Client is an agency's configuration.
type Client struct {
	ID            int           // id, CLI_ID: 1..lottery.MaxAgencies
	ServerAddress string        // server.address, CLI_SERVER_ADDRESS: host:port, or several comma-separated (Addresses)
	ServerTimeout time.Duration // server.timeout, CLI_SERVER_TIMEOUT: longest wait for an answer
	LogLevel      slog.Level    // log.level, CLI_LOG_LEVEL
	LogZone       string        // log.timezone, CLI_LOG_TIMEZONE: the log lines' zone (see zoneSetter)
	BatchMax      int           // batch.maxAmount, CLI_BATCH_MAXAMOUNT
	DataFile      string        // data.file, CLI_DATA_FILE
	RetryTimeout  time.Duration // retry.timeout, CLI_RETRY_TIMEOUT
	// WinnersFile, winners.file, CLI_WINNERS_FILE: where the agency
	// writes its winners' documents, one per line; empty: nowhere.
	WinnersFile string
	// Mutual TLS: all three or none (plaintext).
	TLSCA   string // tls.ca, CLI_TLS_CA: the lottery CA that signs the central's certificate
	TLSCert string // tls.cert, CLI_TLS_CERT: the agency's certificate
	TLSKey  string // tls.key, CLI_TLS_KEY: its private key
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

// legacyClientSections are the course's sections of config.yaml that
// no key reads: loop (loop.amount, loop.period of its echo loop), whose
// keys of any shape are accepted and ignored.
var legacyClientSections = []string{"loop"}

// keys lists the keys in the order they are applied, each with its name
// in config.yaml, its environment variable, its default as -h shows it
// and what it means: the one table the loader, CheckEnviron and -h
// (Settings) read. The legacy keys (legacyClientSections) are not
// listed: they are accepted and ignored.
func (c *Client) keys() []key {
	return []key{
		{"id", "CLI_ID", intSetter(&c.ID), "(required)", "the agency number, 1..65535"},
		{"server.address", "CLI_SERVER_ADDRESS", stringSetter(&c.ServerAddress), "server:12345",
			"the central's host:port, or its replicas comma-separated; server:12345 is the Compose name"},
		{"server.timeout", "CLI_SERVER_TIMEOUT", durationSetter(&c.ServerTimeout), "15s", "longest wait for an answer of the central"},
		{"log.level", "CLI_LOG_LEVEL", levelSetter(&c.LogLevel), "INFO", "DEBUG, INFO, WARNING or ERROR"},
		{"log.timezone", "CLI_LOG_TIMEZONE", zoneSetter(&c.LogZone), "(the machine's zone)", "the zone of the log lines' times: an IANA name (America/Argentina/Buenos_Aires), UTC, or Local"},
		{"batch.maxAmount", "CLI_BATCH_MAXAMOUNT", intSetter(&c.BatchMax), "200", "bets per batch"},
		{"data.file", "CLI_DATA_FILE", stringSetter(&c.DataFile), "(.data/agency-{id}.csv)",
			"the agency's bets, first_name,last_name,document,birthdate,number; relative to the working directory"},
		{"retry.timeout", "CLI_RETRY_TIMEOUT", durationSetter(&c.RetryTimeout), "60s", "how long to keep reconnecting without hearing from the central"},
		{"winners.file", "CLI_WINNERS_FILE", stringSetter(&c.WinnersFile), "", "write the winners' documents there, one per line; empty, nowhere"},
		{"tls.ca", "CLI_TLS_CA", stringSetter(&c.TLSCA), "", "the lottery CA that signs the central's certificate, for mutual TLS with tls.cert and tls.key; empty, plaintext"},
		{"tls.cert", "CLI_TLS_CERT", stringSetter(&c.TLSCert), "", "the agency's certificate (PEM)"},
		{"tls.key", "CLI_TLS_KEY", stringSetter(&c.TLSKey), "", "the agency's private key (PEM)"},
	}
}

// LoadClient reads an agency's configuration: defaults, then the YAML file
// at path (a missing file is fine), then env, then Validate. Errors name
// the key as the operator set it: the YAML key, or the environment
// variable that overrode it.
func LoadClient(path string, env LookupEnv) (Client, error) {
	c := DefaultClient()
	fromEnv, err := load(path, openYAML, c.keys(), legacyClientSections, env)
	if err != nil {
		return c, err
	}
	if c.DataFile == "" {
		c.DataFile = ".data/agency-" + strconv.Itoa(c.ID) + ".csv"
	}
	err = c.Validate()
	if ke := (*KeyError)(nil); errors.As(err, &ke) && fromEnv[ke.Key] != "" {
		ke.Key = fromEnv[ke.Key]
	}
	return c, err
}

// openYAML reads the YAML file at path; its keys are dotted paths
// (yamlScalar). A syntax error is told in one line.
func openYAML(path string) (fileValue, []setting, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, errors.New(oneLine(err.Error()))
	}
	return func(name string) (*string, error) { return yamlScalar(&doc, name) }, yamlSettings(&doc), nil
}

// yamlScalar finds the value at a dotted path of doc: nil when it is not
// there, a *KeyError when it is there but is not a single value.
func yamlScalar(doc *yaml.Node, path string) (*string, error) {
	node := doc
	if node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	if node.Kind == 0 || node.Kind == yaml.DocumentNode {
		return nil, nil // an empty file
	}
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if node.Kind != yaml.MappingNode {
			key := strings.Join(parts[:i], ".")
			if key == "" {
				key = "config.yaml"
			}
			return nil, &KeyError{Key: key, Value: oneLine(node.Value), Err: errors.New("want a section of keys")}
		}
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == part {
				next = node.Content[j+1]
			}
		}
		if next == nil {
			return nil, nil
		}
		node = next
	}
	if node.Kind != yaml.ScalarNode {
		return nil, &KeyError{Key: path, Value: "", Err: errors.New("want a single value")}
	}
	return &node.Value, nil
}

// oneLine folds a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Addresses returns the central's addresses of server.address: its
// comma-separated entries, spaces around each trimmed, in order. A
// central with replicas has several; the agency fails over between them.
func (c Client) Addresses() []string {
	entries := strings.Split(c.ServerAddress, ",")
	for i, e := range entries {
		entries[i] = strings.TrimSpace(e)
	}
	return entries
}

// Validate checks every value, naming the first key that is wrong.
func (c Client) Validate() error {
	return firstError(
		// The agency cannot know AGENCIES_AMOUNT (only the central reads
		// it, and it is not on the wire): it refuses what no central
		// takes, and the central refuses the rest (bad_agency).
		check("id", c.ID >= 1 && c.ID <= lottery.MaxAgencies, "want an agency number in 1..%d", c.ID, lottery.MaxAgencies),
		c.validateAddresses(),
		check("server.timeout", c.ServerTimeout > 0, "want a positive duration", c.ServerTimeout),
		check("batch.maxAmount", c.BatchMax >= 1, "want at least 1", c.BatchMax),
		check("data.file", c.DataFile != "", "want a file path", c.DataFile),
		check("retry.timeout", c.RetryTimeout > 0, "want a positive duration", c.RetryTimeout),
		check("tls.ca", (c.TLSCA == "") == (c.TLSCert == "") && (c.TLSCA == "") == (c.TLSKey == ""),
			"want tls.ca, tls.cert and tls.key all set (mutual TLS) or none (plaintext)", c.TLSCA),
	)
}

// validateAddresses checks each entry of server.address, naming the first
// bad one: a single address is told as before ("want host:port").
func (c Client) validateAddresses() error {
	entries := c.Addresses()
	for i, entry := range entries {
		host, port, err := net.SplitHostPort(entry)
		p, perr := strconv.Atoi(port)
		if err != nil {
			perr = err
		}
		ok := host != "" && perr == nil && p >= 1 && p <= 65535
		switch {
		case len(entries) == 1:
			if err := check("server.address", ok, "want host:port", c.ServerAddress); err != nil {
				return err
			}
		case entry == "":
			return check("server.address", false, "entry %d of %d is empty: want host:port entries, comma-separated", c.ServerAddress, i+1, len(entries))
		case !ok:
			return check("server.address", false, "entry %d of %d, %q: want host:port entries, comma-separated", c.ServerAddress, i+1, len(entries), entry)
		}
	}
	return nil
}

// TLS reports whether the agency speaks mutual TLS.
func (c Client) TLS() bool { return c.TLSCA != "" }

// LogAttrs returns the configuration as log attributes.
func (c Client) LogAttrs() []any {
	return []any{
		"id", c.ID, "server_address", c.ServerAddress, "server_timeout", c.ServerTimeout,
		"log_level", logging.LevelName(c.LogLevel), "log_timezone", ZoneName(c.Zone(), time.Now()), "batch_max_amount", c.BatchMax,
		"data_file", c.DataFile, "retry_timeout", c.RetryTimeout, "winners_file", c.WinnersFile,
		"tls_cert", c.TLSCert,
	}
}
