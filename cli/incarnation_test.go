package cli

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/internal/netcut"
)

// TestEvictPrevious: a member killed while it owns partitions stays in the
// group until its session times out; the next run of the same member (same
// host and data directory, so the same client id) removes it at once, and
// a new member gets every partition without waiting.
func TestEvictPrevious(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testConfig(t, t.TempDir(), "", "")
	id := memberClientID(cfg)
	if id2 := memberClientID(cfg); id2 != id {
		t.Fatalf("client id not stable: %s, %s", id, id2)
	}
	other := testConfig(t, t.TempDir(), "", "")
	if memberClientID(other) == id {
		t.Fatal("two data directories share a client id")
	}
	e, err := newEnv(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if _, err := e.adm.CreateTopic(ctx, 4, 1, nil, "evict.t"); err != nil {
		t.Fatal(err)
	}
	group := func(d *kafka.Dialer) *kafka.ConsumerGroup {
		g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID: "evict", Brokers: e.conn.Brokers, Dialer: d, Topics: []string{"evict.t"},
			SessionTimeout: 30 * time.Second, RebalanceTimeout: 30 * time.Second, Timeout: 5 * time.Second,
			JoinGroupBackoff: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	dead := &netcut.Net{}
	g1 := group(&kafka.Dialer{ClientID: id, DialFunc: dead.Dial, Timeout: 5 * time.Second})
	if _, err := g1.Next(ctx); err != nil {
		t.Fatal(err)
	}
	dead.Set(true)

	if err := e.evictPrevious(ctx, id, "evict"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	g2 := group(&kafka.Dialer{ClientID: id, Timeout: 5 * time.Second})
	gen, err := g2.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(gen.Assignments["evict.t"]); n != 4 {
		t.Fatalf("the new run got %d of 4 partitions", n)
	}
	// Without the eviction the coordinator would wait for the dead
	// member's 30 s session.
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("the new run waited %s for the group", took)
	}
}
