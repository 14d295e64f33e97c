// Package config composes every package's Config into bounced's one
// configuration and loads it with koanf: defaults < YAML file (--config) <
// BOUNCED_* environment < flags. It refuses unknown keys and invalid values
// at start, naming the key, so a typo never silently becomes a default.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/alerts"
	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/intake"
	"github.com/bounced-dev/bounced/processor"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/ingest/mail"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/topics"
)

// Kafka is the kafka.* section: how to connect, and the topology.
type Kafka struct {
	Conn   broker.Config
	Topics topics.Config
	// EmbeddedAddr is where the embedded broker listens when no brokers are
	// configured. Default 127.0.0.1:19092.
	EmbeddedAddr string `koanf:"embedded_addr"`
}

// Config is bounced's whole configuration.
type Config struct {
	Kafka      Kafka             `koanf:"-"`
	ClickHouse clickhouse.Config `koanf:"clickhouse"`
	Pipeline   processor.Config  `koanf:"pipeline"`
	Ingest     ingest.Config     `koanf:"ingest"`
	Policy     streak.Policy     `koanf:"policy"`
	// DataDir holds the embedded broker's log and other local state.
	// Default ".data/bounced" under the working directory.
	DataDir  string        `koanf:"data_dir"`
	HTTP     HTTP          `koanf:"http"`
	Classify Classify      `koanf:"classify"`
	Alerts   alerts.Config `koanf:"alerts"`
	Intake   intake.Config `koanf:"intake"`
	Log      Log           `koanf:"log"`
	// Warnings are problems that did not stop the load, such as BOUNCED_*
	// environment variables that name no setting; commands log them.
	Warnings []string `koanf:"-"`
}

// HTTP is the http.* section.
type HTTP struct {
	// Addr serves /metrics, /healthz, /readyz and /v1/suppressions. Empty
	// disables the server. Default 127.0.0.1:8080.
	Addr string `koanf:"addr"`
	// Pprof serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof/ on the same server. Default false: profiles reveal
	// internals and a CPU profile costs CPU while it runs.
	Pprof bool `koanf:"pprof"`
	// Token, when set, is the bearer token every endpoint but /healthz,
	// /readyz and /metrics requires (Authorization: Bearer TOKEN; the
	// dashboard page signs in once and keeps a cookie). At least 16
	// characters. Default empty: no authentication.
	Token string `koanf:"token"`
	// TokenFile is a file holding the token (its trimmed contents), read at
	// start, instead of Token; for secrets mounted as files.
	TokenFile string `koanf:"token_file"`
}

// minTokenLen keeps http.token out of guessing range.
const minTokenLen = 16

// BearerToken is the token the HTTP server requires: http.token, or the
// trimmed contents of http.token_file; empty when neither is set.
func (h HTTP) BearerToken() (string, error) {
	tok, key := h.Token, "http.token"
	if h.TokenFile != "" {
		if h.Token != "" {
			return "", errors.New("http.token, http.token_file: both set; use one")
		}
		b, err := os.ReadFile(h.TokenFile)
		if err != nil {
			return "", fmt.Errorf("http.token_file: %w", err)
		}
		tok, key = strings.TrimSpace(string(b)), "http.token_file"
		if tok == "" {
			return "", fmt.Errorf("http.token_file: %s is empty; want the token", h.TokenFile)
		}
	}
	if tok == "" {
		return "", nil
	}
	if len(tok) < minTokenLen {
		return "", fmt.Errorf("%s: the token is %d characters; use at least %d (e.g. openssl rand -hex 32)", key, len(tok), minTokenLen)
	}
	for _, r := range tok {
		if r <= ' ' || r > '~' {
			return "", fmt.Errorf("%s: the token has a space, control or non-ASCII character; use printable ASCII (e.g. openssl rand -hex 32)", key)
		}
	}
	return tok, nil
}

// LogValue implements slog.LogValuer so a logged HTTP never shows the token.
func (h HTTP) LogValue() slog.Value {
	tok := ""
	if h.Token != "" {
		tok = "REDACTED"
	}
	return slog.GroupValue(slog.String("addr", h.Addr), slog.Bool("pprof", h.Pprof),
		slog.String("token", tok), slog.String("token_file", h.TokenFile))
}

// Classify is the classify.* section.
type Classify struct {
	// RulesFile adds rules to the built-in ones and overrides them by id.
	RulesFile string `koanf:"rules_file"`
}

// Log is the log.* section.
type Log struct {
	Level  string `koanf:"level"`  // debug, info (default), warn, error
	Format string `koanf:"format"` // json (default) or text
}

// defaults are the values every key starts from; they also define the set
// of known keys.
func defaults() map[string]any {
	m := map[string]any{
		"kafka.brokers":                  []string{},
		"kafka.client_id":                "bounced",
		"kafka.tls.enabled":              false,
		"kafka.tls.ca_file":              "",
		"kafka.tls.cert_file":            "",
		"kafka.tls.key_file":             "",
		"kafka.tls.insecure_skip_verify": false,
		"kafka.sasl.mechanism":           "",
		"kafka.sasl.username":            "",
		"kafka.sasl.password":            "",
		"kafka.input_topics":             []string{"bounced.input"},
		"kafka.attempts_topic":           "bounced.attempts",
		"kafka.dlq_topic":                "bounced.dlq",
		"kafka.suppressions_topic":       "bounced.suppressions",
		"kafka.state_topic":              "bounced.state",
		"kafka.alerts_topic":             "bounced.alerts",
		"kafka.ingest_state_topic":       "bounced.ingest-state",
		"kafka.partitions":               topics.DefaultPartitions,
		"kafka.replication_factor":       -1,
		"kafka.max_message_bytes":        topics.DefaultMaxMessageBytes,
		"kafka.embedded_addr":            "127.0.0.1:19092",

		"clickhouse.addr":                     clickhouse.DefaultAddr,
		"clickhouse.database":                 clickhouse.DefaultDatabase,
		"clickhouse.username":                 clickhouse.DefaultUsername,
		"clickhouse.password":                 "",
		"clickhouse.tls":                      false,
		"clickhouse.tls_insecure_skip_verify": false,
		"clickhouse.tls_ca_file":              "",
		"clickhouse.tls_cert_file":            "",
		"clickhouse.tls_key_file":             "",
		"clickhouse.tls_server_name":          "",
		"clickhouse.dashboard_max_conns":      clickhouse.DefaultDashboardMaxConns,
		"clickhouse.dial_timeout":             clickhouse.DefaultDialTimeout.String(),
		"clickhouse.batch_size":               clickhouse.DefaultBatchSize,
		"clickhouse.max_conns":                clickhouse.DefaultMaxConns,
		"clickhouse.retention":                "400d",
		"clickhouse.insert_linger":            clickhouse.DefaultInsertLinger.String(),
		"clickhouse.compression":              clickhouse.CompressionAuto,
		"clickhouse.cluster":                  "",
		"clickhouse.replica_path":             clickhouse.DefaultReplicaPath,
		"clickhouse.insert_quorum":            0,

		"pipeline.stage":                "all",
		"pipeline.ingest_group":         "bounced-ingest",
		"pipeline.decide_group":         "bounced-decide",
		"pipeline.batch_size":           10000,
		"pipeline.flush_interval":       "1s",
		"pipeline.session_timeout":      "10s",
		"pipeline.drain_timeout":        "20s",
		"pipeline.checkpoint_interval":  "1m",
		"pipeline.attempts_encoding":    "binary",
		"pipeline.read_ahead_bytes":     2 << 20,
		"pipeline.batch_bytes":          4 << 20,
		"pipeline.guard.disabled":       false,
		"pipeline.guard.window":         "15m",
		"pipeline.guard.min_recipients": guard.DefaultMinRecipients,
		"pipeline.guard.share":          guard.DefaultShare,

		"ingest.max_record_bytes":      ingest.DefaultMaxRecordBytes,
		"ingest.validate_schema":       false,
		"ingest.zone":                  "UTC",
		"ingest.formats":               map[string]any{},
		"ingest.campaign":              map[string]any{},
		"ingest.postfix.ttl":           "168h",
		"ingest.postfix.max_entries":   1000000,
		"ingest.exim.time_zone":        "",
		"ingest.exim.state_ttl":        "168h",
		"ingest.exim.max_messages":     200000,
		"ingest.pmta.header":           []string{},
		"ingest.pmta.time_zone":        "",
		"ingest.pmta.campaign_column":  "jobId",
		"ingest.pmta.tenant_column":    "",
		"ingest.kumomta.campaign_meta": "",
		"ingest.kumomta.tenant_meta":   "",
		"ingest.esp.campaign_keys":     []string{"campaign", "campaign_id", "X-Campaign-ID"},
		"ingest.esp.tag_campaign":      "first",
		"ingest.mail.verp":             "",
		"ingest.mail.max_parts":        mail.DefaultMaxParts,
		"ingest.mail.max_depth":        mail.DefaultMaxDepth,
		"ingest.mail.max_recipients":   mail.DefaultMaxRecipients,
		"ingest.mail.max_header_bytes": mail.DefaultMaxHeaderBytes,
		"ingest.mail.max_headers":      mail.DefaultMaxHeaders,

		"policy.soft_threshold":   streak.DefaultSoftThreshold,
		"policy.soft_window":      "14d",
		"policy.duplicate_window": "7d",
		"policy.evidence":         streak.DefaultEvidence,
		"policy.labels":           map[string]any{},
		"policy.expire":           map[string]any{},

		"alerts.disabled":     false,
		"alerts.interval":     "1m",
		"alerts.window":       "24h",
		"alerts.block_window": "1h",
		"alerts.rules":        []any{},
		// alerts.webhook.url empty: no notifications.
		"alerts.webhook.url":         "",
		"alerts.webhook.secret_file": "",
		"alerts.webhook.timeout":     "10s",
		"alerts.webhook.queue":       256,
		"alerts.webhook.retries":     5,

		"data_dir":            filepath.Join(".data", "bounced"),
		"http.addr":           "127.0.0.1:8080",
		"http.pprof":          false,
		"http.token":          "",
		"http.token_file":     "",
		"classify.rules_file": "",
		"log.level":           "info",
		"log.format":          "json",
	}
	for k, v := range intake.Defaults() {
		m[k] = v
	}
	return m
}

// mapKeys are keys whose children are free-form.
var mapKeys = []string{"policy.labels", "policy.expire", "ingest.formats", "ingest.campaign"}

// FlagGroup selects shortcut flags for the keys a command reads, so that a
// command's help lists only what it uses.
type FlagGroup uint8

// The flag groups. --config, --set and --log.level come with every group.
const (
	FlagKafka      FlagGroup = 1 << iota // --kafka.brokers
	FlagInput                            // --kafka.input_topics
	FlagClickHouse                       // --clickhouse.addr, --clickhouse.database
	FlagDataDir                          // --data_dir
	FlagHTTP                             // --http.addr
	FlagPipeline                         // --pipeline.stage
	// FlagsAll is every shortcut flag.
	FlagsAll = FlagKafka | FlagInput | FlagClickHouse | FlagDataDir | FlagHTTP | FlagPipeline
)

// Flags registers on fs the configuration flags of the groups given (all
// of them when none is): each maps to the key of the same name, and
// --set key=value reaches any key.
func Flags(fs *pflag.FlagSet, groups ...FlagGroup) {
	g := FlagsAll
	if len(groups) > 0 {
		g = 0
		for _, x := range groups {
			g |= x
		}
	}
	fs.String("config", "", "YAML configuration file")
	if g&FlagKafka != 0 {
		fs.StringSlice("kafka.brokers", nil, "Kafka seed brokers host:port (empty: the embedded broker)")
	}
	if g&FlagInput != 0 {
		fs.StringSlice("kafka.input_topics", nil, "topics raw delivery-attempt records arrive on")
	}
	if g&FlagClickHouse != 0 {
		fs.String("clickhouse.addr", "", "ClickHouse native-protocol address host:port")
		fs.String("clickhouse.database", "", "ClickHouse database")
	}
	if g&FlagDataDir != 0 {
		fs.String("data_dir", "", "directory for the embedded broker's log and local state")
	}
	if g&FlagHTTP != 0 {
		fs.String("http.addr", "", "address of the HTTP server (metrics, health, suppressions API)")
	}
	if g&FlagPipeline != 0 {
		fs.String("pipeline.stage", "", "stages to run: all, ingest or decide")
	}
	fs.String("log.level", "", "debug, info, warn or error")
	fs.StringArray("set", nil, "set any configuration key: --set policy.soft_threshold=5 (repeatable)")
}

// Load reads the configuration. environ is os.Environ() in production.
func Load(fs *pflag.FlagSet, environ []string) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults(), "."), nil); err != nil {
		return nil, err
	}
	known := k.Keys()
	if path, _ := fs.GetString("config"); path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("--config %s: %w", path, err)
		}
		if err := checkKeys(k, known, "in "+path); err != nil {
			return nil, err
		}
	}
	var warnings []string
	envKeys := map[string]string{}
	for _, key := range known {
		envKeys["BOUNCED_"+strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))] = key
	}
	err := k.Load(env.Provider(".", env.Opt{
		Prefix:      "BOUNCED_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, ok := envKeys[name]
			if !ok {
				if m := mapKeyOfEnv(name); m != "" {
					return m, value
				}
				// Not an error: other tools (our own scripts among them)
				// use the BOUNCED_ prefix too. A typo still gets a warning.
				warnings = append(warnings, fmt.Sprintf("environment variable %s names no setting; ignored", name))
				return "", nil
			}
			if _, isSlice := k.Get(key).([]string); isSlice {
				return key, splitList(value)
			}
			if _, isSlice := k.Get(key).([]any); isSlice {
				return key, splitList(value)
			}
			return key, value
		},
	}), nil)
	if err != nil {
		return nil, err
	}
	err = k.Load(posflag.ProviderWithFlag(fs, ".", k, func(f *pflag.Flag) (string, any) {
		if !f.Changed || f.Name == "config" || f.Name == "set" {
			return "", nil
		}
		return f.Name, posflag.FlagVal(fs, f)
	}), nil)
	if err != nil {
		return nil, err
	}
	if sets, _ := fs.GetStringArray("set"); len(sets) > 0 {
		m := map[string]any{}
		for _, s := range sets {
			key, val, ok := strings.Cut(s, "=")
			if !ok {
				return nil, fmt.Errorf("--set %q: want key=value", s)
			}
			if !slices.Contains(known, key) && !underMap(key) {
				return nil, fmt.Errorf("--set %s: no such setting", key)
			}
			if _, isSlice := k.Get(key).([]string); isSlice {
				m[key] = splitList(val)
			} else {
				m[key] = val
			}
		}
		if err := k.Load(confmap.Provider(m, "."), nil); err != nil {
			return nil, err
		}
	}
	c, err := decode(k)
	if err != nil {
		return nil, err
	}
	c.Warnings = warnings
	return c, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func underMap(key string) bool {
	for _, m := range mapKeys {
		if strings.HasPrefix(key, m+".") {
			return true
		}
	}
	return false
}

// mapKeyOfEnv maps BOUNCED_POLICY_LABELS_GREYLISTED to policy.labels.greylisted.
func mapKeyOfEnv(name string) string {
	for _, m := range mapKeys {
		prefix := "BOUNCED_" + strings.ToUpper(strings.ReplaceAll(m, ".", "_")) + "_"
		if strings.HasPrefix(name, prefix) && len(name) > len(prefix) {
			return m + "." + strings.ToLower(name[len(prefix):])
		}
	}
	return ""
}

func checkKeys(k *koanf.Koanf, known []string, where string) error {
	var errs []error
	for _, key := range k.Keys() {
		if !slices.Contains(known, key) && !underMap(key) {
			errs = append(errs, fmt.Errorf("%s: unknown setting %q", where, key))
		}
	}
	return errors.Join(errs...)
}

func decode(k *koanf.Koanf) (*Config, error) {
	var c Config
	dec := func(path string, out any) error {
		return k.UnmarshalWithConf(path, out, koanf.UnmarshalConf{
			Tag: "koanf",
			DecoderConfig: &mapstructure.DecoderConfig{
				DecodeHook: mapstructure.ComposeDecodeHookFunc(
					durationHook, mapstructure.StringToSliceHookFunc(","), mapstructure.TextUnmarshallerHookFunc()),
				WeaklyTypedInput: true,
				Result:           out,
				TagName:          "koanf",
			},
		})
	}
	for _, part := range []struct {
		path string
		out  any
	}{
		{"kafka", &c.Kafka.Conn}, {"kafka", &c.Kafka.Topics}, {"kafka", &c.Kafka},
		{"", &c},
	} {
		if err := dec(part.path, part.out); err != nil {
			return nil, explain(err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// durationHook accepts Go durations and whole days ("14d"), the unit mail
// teams think of windows in.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) || from.Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (use e.g. 14d, 36h, 90s)", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration (use e.g. 14d, 36h, 90s)", s)
	}
	return v, nil
}

// explain turns mapstructure's "'SoftWindow' expected ..." into a message
// that names the key the user wrote.
func explain(err error) error {
	return fmt.Errorf("configuration: %w", err)
}

// Validate checks every section; errors name the keys.
func (c *Config) Validate() error {
	errs := []error{
		c.Kafka.Conn.Validate(),
		c.Kafka.Topics.Validate(),
		c.ClickHouse.Validate(),
		c.Pipeline.Validate(),
		c.Ingest.Validate(),
		c.Policy.Validate(),
		c.Alerts.Validate(),
		c.Intake.Validate(),
	}
	if c.Intake.Enabled && c.HTTP.Addr == "" {
		errs = append(errs, errors.New("intake.enabled: the webhook endpoints are served on http.addr, which is empty; set http.addr"))
	}
	if _, err := c.HTTP.BearerToken(); err != nil {
		errs = append(errs, err)
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not json or text", c.Log.Format))
	}
	return errors.Join(errs...)
}

// Logger builds the slog logger the configuration asks for.
func (c *Config) Logger(w *os.File) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: lv}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
