package topics

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func admin(t *testing.T) *kadm.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestEnsureCreatesAndVerifies(t *testing.T) {
	ctx := context.Background()
	adm := admin(t)
	cfg := Config{Input: []string{"mta.logs"}, Partitions: 4}
	created, err := Ensure(ctx, adm, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 7 {
		t.Errorf("created %v, want 7 topics", created)
	}
	again, err := Ensure(ctx, adm, cfg, true)
	if err != nil || len(again) != 0 {
		t.Errorf("second Ensure created %v, %v; want nothing", again, err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "bounced.state", "bounced.suppressions")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
				t.Errorf("%s cleanup.policy = %v", rc.Name, c.Value)
			}
			if c.Key == "max.message.bytes" && (c.Value == nil || *c.Value != "1048576") {
				t.Errorf("%s max.message.bytes = %v, want kafka.max_message_bytes's default 1048576", rc.Name, c.Value)
			}
		}
	}
}

// Verify refuses a cluster that would break the guarantees, and says what
// is wrong with each topic.
func TestVerifyRefusesWrongTopics(t *testing.T) {
	ctx := context.Background()
	adm := admin(t)
	cfg := Config{Input: []string{"mta.logs"}, Partitions: 4, Replication: 3}
	// A state topic that is not compacted and not co-partitioned, attempts
	// that are compacted, and no input topic.
	del := "delete"
	compact := "compact"
	if _, err := adm.CreateTopic(ctx, 3, -1, map[string]*string{"cleanup.policy": &del}, "bounced.state"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 4, -1, map[string]*string{"cleanup.policy": &compact}, "bounced.attempts"); err != nil {
		t.Fatal(err)
	}
	small := "100000"
	if _, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"max.message.bytes": &small}, "bounced.dlq"); err != nil {
		t.Fatal(err)
	}
	err := Verify(ctx, adm, cfg)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("Verify = %v, want a topics.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"bounced.state: has 3 partitions, kafka.partitions says 4",
		`bounced.state: cleanup.policy is "delete", must be compact`,
		"bounced.attempts: cleanup.policy is compact",
		"mta.logs: missing",
		"bounced.suppressions: missing",
		"bounced.state: partition 0 has 1 replicas, kafka.replication_factor says 3",
		"bounced.dlq: max.message.bytes is 100000, below kafka.max_message_bytes (1048576)",
		"run `bounced topics`",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Partitions: -1}, "kafka.partitions"},
		{Config{Attempts: "bad topic"}, "kafka.attempts_topic"},
		{Config{Input: []string{"bounced.attempts"}}, "already used"},
		{Config{Replication: 99}, "kafka.replication_factor"},
		{Config{MaxMessageBytes: 1000}, "kafka.max_message_bytes"},
		{Config{MaxMessageBytes: 1 << 30}, "kafka.max_message_bytes"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}
