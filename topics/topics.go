// Package topics declares bounced's Kafka topology as data (names,
// partitions, cleanup policies) and creates or verifies it with kadm, so a
// wrong cluster is refused at start with a message that says what to fix
// instead of failing later in the middle of a stream.
package topics

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config names the topics and sizes the ones bounced owns.
type Config struct {
	// Input are the topics raw delivery-attempt records arrive on.
	// Default ["bounced.input"].
	Input []string `koanf:"input_topics"`
	// Attempts, DLQ, Suppressions, State and Alerts name bounced's own topics.
	Attempts     string `koanf:"attempts_topic"`
	DLQ          string `koanf:"dlq_topic"`
	Suppressions string `koanf:"suppressions_topic"`
	State        string `koanf:"state_topic"`
	Alerts       string `koanf:"alerts_topic"`
	// IngestState keeps stage 1's adapter state (correlation by queue id,
	// arrivals, PowerMTA headers) per input partition, so that it follows
	// the partition to whichever member reads it next. Compacted.
	IngestState string `koanf:"ingest_state_topic"`
	// Partitions of the attempts and state topics: the bound on stage 2's
	// parallelism. Changing it later moves recipients between partitions and
	// needs a state migration. Default 6.
	Partitions int `koanf:"partitions"`
	// Replication of the topics bounced creates; -1 takes the broker's
	// default. Default -1.
	Replication int `koanf:"replication_factor"`
	// MaxMessageBytes is the largest record bounced writes. The topics it
	// creates get it as max.message.bytes and Verify refuses owned topics
	// whose limit is lower; a record that would not fit (an attempt that
	// grew past it) goes to the DLQ instead of being retried for ever.
	// Default 1 MiB, Kafka's own default.
	MaxMessageBytes int `koanf:"max_message_bytes"`
}

// Defaults and bounds of Config.
const (
	DefaultPartitions = 6

	DefaultMaxMessageBytes = 1 << 20
	// MinMaxMessageBytes leaves room for a dead-letter record (DLQMaxBytes
	// of the original plus its headers).
	MinMaxMessageBytes = 2 * DLQMaxBytes
	MaxMaxMessageBytes = 64 << 20
)

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if len(c.Input) == 0 {
		c.Input = []string{"bounced.input"}
	}
	set := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	set(&c.Attempts, "bounced.attempts")
	set(&c.DLQ, "bounced.dlq")
	set(&c.Suppressions, "bounced.suppressions")
	set(&c.State, "bounced.state")
	set(&c.Alerts, "bounced.alerts")
	set(&c.IngestState, "bounced.ingest-state")
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Replication == 0 {
		c.Replication = -1
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return c
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Partitions < 1 || c.Partitions > 10000 {
		return fmt.Errorf("kafka.partitions: %d is outside 1..10000", c.Partitions)
	}
	if c.Replication < -1 || c.Replication > 32 {
		return fmt.Errorf("kafka.replication_factor: %d is outside 1..32 (or -1 for the broker default)", c.Replication)
	}
	if c.MaxMessageBytes < MinMaxMessageBytes || c.MaxMessageBytes > MaxMaxMessageBytes {
		return fmt.Errorf("kafka.max_message_bytes: %d is outside %d..%d", c.MaxMessageBytes, MinMaxMessageBytes, MaxMaxMessageBytes)
	}
	seen := map[string]string{}
	check := func(key, name string) error {
		if err := validName(name); err != nil {
			return fmt.Errorf("kafka.%s: %w", key, err)
		}
		if other, dup := seen[name]; dup {
			return fmt.Errorf("kafka.%s: %q is already used by kafka.%s", key, name, other)
		}
		seen[name] = key
		return nil
	}
	for _, t := range c.Input {
		if err := check("input_topics", t); err != nil {
			return err
		}
	}
	for _, kv := range [][2]string{{"attempts_topic", c.Attempts}, {"dlq_topic", c.DLQ},
		{"suppressions_topic", c.Suppressions}, {"state_topic", c.State}, {"alerts_topic", c.Alerts},
		{"ingest_state_topic", c.IngestState}} {
		if err := check(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

func validName(n string) error {
	if n == "" || len(n) > 249 || n == "." || n == ".." {
		return fmt.Errorf("topic name %q must be 1..249 characters", n)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q may only hold letters, digits, '.', '_' and '-'", n)
		}
	}
	return nil
}

// Spec is one topic as bounced needs it.
type Spec struct {
	Name       string
	Partitions int // 0: any count is fine (input topics are the shipper's)
	Configs    map[string]string
	Owned      bool // bounced creates it; false for input topics that must exist
	Purpose    string
}

func ptr(s string) *string { return &s }

// Specs lists the topology.
func (c Config) Specs() []Spec {
	c = c.WithDefaults()
	maxBytes := strconv.Itoa(c.MaxMessageBytes)
	cfg := func(policy string) map[string]string {
		return map[string]string{"cleanup.policy": policy, "max.message.bytes": maxBytes}
	}
	specs := []Spec{
		{Name: c.Attempts, Partitions: c.Partitions, Owned: true, Purpose: "classified attempts keyed by recipient (stage 1 → stage 2)",
			Configs: cfg("delete")},
		{Name: c.State, Partitions: c.Partitions, Owned: true, Configs: cfg("compact"), Purpose: "per-recipient state changelog, co-partitioned with attempts"},
		{Name: c.Suppressions, Owned: true, Configs: cfg("compact"), Purpose: "the suppression list, keyed by address"},
		{Name: c.DLQ, Owned: true, Configs: cfg("delete"), Purpose: "records bounced could not process, with the reason"},
		{Name: c.Alerts, Owned: true, Configs: cfg("delete"), Purpose: "rate alerts and incidents"},
		{Name: c.IngestState, Owned: true, Configs: cfg("compact"), Purpose: "stage 1's adapter state per input partition"},
	}
	for _, t := range c.Input {
		specs = append(specs, Spec{Name: t, Purpose: "raw delivery-attempt records from shippers"})
	}
	return specs
}

// Problem is one way the cluster differs from the topology.
type Problem struct {
	Topic string
	What  string
}

func (p Problem) String() string { return p.Topic + ": " + p.What }

// Error lists every problem Verify found.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kafka topics do not match what bounced needs (run `bounced topics` to create them):")
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p.String())
	}
	return b.String()
}

// Verify checks every topic: it exists, owned topics have the configured
// partition count, compacted ones are compacted, and the state changelog is
// co-partitioned with attempts (the replay guard depends on it).
func Verify(ctx context.Context, adm *kadm.Client, c Config) error {
	c = c.WithDefaults()
	specs := c.Specs()
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var probs []Problem
	present := make([]string, 0, len(specs))
	for _, s := range specs {
		d, ok := details[s.Name]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			what := "missing"
			if !s.Owned {
				what = "missing (input topic: create it, or let `bounced topics` create it)"
			}
			probs = append(probs, Problem{s.Name, what})
			continue
		}
		if d.Err != nil {
			probs = append(probs, Problem{s.Name, d.Err.Error()})
			continue
		}
		present = append(present, s.Name)
		if s.Partitions > 0 && len(d.Partitions) != s.Partitions {
			probs = append(probs, Problem{s.Name, fmt.Sprintf("has %d partitions, kafka.partitions says %d", len(d.Partitions), s.Partitions)})
		}
		if s.Owned && c.Replication > 0 {
			ids := make([]int32, 0, len(d.Partitions))
			for id := range d.Partitions {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				if p := d.Partitions[id]; len(p.Replicas) < c.Replication {
					probs = append(probs, Problem{s.Name, fmt.Sprintf("partition %d has %d replicas, kafka.replication_factor says %d", p.Partition, len(p.Replicas), c.Replication)})
					break
				}
			}
		}
	}
	if len(present) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, present...)
		if err != nil {
			return fmt.Errorf("describe topic configs: %w", err)
		}
		for _, s := range specs {
			want, ok := s.Configs["cleanup.policy"]
			if !ok || !slices.Contains(present, s.Name) {
				continue
			}
			rc, err := rcs.On(s.Name, nil)
			if err != nil {
				probs = append(probs, Problem{s.Name, "configs: " + err.Error()})
				continue
			}
			got, limit := "delete", -1
			for _, cfg := range rc.Configs {
				switch {
				case cfg.Value == nil:
				case cfg.Key == "cleanup.policy":
					got = *cfg.Value
				case cfg.Key == "max.message.bytes":
					limit, _ = strconv.Atoi(*cfg.Value)
				}
			}
			if s.Owned && limit >= 0 && limit < c.MaxMessageBytes {
				probs = append(probs, Problem{s.Name, fmt.Sprintf("max.message.bytes is %d, below kafka.max_message_bytes (%d): raise the topic's limit (kafka-configs --alter --add-config max.message.bytes=%d) or lower kafka.max_message_bytes", limit, c.MaxMessageBytes, c.MaxMessageBytes)})
			}
			if want == "compact" && !strings.Contains(got, "compact") {
				probs = append(probs, Problem{s.Name, fmt.Sprintf("cleanup.policy is %q, must be compact", got)})
			}
			if want == "delete" && s.Name == c.Attempts && strings.Contains(got, "compact") {
				probs = append(probs, Problem{s.Name, "cleanup.policy is compact: compaction would drop attempts before they are processed"})
			}
		}
	}
	if len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}

// Ensure creates what is missing (owned topics, and input topics too when
// createInput is set) and then verifies the whole topology. Existing topics
// are never altered: a wrong partition count is reported, not "fixed".
func Ensure(ctx context.Context, adm *kadm.Client, c Config, createInput bool) ([]string, error) {
	c = c.WithDefaults()
	var created []string
	for _, s := range c.Specs() {
		if !s.Owned && !createInput {
			continue
		}
		parts := int32(s.Partitions)
		if parts == 0 {
			parts = int32(c.Partitions)
		}
		cfgs := map[string]*string{}
		for k, v := range s.Configs {
			cfgs[k] = ptr(v)
		}
		resp, err := adm.CreateTopic(ctx, parts, int16(c.Replication), cfgs, s.Name)
		switch {
		case err == nil && resp.Err == nil:
			created = append(created, s.Name)
		case errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists):
		case err != nil:
			return created, fmt.Errorf("create topic %s: %w", s.Name, err)
		default:
			return created, fmt.Errorf("create topic %s: %w (%s)", s.Name, resp.Err, resp.ErrMessage)
		}
	}
	return created, Verify(ctx, adm, c)
}

// Incarnation identifies the current life of topic: the first 8 hex digits
// of Kafka's topic id (brokers since 2.8 give every topic one), "" when the
// cluster has none. A topic deleted and created again under the same name
// gets a new one, and its offsets begin again. It asks a broker directly:
// a client's cached metadata can still describe the topic's previous life.
func Incarnation(ctx context.Context, cl kmsg.Requestor, topic string) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return "", fmt.Errorf("metadata of %s: %w", topic, err)
		}
		if t.TopicID == [16]byte{} {
			return "", nil
		}
		return hex.EncodeToString(t.TopicID[:4]), nil
	}
	return "", fmt.Errorf("metadata of %s: topic missing from the answer", topic)
}
