package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/processor/streak"
)

func load(t *testing.T, args []string, environ []string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs, environ)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Conn.Brokers) != 0 || !c.Kafka.Conn.Embedded() {
		t.Errorf("brokers = %v, want none (embedded)", c.Kafka.Conn.Brokers)
	}
	if got := c.Kafka.Topics.Input; len(got) != 1 || got[0] != "bounced.input" {
		t.Errorf("input topics = %v", got)
	}
	if c.Policy.SoftThreshold != 3 || c.Policy.SoftWindow != 14*24*time.Hour {
		t.Errorf("policy = %+v", c.Policy)
	}
	if c.ClickHouse.Addr != "127.0.0.1:19000" || c.ClickHouse.Database != "bounced" || c.HTTP.Addr != "127.0.0.1:8080" {
		t.Errorf("clickhouse %+v http %+v", c.ClickHouse, c.HTTP)
	}
	if c.Pipeline.FlushInterval != time.Second || c.Kafka.Topics.Partitions != 6 {
		t.Errorf("pipeline %+v partitions %d", c.Pipeline, c.Kafka.Topics.Partitions)
	}
}

// Each layer overrides the one before: defaults < file < environment < flags.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bounced.yaml")
	yaml := `
kafka:
  brokers: [file:9092]
  input_topics: [mta.logs, esp.webhooks]
clickhouse:
  addr: file:9000
  database: from_file
policy:
  soft_threshold: 4
  soft_window: 7d
  labels:
    greylisted: streak
data_dir: /from/file
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"BOUNCED_CLICKHOUSE_ADDR=env:9000", "BOUNCED_KAFKA_BROKERS=env1:9092, env2:9092", "BOUNCED_POLICY_SOFT_THRESHOLD=5", "HOME=/root"}
	c, err := load(t, []string{"--config", file, "--clickhouse.addr", "flag:9000", "--set", "pipeline.batch_size=77"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClickHouse.Addr != "flag:9000" {
		t.Errorf("clickhouse.addr = %q, want the flag's", c.ClickHouse.Addr)
	}
	if got := c.Kafka.Conn.Brokers; len(got) != 2 || got[1] != "env2:9092" {
		t.Errorf("kafka.brokers = %q, want the environment's list", got)
	}
	if c.ClickHouse.Database != "from_file" || c.DataDir != "/from/file" {
		t.Errorf("file values lost: %q %q", c.ClickHouse.Database, c.DataDir)
	}
	if got := c.Kafka.Topics.Input; len(got) != 2 || got[0] != "mta.logs" {
		t.Errorf("input topics = %v", got)
	}
	if c.Policy.SoftThreshold != 5 || c.Policy.SoftWindow != 7*24*time.Hour || c.Policy.Labels["greylisted"] != streak.Count {
		t.Errorf("policy = %+v", c.Policy)
	}
	if c.Pipeline.BatchSize != 77 {
		t.Errorf("--set pipeline.batch_size: %d", c.Pipeline.BatchSize)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("clickhouse:\n  adress: x:1\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"--set", "policy.soft_threshold=-2"}, want: "policy.soft_threshold"},
		{args: []string{"--set", "policy.soft_window=soon"}, want: "not a duration"},
		{args: []string{"--set", "policy.labels.nonsense=streak"}, want: "policy.labels.nonsense"},
		{args: []string{"--kafka.brokers", "no-port"}, want: "kafka.brokers"},
		{args: []string{"--clickhouse.addr", "x"}, want: "clickhouse.addr"},
		{args: []string{"--pipeline.stage", "both"}, want: "pipeline.stage"},
		{args: []string{"--set", "pipeline.attempts_encoding=avro"}, want: "pipeline.attempts_encoding"},
		{args: []string{"--set", "nosuch.key=1"}, want: "nosuch.key"},
		{args: []string{"--config", bad}, want: `unknown setting "clickhouse.adress"`},
		{args: []string{"--config", filepath.Join(dir, "missing.yaml")}, want: "--config"},
		{env: []string{"BOUNCED_KAFKA_SASL_MECHANISM=GSSAPI", "BOUNCED_KAFKA_BROKERS=k:9092"}, want: "kafka.sasl.mechanism"},
		{env: []string{"BOUNCED_KAFKA_PARTITIONS=0x"}, want: "configuration"},
	} {
		_, err := load(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestUnknownEnvironmentIsAWarning(t *testing.T) {
	c, err := load(t, nil, []string{"BOUNCED_CH_DIR=/tmp/x", "BOUNCED_CLICKHOUSE_ADRESS=x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 || !strings.Contains(strings.Join(c.Warnings, " "), "BOUNCED_CLICKHOUSE_ADRESS") {
		t.Errorf("warnings = %v", c.Warnings)
	}
}
